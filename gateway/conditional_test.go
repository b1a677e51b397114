package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEtagMatches(t *testing.T) {
	for _, tc := range []struct {
		inm, etag string
		want      bool
	}{
		{`"v3"`, `"v3"`, true},
		{`"v2", "v3"`, `"v3"`, true},
		{`W/"v3"`, `"v3"`, true},
		{`"v3"`, `W/"v3"`, true},
		{`*`, `"v3"`, true},
		{`"v2"`, `"v3"`, false},
		{`"v3"`, ``, false},
		{`*`, ``, false},
		{`v3`, `"v3"`, false},
	} {
		if got := etagMatches(tc.inm, tc.etag); got != tc.want {
			t.Errorf("etagMatches(%q, %q) = %v; want %v", tc.inm, tc.etag, got, tc.want)
		}
	}
}

func TestConditionalGET(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"it_1-v3-ar"`)
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"it_1"}`))
	})
	h := conditionalGET(page)
	for _, tc := range []struct {
		name, method, inm string
		want              int
		body              bool
	}{
		{"no header", http.MethodGet, "", 200, true},
		{"match", http.MethodGet, `"it_1-v3-ar"`, 304, false},
		{"stale", http.MethodGet, `"it_1-v2-ar"`, 200, true},
		{"star", http.MethodGet, `*`, 304, false},
		{"not a GET", http.MethodPost, `"it_1-v3-ar"`, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/v1/public/content/x", nil)
			if tc.inm != "" {
				r.Header.Set("If-None-Match", tc.inm)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Errorf("status = %d; want %d", rec.Code, tc.want)
			}
			if got := rec.Body.Len() > 0; got != tc.body {
				t.Errorf("body present = %v; want %v", got, tc.body)
			}
			if rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") == "" {
				t.Errorf("ETag/Cache-Control dropped: %v", rec.Header())
			}
		})
	}
}
