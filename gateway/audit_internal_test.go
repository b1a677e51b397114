package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// auditRecorder migrates db and returns an audit recorder of chain on it,
// without time-stamps or metering.
func auditRecorder(t testing.TB, db *store.DB, chain string) *recorder {
	t.Helper()
	set, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	return &recorder{db: db, chain: chain, audit: true, now: time.Now, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkAuditWrite is the audit log's group commit under 16 concurrent
// callers (8 per CPU on 2), each waiting for its record's commit as a call
// waits before its answer: on a SQLite file and on PostgreSQL
// (TAMKEEN_TEST_POSTGRES_URL). On PostgreSQL it reports the records per
// commit (the distinct transaction ids of the rows written) and checks
// that the chain verifies.
func BenchmarkAuditWrite(b *testing.B) {
	storetest.BenchEngines(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		rc := auditRecorder(b, db, "bench")
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				rec := &AuditRecord{Time: store.Stamp(time.Now()), RequestID: fmt.Sprintf("req-%d", i), ClientID: "demo-ministry",
					Route: "GET /v1/content/items/{id}", RPC: "/tamkeen.content.v1.ContentService/GetItem", Status: 200,
					LatencyMicros: 900, RequestHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					ResponseHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Source: "192.0.2.7"}
				if err := rc.add(ctx, &entry{rec: rec}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		if db.Engine() != store.Postgres {
			return
		}
		var records, commits int64
		if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM gateway_audit`).Scan(&records, &commits); err != nil {
			b.Fatal(err)
		}
		if commits > 0 {
			b.ReportMetric(float64(records)/float64(commits), "records/commit")
		}
		if _, err := VerifyAudit(ctx, db, AuditVerifyOptions{}); err != nil {
			b.Fatalf("the chain written does not verify: %v", err)
		}
	})
}

// TestAuditBatchLargerThanOneInsert writes batches of more records than
// one INSERT takes (auditInsertRows), and a small one after: every record
// is there once, in one transaction a batch, and the chain verifies
// across the statements and the batches.
func TestAuditBatchLargerThanOneInsert(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rc := auditRecorder(t, db, "big")
		at := store.Stamp(time.Now())
		batch := func(n int) []*entry {
			es := make([]*entry, n)
			for i := range es {
				es[i] = &entry{rec: &AuditRecord{Time: at, RequestID: fmt.Sprintf("req-%d-%d", n, i), Route: "GET /v1/x", Status: 200, Source: "192.0.2.7"}}
			}
			return es
		}
		sizes := []int{2*auditInsertRows + 3, auditInsertRows, 1}
		want := 0
		for _, n := range sizes {
			if err := rc.write(ctx, batch(n)); err != nil {
				t.Fatal(err)
			}
			want += n
		}
		rep, err := VerifyAudit(ctx, db, AuditVerifyOptions{})
		if err != nil {
			t.Fatalf("VerifyAudit: %v", err)
		}
		var records, distinct int
		var last int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT request_id), MAX(seq) FROM gateway_audit WHERE chain = 'big'`).Scan(&records, &distinct, &last); err != nil {
			t.Fatal(err)
		}
		if rep.Records != int64(want) || records != want || distinct != want || last != int64(want) {
			t.Fatalf("verified %d, stored %d (%d distinct), last seq %d; want %d each", rep.Records, records, distinct, last, want)
		}
		if db.Engine() == store.Postgres {
			var commits int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT xmin::text) FROM gateway_audit`).Scan(&commits); err != nil {
				t.Fatal(err)
			}
			if commits != len(sizes) {
				t.Fatalf("%d batches took %d commits; want one each", len(sizes), commits)
			}
		}
	})
}

// TestAuditReplicaWithAStaleHeadWritesAgain: two recorders (two gateway
// replicas) on one chain; the second still holds the head it read before
// the first wrote. Its batch collides with the first's records, leaves
// nothing behind (records, head or usage: the usage of a failed attempt
// must not be counted twice), and is written again on the new head; the
// chain verifies and every call is metered once.
func TestAuditReplicaWithAStaleHeadWritesAgain(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := auditRecorder(t, db, "shared"), auditRecorder(t, db, "shared")
		day := time.Now().UTC().Format(time.DateOnly)
		batch := func(name string, n int) []*entry {
			es := make([]*entry, n)
			for i := range es {
				es[i] = &entry{client: "moh", day: day, usage: []usageUnit{{item: "call:x/Y", quantity: 1}},
					rec: &AuditRecord{Time: store.Stamp(time.Now()), RequestID: fmt.Sprintf("%s-%d", name, i), Route: "GET /v1/x", Status: 200, Source: "192.0.2.7"}}
			}
			return es
		}
		// b reads the (empty) head, then a writes 5 records.
		if err := b.loadHead(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.write(ctx, batch("a", 5)); err != nil {
			t.Fatal(err)
		}
		if err := b.write(ctx, batch("b", 3)); err != nil {
			t.Fatalf("the stale replica's batch: %v", err)
		}
		rep, err := VerifyAudit(ctx, db, AuditVerifyOptions{})
		if err != nil {
			t.Fatalf("VerifyAudit: %v", err)
		}
		var distinct int
		var last, calls int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT request_id), MAX(seq) FROM gateway_audit WHERE chain = 'shared'`).Scan(&distinct, &last); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT SUM(quantity) FROM gateway_usage WHERE client_id = 'moh'`).Scan(&calls); err != nil {
			t.Fatal(err)
		}
		if rep.Records != 8 || distinct != 8 || last != 8 || calls != 8 {
			t.Fatalf("verified %d, %d distinct, last seq %d, %d calls metered; want 8 each", rep.Records, distinct, last, calls)
		}
	})
}
