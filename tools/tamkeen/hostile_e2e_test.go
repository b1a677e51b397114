package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store"
)

// TestDevHostileInputChangesNothing sends every route of the running
// `tamkeen dev` (the real enablers behind the real gateway; routes from its
// /openapi.json) invalid UTF-8 in the path, a query parameter,
// Idempotency-Key, Authorization, the token form and Basic credentials,
// trailing JSON after valid bodies, wrong and missing media types, and
// oversized paths, queries and bodies. No answer may be a 5xx, and no row
// of any enabler's database may appear, change count or disappear. (Before
// issue 12 invalid UTF-8 answered 500 and `{…}xyz` created citizens and
// payments.)
func TestDevHostileInputChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tamkeen dev and sends about a thousand requests")
	}
	const secret = "demo-ministry-secret-for-tests"
	const maxBody = 64 << 10
	dataDir := t.TempDir()
	base, _ := startDevHooks(t, dataDir, devHooks{gateway: func(c *gateway.Config) {
		// Hundreds of requests from one client: no rate limits here.
		c.RateLimits = nil
		c.MaxBodyBytes = maxBody
	}}, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := "Bearer " + clientToken(t, base, secret)

	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Valid bodies for the routes the issue names, so that the trailing
	// data follows something the service would accept.
	valid := map[string]string{
		"POST /v1/citizens": `{"national_id":"401234562","phone_number":"+970599123456","password":"zaytoun-tree-1948",` +
			`"given_name":"ليلى","family_name":"حداد"}`,
		"POST /v1/payments": `{"amount":"100000","currency":"JOD","reference":"PT-2026-0001","description":"ضريبة الأملاك",` +
			`"return_url":"https://moh.example.ps/done","splits":[{"account":"dept:land-registry","amount":"100000"}]}`,
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	type req struct {
		name, method, path string
		hdr                map[string]string
		body               []byte
	}
	var reqs []req
	routes := 0
	for tmpl, ops := range doc.Paths {
		for verb, op := range ops {
			if op.OperationID == "" {
				continue
			}
			routes++
			m := strings.ToUpper(verb)
			path := param.ReplaceAllString(tmpl, "x1")
			add := func(name, path string, hdr map[string]string, body []byte) {
				reqs = append(reqs, req{name: m + " " + tmpl + " (" + name + ")", method: m, path: path, hdr: hdr, body: body})
			}
			add("invalid UTF-8 query", path+"?q=%FF&page_token=%C0%AF", nil, nil)
			add("invalid UTF-8 Idempotency-Key", path, map[string]string{"Idempotency-Key": "k\xff"}, nil)
			add("non-ASCII Authorization", path, map[string]string{"Authorization": "Bearer \xd8\xa7" + strings.TrimPrefix(token, "Bearer ")}, nil)
			if param.MatchString(tmpl) {
				add("invalid UTF-8 path", param.ReplaceAllString(tmpl, "%FF%FE"), nil, nil)
				add("oversized path segment", param.ReplaceAllString(tmpl, strings.Repeat("b", 4<<10)), nil, nil)
			}
			if m == http.MethodGet {
				// (A bodiless POST with a long query is a valid call.)
				add("oversized query", path+"?q="+strings.Repeat("a", 16<<10), nil, nil)
			}
			if m != http.MethodPost && m != http.MethodPut && m != http.MethodPatch {
				continue
			}
			if _, isJSON := op.RequestBody.Content["application/json"]; len(op.RequestBody.Content) > 0 && !isJSON {
				add("wrong media type", path, map[string]string{"Content-Type": "text/plain"}, []byte("x"))
				continue
			}
			body := valid[m+" "+tmpl]
			if body == "" {
				body = `{}`
			}
			js := map[string]string{"Content-Type": "application/json"}
			add("trailing data", path, js, []byte(body+"xyz"))
			add("two objects", path, js, []byte(body+body))
			add("text/plain", path, map[string]string{"Content-Type": "text/plain"}, []byte(body))
			add("no Content-Type", path, map[string]string{"Content-Type": ""}, []byte(body))
			add("oversized body", path, js, []byte(`{"x":"`+strings.Repeat("c", maxBody)+`"}`))
			add("invalid UTF-8 in JSON", path, js, []byte("{\"x\":\"\xff\"}"))
		}
	}
	form := map[string]string{"Content-Type": gateway.MediaForm, "Authorization": ""}
	reqs = append(reqs,
		req{name: "token form invalid UTF-8", method: http.MethodPost, path: "/oauth2/token", hdr: form,
			body: []byte("grant_type=client_credentials&client_id=demo-ministry&client_secret=%FF")},
		req{name: "token Basic invalid UTF-8", method: http.MethodPost, path: "/oauth2/token",
			hdr:  map[string]string{"Content-Type": gateway.MediaForm, "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("demo-ministry:\xff"))},
			body: []byte("grant_type=client_credentials")},
	)

	// The signature enabler makes its CA and first CRL when first asked
	// (dev's PKI auto-init): ask once, legitimately, before counting.
	for _, p := range []string{"/v1/signing/ca", "/v1/signing/crl"} {
		if code, body := get(t, base+p); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", p, code, body)
		}
	}
	before := rowCounts(t, dataDir)
	codes := map[int]int{}
	for _, r := range reqs {
		hr, err := http.NewRequest(r.method, base+r.path, bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.body == nil {
			hr.Body, hr.ContentLength = http.NoBody, 0
		}
		hr.Header.Set("Authorization", token)
		for k, v := range r.hdr {
			if v == "" {
				hr.Header.Del(k)
			} else {
				hr.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode >= 500 {
			t.Errorf("%s = %d %s; want no 5xx", r.name, resp.StatusCode, b)
		}
		if resp.StatusCode < 300 && r.method != http.MethodGet {
			t.Errorf("%s = %d %s; want it refused", r.name, resp.StatusCode, b)
		}
	}
	// Let the outbox relays and consumers act on anything that did slip
	// through before counting.
	time.Sleep(500 * time.Millisecond)
	after := rowCounts(t, dataDir)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows before, %d after the hostile requests; want no change", table, n, after[table])
		}
	}
	for table, n := range after {
		if _, ok := before[table]; !ok {
			t.Errorf("%s: appeared with %d rows", table, n)
		}
	}
	t.Logf("%d hostile requests to %d routes; answers by status: %v", len(reqs), routes, codes)
}

// rowCounts counts the rows of every table of every enabler's SQLite
// database under dataDir. The gateway's own database is left out: its
// audit log records refused calls too, by design.
func rowCounts(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join(dataDir, "*.db"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".db")
		if name == "gateway" {
			continue
		}
		db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: f})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var tn string
			if err := rows.Scan(&tn); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, tn)
		}
		rows.Close()
		slices.Sort(tables)
		for _, tn := range tables {
			var n int
			if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, tn)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[name+"."+tn] = n
		}
		db.Close()
	}
	if len(out) == 0 {
		t.Fatal("no enabler tables found under the data dir")
	}
	return out
}
