package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// loadTestConfig is a short closed-loop run against base.
func loadTestConfig(base, secret string) loadConfig {
	return loadConfig{
		BaseURL: base, OpsURL: base, ClientID: demo.ClientID, ClientSecret: secret,
		Concurrency: 2, Duration: 700 * time.Millisecond, BulkSize: 10,
	}
}

// checkTable: every request is in the status table, under want only.
func checkTable(t *testing.T, r loadResult, want string, wantOK bool) {
	t.Helper()
	if r.Requests == 0 {
		t.Fatalf("%s: no request was made", r.Scenario)
	}
	sum := 0
	for _, n := range r.Statuses {
		sum += n
	}
	if sum != r.Requests || r.Statuses[want] != r.Requests {
		t.Errorf("%s: statuses %v for %d requests; want all %s", r.Scenario, r.Statuses, r.Requests, want)
	}
	if wantOK && (r.OK != r.Requests || r.Errors != 0) {
		t.Errorf("%s: ok %d, errors %d of %d; want every request ok", r.Scenario, r.OK, r.Errors, r.Requests)
	}
	if !wantOK && (r.OK != 0 || r.Errors != r.Requests) {
		t.Errorf("%s: ok %d, errors %d of %d; want every request an error", r.Scenario, r.OK, r.Errors, r.Requests)
	}
	if r.P50ms <= 0 || r.P50ms > r.P90ms || r.P90ms > r.P99ms || r.P99ms > r.MaxMs {
		t.Errorf("%s: percentiles p50 %v p90 %v p99 %v max %v; want 0 < p50 ≤ p90 ≤ p99 ≤ max", r.Scenario, r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	}
}

// countPayments counts the payments the demo client sees, page by page.
func countPayments(t *testing.T, base, secret string) int {
	t.Helper()
	token := clientToken(t, base, secret)
	n, pageToken := 0, ""
	for {
		var page struct {
			Payments      []json.RawMessage `json:"payments"`
			NextPageToken string            `json:"next_page_token"`
		}
		path := "/v1/payments?page_size=100"
		if pageToken != "" {
			path += "&page_token=" + url.QueryEscape(pageToken)
		}
		if resp, raw := (apiCall{t: t, base: base, method: "GET", path: path, token: token}).do(&page); resp.StatusCode != http.StatusOK {
			t.Fatalf("list payments = %d %s", resp.StatusCode, raw)
		}
		n += len(page.Payments)
		if pageToken = page.NextPageToken; pageToken == "" {
			return n
		}
	}
}

// TestLoadScenariosAgainstDev runs scenarios of `tamkeen load` briefly
// against an in-process `tamkeen dev` whose rate limits are lifted by
// TAMKEEN_RATE_LIMITS (the gateway setting dev now takes), and checks
// that the table adds up: the payments the run counted as created are
// the payments the service has, a wrong secret is all 401s, and the
// command's -o json is the same result.
func TestLoadScenariosAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev")
	}
	const secret = "demo-ministry-secret-for-load"
	base, _ := startDevHooks(t, t.TempDir(), devHooks{}, map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret, "TAMKEEN_RATE_LIMITS": " ",
	})
	ctx := context.Background()
	cfg := loadTestConfig(base, secret)

	t.Run("payment", func(t *testing.T) {
		before := countPayments(t, base, secret)
		r, err := runScenario(ctx, "payment", loadScenarios["payment"], cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, r, "201", true)
		if got := countPayments(t, base, secret) - before; got != r.OK {
			t.Errorf("the service has %d new payments; the run counted %d created", got, r.OK)
		}
	})

	t.Run("read open loop", func(t *testing.T) {
		c := cfg
		c.Rate, c.Concurrency = 20, 4
		r, err := runScenario(ctx, "read", loadScenarios["read"], c, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, r, "200", true)
		// Requests are due at 0, 50, 100 … 650 ms: 14 of them.
		if r.Requests != 14 || r.Mode != "open" {
			t.Errorf("open loop at 20/s for 700 ms made %d requests (%s); want 14 (open)", r.Requests, r.Mode)
		}
	})

	t.Run("command json", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := runLoad(ctx, []string{"sms", "--base-url", base, "--client-secret", secret, "-c", "2", "--duration", "500ms", "-o", "json"},
			func(string) (string, bool) { return "", false }, &out, &errOut)
		if err != nil {
			t.Fatalf("tamkeen load sms: %v\n%s", err, errOut.String())
		}
		var r loadResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("-o json: %v: %s", err, out.String())
		}
		checkTable(t, r, "201", true)
		if !strings.Contains(errOut.String(), "sms ") || !strings.Contains(errOut.String(), " done ") {
			t.Errorf("stderr %q; want progress lines", errOut.String())
		}
	})

	// Last: failed client authentications are throttled (10 a minute
	// per client and source, then 429), so this one uses a client id of
	// its own.
	t.Run("wrong secret", func(t *testing.T) {
		c := cfg
		c.ClientID, c.ClientSecret = "no-such-client", "not-the-secret-of-this-client"
		// A scenario that needs the app's token says why it cannot start.
		if _, err := runScenario(ctx, "read", loadScenarios["read"], c, nil); err == nil || !strings.Contains(err.Error(), "= 401") {
			t.Errorf("read with a wrong secret: %v; want the token endpoint's 401", err)
		}
		r, err := runScenario(ctx, "token", loadScenarios["token"], c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK != 0 || r.Statuses["401"] == 0 || r.Statuses["401"]+r.Statuses["429"] != r.Requests {
			t.Errorf("token with a wrong secret: ok %d, statuses %v for %d requests; want only 401s, then the throttle's 429s",
				r.OK, r.Statuses, r.Requests)
		}
	})
}

// TestLoadRefusesBadSettings: a bad setting or scenario is a usage error
// (exit 2) before anything is sent.
func TestLoadRefusesBadSettings(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{
		{},
		{"no-such-scenario"},
		{"token", "-c", "0", "--client-secret", "x"},
		{"token", "--rate", "-1", "--client-secret", "x"},
		{"token", "--base-url", "ftp://x", "--client-secret", "x"},
		{"read", "--client-id", "another-client"},
		{"token", "-o", "yaml", "--client-secret", "x"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"load"}, args...), env, &out, &errOut); code != 2 {
			t.Errorf("tamkeen load %v = exit %d; want 2 (stderr %q)", args, code, errOut.String())
		}
	}
}

// TestLoadSpreadsSourceAddresses: dev takes the gateway's rate limits
// from TAMKEEN_RATE_LIMITS; with a public bucket of 5 that refills once
// in 200 s, a public-read run from 3 source addresses gets exactly 5
// pages per address and 429 for everything else — the limit is per
// address and the workers really send from 3 of them (the preparation
// sends from a fourth).
func TestLoadSpreadsSourceAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev")
	}
	const secret = "demo-ministry-secret-for-load"
	base, _ := startDevHooks(t, t.TempDir(), devHooks{}, map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret, "TAMKEEN_RATE_LIMITS": "public=0.005/5",
	})
	cfg := loadTestConfig(base, secret)
	cfg.Concurrency, cfg.SourceAddrs = 6, 3
	r, err := runScenario(context.Background(), "public-read", loadScenarios["public-read"], cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Statuses["200"] != 15 || r.Statuses["200"]+r.Statuses["429"] != r.Requests {
		t.Errorf("public-read from 3 addresses with a burst of 5: statuses %v for %d requests; want 15 × 200, the rest 429", r.Statuses, r.Requests)
	}
}

// TestNextPhoneNumberNeverRepeats: workers sending at once never share a
// number (a number gets at most 10 SMS an hour; sharing made 429s).
func TestNextPhoneNumberNeverRepeats(t *testing.T) {
	const workers, each = 16, 500
	got := make(chan string, workers*each)
	done := make(chan struct{})
	for range workers {
		go func() {
			for range each {
				got <- nextPhoneNumber()
			}
			done <- struct{}{}
		}()
	}
	for range workers {
		<-done
	}
	close(got)
	seen := map[string]bool{}
	for n := range got {
		if seen[n] {
			t.Fatalf("%s given twice", n)
		}
		seen[n] = true
	}
}
