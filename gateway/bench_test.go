package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
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

// benchPercentiles runs op b.N times and reports its p50 and p99.
func benchPercentiles(b *testing.B, op func()) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		op()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkSecurityServer compares one GetItem call made directly over
// gRPC with the same call through the gateway's handler: with the token
// and policy only, with the audit log alone (SQLite file, WAL), and with
// everything on (rights, a shared JetStream rate limiter whose limits are
// never reached, the audit log and metering).
func BenchmarkSecurityServer(b *testing.B) {
	direct := newStack(b, stackOpts{noNATS: true})
	b.Run("direct-grpc", func(b *testing.B) {
		conn, err := grpc.NewClient(strings.TrimPrefix(direct.grpcAddr, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		client := contentv1.NewContentServiceClient(conn)
		benchPercentiles(b, func() {
			if _, err := client.GetItem(context.Background(), &contentv1.GetItemRequest{Id: "cnt_1"}); err != nil {
				b.Fatal(err)
			}
		})
	})
	cases := []struct {
		name string
		cfg  gateway.Config
		nats bool
	}{
		{name: "gateway-auth-policy", cfg: gateway.Config{}},
		{name: "gateway-audit-only", cfg: gateway.Config{Audit: true, AuditStampEvery: -1}},
		{name: "gateway-everything", nats: true, cfg: gateway.Config{EnforceRights: true, Audit: true, Metering: true,
			RateLimits: []string{"read=1000000/1000000", "write=1000000/1000000"}, MaxConcurrent: 1024}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			db := migrate(b, storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "gateway.db")))
			if err := gateway.NewRights(db, nil).Grant(context.Background(), gateway.Right{ClientID: "demo-ministry", Service: "*"}); err != nil {
				b.Fatal(err)
			}
			s := newStack(b, stackOpts{noNATS: !c.nats, cfg: c.cfg, db: db})
			call := func() {
				req := httptest.NewRequest(http.MethodGet, "/v1/content/items/cnt_1", nil)
				req.Header.Set("Authorization", s.defaultAuth)
				rec := httptest.NewRecorder()
				s.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status = %d; want 200: %s", rec.Code, rec.Body.Bytes())
				}
			}
			benchPercentiles(b, call)
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			db := migrate(b, storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "gateway.db")))
			if err := gateway.NewRights(db, nil).Grant(context.Background(), gateway.Right{ClientID: "demo-ministry", Service: "*"}); err != nil {
				b.Fatal(err)
			}
			s := newStack(b, stackOpts{noNATS: !c.nats, cfg: c.cfg, db: db})
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "/v1/content/items/cnt_1", nil)
					req.Header.Set("Authorization", s.defaultAuth)
					rec := httptest.NewRecorder()
					s.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status = %d; want 200: %s", rec.Code, rec.Body.Bytes())
						return
					}
				}
			})
		})
	}
}
