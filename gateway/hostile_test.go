package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
)

// route is one operation of the gateway's OpenAPI document.
type route struct {
	method, template, operationID string
	// consumes is the operation's own media type; "" for JSON routes.
	consumes string
}

// servedRoutes lists every operation the gateway documents at
// /openapi.json: the generated routes and the raw ones, as built from the
// same table the router and the policies use, so that a new route is in
// here without anyone editing a test.
func servedRoutes(t *testing.T, s *stack) []route {
	t.Helper()
	resp, body := s.do(t, http.MethodGet, "/openapi.json", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi.json = %d", resp.StatusCode)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []route
	for path, ops := range doc.Paths {
		for verb, raw := range ops {
			var op struct {
				OperationID string `json:"operationId"`
				RequestBody struct {
					Content map[string]json.RawMessage `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.OperationID == "" {
				continue
			}
			r := route{method: strings.ToUpper(verb), template: path, operationID: op.OperationID}
			for media := range op.RequestBody.Content {
				if media != "application/json" {
					r.consumes = media
				}
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b route) int { return strings.Compare(a.method+a.template, b.method+b.template) })
	return out
}

// reParam matches a path template variable.
var reParam = regexp.MustCompile(`\{[^}]+\}`)

// hostileCase is one hostile variant of a request to a route.
type hostileCase struct {
	name     string
	path     string // the raw request path and query
	hdr      map[string]string
	body     []byte
	statuses []int // acceptable answers
}

// TestHostileInputEveryRoute sends every route the gateway serves (its
// OpenAPI document, checked against the policy table) invalid UTF-8 in the
// path, a query parameter, Idempotency-Key and Authorization, and, where
// it takes a body, trailing JSON, wrong or missing media types and an
// oversized body. Every answer must be a 4xx problem and none may reach a
// service (the test services count every call).
func TestHostileInputEveryRoute(t *testing.T) {
	t.Parallel()
	const limit = 4096
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{MaxBodyBytes: limit, RawBodyBytes: limit}})
	routes := servedRoutes(t, s)

	// Every gRPC method in the policy table has a route here.
	covered := map[string]bool{}
	for _, r := range routes {
		covered[r.operationID] = true
	}
	for method := range gateway.Policies() {
		parts := strings.Split(strings.TrimPrefix(method, "/"), "/")
		svc := parts[0][strings.LastIndexByte(parts[0], '.')+1:]
		if !covered[svc+"_"+parts[1]] {
			t.Errorf("policy table method %s has no route in /openapi.json; the hostile input test would miss it", method)
		}
	}

	now := s.clock.Now()
	var scopes []string
	for _, p := range gateway.Policies() {
		scopes = append(scopes, p.Scopes...)
	}
	client := bearer(s.key.sign(t, clientClaims(now, "demo-ministry", scopes...), nil))
	citizen := bearer(s.key.sign(t, citizenClaims(now, "cit_42", "loa2", now), nil))
	policies := gateway.Policies()
	policyOf := func(r route) (gateway.Policy, bool) {
		for m, p := range policies {
			parts := strings.Split(strings.TrimPrefix(m, "/"), "/")
			if parts[0][strings.LastIndexByte(parts[0], '.')+1:]+"_"+parts[1] == r.operationID {
				return p, true
			}
		}
		return gateway.Policy{}, false
	}

	refused := []int{http.StatusBadRequest}
	// A route whose policy refuses the caller first is as good: nothing
	// reached the service either.
	orPolicy := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}
	total := 0
	for _, r := range routes {
		auth := client
		if p, ok := policyOf(r); ok && p.Callers&gateway.Client == 0 && !p.Public {
			auth = citizen
		}
		path := reParam.ReplaceAllString(r.template, "x1")
		cases := []hostileCase{
			{name: "invalid UTF-8 query value", path: path + "?page_token=%FF%FE", statuses: refused},
			{name: "invalid UTF-8 query name", path: path + "?%C3%28=1", statuses: refused},
			{name: "invalid UTF-8 Idempotency-Key", path: path, hdr: map[string]string{"Idempotency-Key": "\xff\xfe"}, statuses: refused},
			{name: "non-ASCII Authorization", path: path, hdr: map[string]string{"Authorization": "Bearer \xe2\x80\xae" + strings.TrimPrefix(auth, "Bearer ")}, statuses: refused},
			{name: "invalid UTF-8 signature header", path: path, hdr: map[string]string{"Tamkeen-Signature": "v1=\xc0\xaf"}, statuses: refused},
		}
		if reParam.MatchString(r.template) {
			cases = append(cases,
				hostileCase{name: "invalid UTF-8 path segment", path: reParam.ReplaceAllString(r.template, "%FF"), statuses: refused},
				hostileCase{name: "overlong UTF-8 path segment", path: reParam.ReplaceAllString(r.template, "%C0%AF"), statuses: refused},
			)
		}
		hasBody := r.method == http.MethodPost || r.method == http.MethodPut || r.method == http.MethodPatch
		if hasBody && r.consumes == "" {
			// The JSON routes.
			json := map[string]string{"Content-Type": "application/json"}
			cases = append(cases,
				hostileCase{name: "trailing data", path: path, hdr: json, body: []byte(`{}xyz`), statuses: orPolicy},
				hostileCase{name: "two objects", path: path, hdr: json, body: []byte(`{}{}`), statuses: orPolicy},
				hostileCase{name: "text/plain", path: path, hdr: map[string]string{"Content-Type": "text/plain"}, body: []byte(`{}`), statuses: []int{415, 401, 403}},
				hostileCase{name: "no Content-Type", path: path, hdr: map[string]string{"Content-Type": ""}, body: []byte(`{}`), statuses: []int{415, 401, 403}},
				hostileCase{name: "form", path: path, hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte(`a=%FF`), statuses: []int{415, 401, 403}},
				hostileCase{name: "oversized body", path: path, hdr: json, body: []byte(`{"x":"` + strings.Repeat("a", limit) + `"}`), statuses: []int{413, 401, 403}},
				hostileCase{name: "invalid UTF-8 in a JSON string", path: path, hdr: json, body: []byte("{\"x\":\"\xff\"}"), statuses: orPolicy},
			)
		}
		if hasBody && r.consumes != "" && r.consumes != "*/*" {
			// Raw routes with a media type of their own.
			cases = append(cases,
				hostileCase{name: "wrong media type", path: path, hdr: map[string]string{"Content-Type": "application/json"}, body: []byte(`{}`), statuses: []int{415}},
				hostileCase{name: "oversized body", path: path, hdr: map[string]string{"Content-Type": r.consumes}, body: bytes.Repeat([]byte("a"), limit+1), statuses: []int{413}},
			)
		}
		if r.template == "/oauth2/token" {
			form := map[string]string{"Content-Type": gateway.MediaForm, "Authorization": ""}
			cases = append(cases,
				hostileCase{name: "invalid UTF-8 form value", path: path, hdr: form, body: []byte("grant_type=client_credentials&client_id=%FF"), statuses: refused},
				hostileCase{name: "invalid UTF-8 form name", path: path, hdr: form, body: []byte("grant_type=client_credentials&%FF=1"), statuses: refused},
				hostileCase{name: "raw invalid UTF-8 form", path: path, hdr: form, body: []byte("grant_type=client_credentials&scope=\xff"), statuses: refused},
				hostileCase{name: "invalid UTF-8 Basic", path: path, hdr: map[string]string{"Content-Type": gateway.MediaForm,
					"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("demo\xff:secret"))}, body: []byte("grant_type=client_credentials"), statuses: refused},
			)
		}
		for _, tc := range cases {
			total++
			before := s.calls.Load()
			req := httptest.NewRequest(r.method, "http://gw"+tc.path, bytes.NewReader(tc.body))
			if tc.body == nil {
				req = httptest.NewRequest(r.method, "http://gw"+tc.path, nil)
			}
			req.Header.Set("Authorization", auth)
			for k, v := range tc.hdr {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			s.handler.ServeHTTP(w, req)
			where := r.method + " " + r.template + " (" + tc.name + ")"
			if w.Code >= 500 {
				t.Errorf("%s = %d %s; want no 5xx", where, w.Code, w.Body)
				continue
			}
			if !slices.Contains(tc.statuses, w.Code) {
				t.Errorf("%s = %d %s; want one of %v", where, w.Code, w.Body, tc.statuses)
			}
			if ct := w.Header().Get("Content-Type"); ct != gateway.ProblemContentType {
				t.Errorf("%s: Content-Type %q; want a problem", where, ct)
			}
			if n := s.calls.Load() - before; n != 0 {
				t.Errorf("%s reached a service (%d calls); want it refused at the gateway", where, n)
			}
		}
	}
	t.Logf("%d hostile requests to %d routes: no 5xx, none reached a service", total, len(routes))
}

// FuzzRequestDecoding throws arbitrary path segments, queries, headers,
// media types and bodies at the gateway's request decoding (checkInput,
// the strict JSON decoder, the token form) in front of the test services,
// and fails on any 5xx: whatever a client sends is its own fault, never
// the gateway's. The seed corpus runs with the normal tests; fuzz with
//
//	go test ./gateway -run '^$' -fuzz FuzzRequestDecoding -fuzztime 1m
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []struct {
		route                   uint8
		segment, query, ct, key string
		body                    []byte
	}{
		{0, "", "", "application/json", "", []byte(`{"amount":"1500","currency":"JOD"}`)},
		{0, "", "", "application/json", "k\xff", []byte(`{"amount":"1500","currency":"JOD"}xyz`)},
		{0, "", "a=%FF", "text/plain", "", []byte(`{}{}`)},
		{1, "pay_1", "", "application/json; charset=utf-8", "key-1", []byte(`{"amount":"1"}`)},
		{1, "%FF%FE", "", "application/json", "", []byte("{\"reason\":\"\xff\"}")},
		{1, "a%2Fb", "x=1&x=2", "", "", nil},
		{2, "", "", gateway.MediaForm, "", []byte("grant_type=client_credentials&client_id=%FF")},
		{2, "", "", gateway.MediaForm, "", []byte("grant_type=client_credentials&client_id=a&client_id=b")},
		{2, "", "", gateway.MediaForm, "", []byte("%zz")},
		{3, "", "", "application/json", "", []byte(`{"translations":{"ar":{"title":"\u202e"}}}`)},
		{3, "", "", "application/merge-patch+json", "", []byte(`[`)},
		{4, "", "", "application/json", "", []byte(`{"to":"+970599000000","template_id":"t"}` + "\x00")},
	} {
		f.Add(seed.route, seed.segment, seed.query, seed.ct, seed.key, seed.body)
	}
	s := newStack(f, stackOpts{noNATS: true, cfg: gateway.Config{MaxBodyBytes: 1 << 16, RawBodyBytes: 1 << 16}})
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/payments"},
		{http.MethodPost, "/v1/payments/{}/refunds"},
		{http.MethodPost, "/oauth2/token"},
		{http.MethodPost, "/v1/content/items"},
		{http.MethodPost, "/v1/notifications/sms"},
	}
	f.Fuzz(func(t *testing.T, ri uint8, segment, query, ct, key string, body []byte) {
		rt := routes[int(ri)%len(routes)]
		// The segment goes in as the client sent it (percent-escapes
		// included), like a raw request line.
		rawPath := strings.ReplaceAll(rt.path, "{}", segment)
		u, err := url.ParseRequestURI(rawPath)
		if err != nil {
			t.Skip()
		}
		u.RawQuery = query
		req := &http.Request{
			Method: rt.method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "gw", RemoteAddr: "127.0.0.1:1234", RequestURI: u.RequestURI(),
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		req.Header.Set("Authorization", s.defaultAuth)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); s.handler.ServeHTTP(w, req.WithContext(t.Context())) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s?%q (Content-Type %q, key %q, body %q) hangs", rt.method, rawPath, query, ct, key, body)
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q (Content-Type %q, key %q, body %q) = %d %s", rt.method, rawPath, query, ct, key, body, w.Code, w.Body)
		}
	})
}
