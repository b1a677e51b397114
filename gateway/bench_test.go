package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkJSONRoundTrip measures one JSON request through the gateway's
// handler (middlewares, transcoding, problem-free path) to a real gRPC
// server over loopback and back. The HTTP listener is skipped
// (httptest.ResponseRecorder) so that the number is the gateway's own cost
// plus one gRPC call; that cost includes verifying the ES256 client token
// (keys cached) and the route policy.
func BenchmarkJSONRoundTrip(b *testing.B) {
	s := newStack(b, stackOpts{noNATS: true})
	body := `{"type":"faq","ministry":"moh","tags":["health"],"translations":{"ar":{"title":"سؤال"},"en":{"title":"Question"}}}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/content/items", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", s.defaultAuth)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status = %d; want 201: %s", rec.Code, rec.Body.Bytes())
		}
	}
}
