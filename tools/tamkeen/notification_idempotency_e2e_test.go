package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// cutAfterAccept is a TCP proxy in front of the gateway for one
// connection: it forwards the request, waits for the gateway's answer to
// start, and then closes both sides without passing a byte of it on, as a
// mobile network does when it drops a ministry app's connection after the
// server accepted the request. statusLine receives the answer's first
// line, which the caller never saw.
type cutAfterAccept struct {
	addr       string
	statusLine chan string
}

func newCutAfterAccept(t *testing.T, target string) *cutAfterAccept {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &cutAfterAccept{addr: l.Addr().String(), statusLine: make(chan string, 1)}
	go func() {
		var line string
		defer func() { p.statusLine <- strings.TrimSpace(line) }()
		client, err := l.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer server.Close()
		go func() { _, _ = io.Copy(server, client) }()
		line, _ = bufio.NewReader(server).ReadString('\n')
	}()
	return p
}

// statusOf is resp's status code, 0 for no answer.
func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// TestNotificationSendCutAndRetriedReachesSMSCOnce is issue 17's must-show:
// an SMS send cut after the server accepted it, retried with the same
// Idempotency-Key, reaches the SMSC once. The first POST goes through a
// proxy that drops the connection once the gateway's 2xx answer starts;
// the app, which saw only a broken connection, sends the same request
// with the same key again and gets the same notification; the SMSC
// receives one submit_sm, and the key with another body is 422.
func TestNotificationSendCutAndRetriedReachesSMSCOnce(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	center := newE2ESMSC(t)
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret, "TAMKEEN_SMS_PROVIDER": "smpp", "TAMKEEN_SMPP_ADDR": center.srv.Addr(),
		"TAMKEEN_SMPP_SYSTEM_ID": "tamkeen", "TAMKEEN_SMPP_PASSWORD": "secret",
	})
	token := clientToken(t, base, secret)
	var tpl struct {
		ID string `json:"id"`
	}
	if r, raw := (apiCall{t: t, base: base, method: "POST", path: "/v1/templates", token: token,
		body: map[string]any{"name": "appointment", "channel": "sms", "language": "en", "body": "Your appointment is on ((date))."}}).do(&tpl); r.StatusCode >= 300 || tpl.ID == "" {
		t.Fatalf("create template = %d %s", r.StatusCode, raw)
	}
	send := func(base, key, date string) (*http.Response, []byte, error) {
		body, _ := json.Marshal(map[string]any{"phone_number": "0599700042", "template_id": tpl.ID, "reference": "appt-42",
			"personalisation": map[string]string{"date": date}})
		req, err := http.NewRequest(http.MethodPost, base+"/v1/notifications/sms", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		// A fresh connection each time: the cut one must not be reused.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp, raw, err
	}

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutAfterAccept(t, u.Host)
	if resp, raw, err := send("http://"+proxy.addr, "appt-42-reminder", "12 May"); err == nil {
		t.Fatalf("the cut send got an answer: %d %s; want a broken connection", resp.StatusCode, raw)
	}
	if line := <-proxy.statusLine; !strings.HasPrefix(line, "HTTP/1.1 2") {
		t.Fatalf("the gateway answered the cut send %q; want a 2xx (accepted)", line)
	}

	resp, raw, err := send(base, "appt-42-reminder", "12 May")
	var n struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Recipient string `json:"recipient"`
	}
	if err != nil || resp.StatusCode >= 300 || json.Unmarshal(raw, &n) != nil || n.ID == "" || n.Recipient != "+970599700042" {
		t.Fatalf("the retry = %d %v %s; want the notification to +970599700042", statusOf(resp), err, raw)
	}
	resp, raw, err = send(base, "appt-42-reminder", "13 May")
	if err != nil || resp.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") ||
		!strings.Contains(string(raw), "idempotency_key") || !strings.Contains(string(raw), "urn:tamkeen:problem:idempotency-key-reused") {
		t.Fatalf("the key with another date = %d %v %s; want a 422 problem naming idempotency_key", statusOf(resp), err, raw)
	}

	var list struct {
		Notifications []struct {
			ID string `json:"id"`
		} `json:"notifications"`
	}
	if r, raw := (apiCall{t: t, base: base, method: "GET", path: "/v1/notifications?reference=appt-42", token: token}).do(&list); r.StatusCode != 200 ||
		len(list.Notifications) != 1 || list.Notifications[0].ID != n.ID {
		t.Fatalf("notifications with reference appt-42 = %d %s; want only %s", r.StatusCode, raw, n.ID)
	}
	deadline := time.Now().Add(15 * time.Second)
	for n.Status != "delivered" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		apiCall{t: t, base: base, method: "GET", path: "/v1/notifications/" + n.ID, token: token}.do(&n)
	}
	if n.Status != "delivered" {
		t.Fatalf("status %q after 15 s; want delivered", n.Status)
	}
	center.mu.Lock()
	defer center.mu.Unlock()
	if len(center.parts) != 1 || center.parts[0].dest != "970599700042" {
		t.Fatalf("the SMSC got %d submits; want 1 to 970599700042", len(center.parts))
	}
}

// TestNotificationBulkJobIdempotentThroughGateway: a bulk job posted twice
// with one Idempotency-Key (the header, not the body) is one job whose
// messages reach the dev inbox once each; the key with other rows is 422.
func TestNotificationBulkJobIdempotentThroughGateway(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)
	var tpl struct {
		ID string `json:"id"`
	}
	if r, raw := (apiCall{t: t, base: base, method: "POST", path: "/v1/templates", token: token,
		body: map[string]any{"name": "dose", "channel": "sms", "language": "en", "body": "Your dose is due on ((date))."}}).do(&tpl); r.StatusCode >= 300 || tpl.ID == "" {
		t.Fatalf("create template = %d %s", r.StatusCode, raw)
	}
	post := func(csv string) (int, map[string]any) {
		body, _ := json.Marshal(map[string]any{"template_id": tpl.ID, "channel": "sms", "reference": "campaign-9", "csv": csv})
		req, err := http.NewRequest(http.MethodPost, base+"/v1/notifications/bulk", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", "campaign-9-upload")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	const csv = "phone_number,date\n+970599700061,1 May\n+970599700062,2 May\n"
	code, first := post(csv)
	if code >= 300 || first["id"] == nil {
		t.Fatalf("bulk job = %d %v", code, first)
	}
	if code, again := post(csv); code >= 300 || again["id"] != first["id"] {
		t.Fatalf("the same job again = %d %v; want job %v", code, again, first["id"])
	}
	if code, other := post(strings.Replace(csv, "2 May", "3 May", 1)); code != http.StatusUnprocessableEntity {
		t.Fatalf("the key with other rows = %d %v; want 422", code, other)
	}
	for _, phone := range []string{"+970599700061", "+970599700062"} {
		var inbox struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		deadline := time.Now().Add(15 * time.Second)
		for len(inbox.Messages) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			resp, err := http.Get(base + "/dev/inbox?to=" + url.QueryEscape(phone))
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&inbox)
			resp.Body.Close()
		}
		if len(inbox.Messages) != 1 {
			t.Fatalf("the dev inbox of %s holds %d messages; want 1", phone, len(inbox.Messages))
		}
	}
}
