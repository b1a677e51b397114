package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// auditCalls sends n calls from 8 workers (every tenth without a token,
// refused but recorded) and returns the request IDs the gateway answered.
func auditCalls(t *testing.T, s *stack, n int) []string {
	t.Helper()
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
		nxt atomic.Int64
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := nxt.Add(1)
				if i > int64(n) {
					return
				}
				hdr := map[string]string{"X-Request-Id": fmt.Sprintf("call-%04d", i)}
				want := http.StatusOK
				if i%10 == 0 {
					hdr["Authorization"], want = "", http.StatusUnauthorized
				}
				resp, body := s.do(t, http.MethodGet, fmt.Sprintf("/v1/content/items/cnt_%d", i), nil, hdr)
				if resp.StatusCode != want {
					t.Errorf("call %d = %d; want %d (body %s)", i, resp.StatusCode, want, body)
				}
				mu.Lock()
				ids = append(ids, resp.Header.Get("X-Request-Id"))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ids
}

// exec runs one statement for a tampering case.
func execSQL(t *testing.T, db *store.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// mustVerify fails unless the audit log verifies.
func mustVerify(t *testing.T, db *store.DB, opts gateway.AuditVerifyOptions) gateway.AuditReport {
	t.Helper()
	rep, err := gateway.VerifyAudit(context.Background(), db, opts)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return rep
}

// TestAuditChainVerifiesAndNamesTampering is the must-show: after 1,000
// calls the chain and its time-stamps verify (and the tokens verify with
// openssl ts -verify); changing one field of one record directly in the
// database names that record; deleting a record, the tail or a
// time-stamped record is detected; a forged token is refused. Each change
// is undone and the log verifies again, so each break is the change's.
func TestAuditChainVerifiesAndNamesTampering(t *testing.T) {
	t.Parallel()
	n := 1000
	if testing.Short() {
		n = 200
	}
	tsa := newTestTSA(t)
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := context.Background()
		s := newStack(t, stackOpts{noNATS: true, db: db, tsa: tsa,
			cfg: gateway.Config{Audit: true, Metering: true, AuditStampEvery: n / 4}})
		ids := auditCalls(t, s, n)
		if _, err := s.gw.StampAudit(ctx); err != nil {
			t.Fatalf("StampAudit: %v", err)
		}
		rep := mustVerify(t, db, gateway.AuditVerifyOptions{Roots: tsa.pool()})
		if rep.Records != int64(n) || rep.Stamps < 1 || rep.LastStamp.IsZero() {
			t.Fatalf("report = %+v; want %d records and at least one verified time-stamp", rep, n)
		}
		var recorded int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT request_id) FROM gateway_audit`).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if recorded != len(ids) {
			t.Fatalf("%d distinct request ids recorded; want the %d answered", recorded, len(ids))
		}
		var refused int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gateway_audit WHERE status = 401 AND client_id = '' AND request_hash <> ''`).Scan(&refused); err != nil {
			t.Fatal(err)
		}
		if refused != n/10 {
			t.Errorf("%d refused calls recorded; want %d", refused, n/10)
		}

		verifyWithOpenSSL(t, db, tsa)

		mid, late := int64(n/2), int64(n*7/10)
		var midID, midClient string
		if err := db.QueryRowContext(ctx, `SELECT request_id, client_id FROM gateway_audit WHERE seq = $1`, mid).Scan(&midID, &midClient); err != nil {
			t.Fatal(err)
		}
		var stampSeq int64
		var stampTok string
		if err := db.QueryRowContext(ctx, `SELECT seq, token FROM gateway_audit_stamps ORDER BY seq LIMIT 1`).Scan(&stampSeq, &stampTok); err != nil {
			t.Fatal(err)
		}
		var otherTok string
		if err := db.QueryRowContext(ctx, `SELECT token FROM gateway_audit_stamps WHERE seq <> $1 ORDER BY seq DESC LIMIT 1`, stampSeq).Scan(&otherTok); err != nil {
			t.Fatalf("want two time-stamps at least: %v", err)
		}
		backup := func(seq int64) (restore func()) {
			execSQL(t, db, `CREATE TABLE audit_backup AS SELECT * FROM gateway_audit WHERE seq = $1`, seq)
			return func() {
				execSQL(t, db, `INSERT INTO gateway_audit SELECT * FROM audit_backup`)
				execSQL(t, db, `DROP TABLE audit_backup`)
			}
		}
		tests := []struct {
			name    string
			tamper  func() (undo func())
			seq     int64
			reqID   string
			reason  string
			opts    gateway.AuditVerifyOptions
			skipPre bool
			// altSeq/altReason is a second right answer: when a time-stamp
			// happens to cover the re-hashed record itself, the break is
			// found there (the stamp is over the old hash) rather than at
			// the next record's link.
			altSeq    int64
			altReason string
		}{
			{name: "one field changed", seq: mid, reqID: midID, reason: "the record was modified", tamper: func() func() {
				execSQL(t, db, `UPDATE gateway_audit SET client_id = 'someone-else' WHERE seq = $1`, mid)
				return func() { execSQL(t, db, `UPDATE gateway_audit SET client_id = $1 WHERE seq = $2`, midClient, mid) }
			}},
			{name: "status changed", seq: mid, reqID: midID, reason: "the record was modified", tamper: func() func() {
				execSQL(t, db, `UPDATE gateway_audit SET status = status + 1 WHERE seq = $1`, mid)
				return func() { execSQL(t, db, `UPDATE gateway_audit SET status = status - 1 WHERE seq = $1`, mid) }
			}},
			{name: "changed and re-hashed", seq: mid + 1, reason: "a record was replaced",
				altSeq: mid, altReason: "time-stamp is over another hash", tamper: func() func() {
					r := readRecord(t, db, mid)
					old := r.Hash
					r.ClientID = "someone-else"
					execSQL(t, db, `UPDATE gateway_audit SET client_id = $1, hash = $2 WHERE seq = $3`, r.ClientID, r.ComputeHash(), mid)
					return func() {
						execSQL(t, db, `UPDATE gateway_audit SET client_id = $1, hash = $2 WHERE seq = $3`, midClient, old, mid)
					}
				}},
			{name: "a record deleted", seq: late, reason: "the record is missing (deleted)", tamper: func() func() {
				restore := backup(late)
				execSQL(t, db, `DELETE FROM gateway_audit WHERE seq = $1`, late)
				return restore
			}},
			{name: "the last record deleted", seq: int64(n), reason: "missing (deleted)", tamper: func() func() {
				restore := backup(int64(n))
				execSQL(t, db, `DELETE FROM gateway_audit WHERE seq = $1`, n)
				return restore
			}},
			{name: "the first record deleted", seq: 1, reason: "missing (deleted)", tamper: func() func() {
				restore := backup(1)
				execSQL(t, db, `DELETE FROM gateway_audit WHERE seq = 1`)
				return restore
			}},
			{name: "a forged time-stamp token", seq: stampSeq, reason: "time-stamp token does not verify", tamper: func() func() {
				execSQL(t, db, `UPDATE gateway_audit_stamps SET token = $1 WHERE seq = $2`, otherTok, stampSeq)
				return func() {
					execSQL(t, db, `UPDATE gateway_audit_stamps SET token = $1 WHERE seq = $2`, stampTok, stampSeq)
				}
			}},
			{name: "a deletion inside a period", seq: late, reason: "the record is missing (deleted)",
				opts: gateway.AuditVerifyOptions{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)}, tamper: func() func() {
					restore := backup(late)
					execSQL(t, db, `DELETE FROM gateway_audit WHERE seq = $1`, late)
					return restore
				}},
		}
		for _, tt := range tests {
			undo := tt.tamper()
			rep, err := gateway.VerifyAudit(ctx, db, tt.opts)
			undo()
			if !errors.Is(err, gateway.ErrAuditBroken) || rep.Broken == nil {
				t.Errorf("%s: VerifyAudit = %v; want ErrAuditBroken", tt.name, err)
				continue
			}
			b := rep.Broken
			if tt.altSeq != 0 && b.Seq == tt.altSeq && strings.Contains(b.Reason, tt.altReason) {
				mustVerify(t, db, gateway.AuditVerifyOptions{Roots: tsa.pool()})
				continue
			}
			if b.Seq != tt.seq || !strings.Contains(b.Reason, tt.reason) || (tt.reqID != "" && b.RequestID != tt.reqID) {
				t.Errorf("%s: broken at %+v; want #%d (request %q) with %q", tt.name, b, tt.seq, tt.reqID, tt.reason)
			}
			mustVerify(t, db, gateway.AuditVerifyOptions{Roots: tsa.pool()})
		}

		// Export and verify offline with the CA; then change one line.
		var buf bytes.Buffer
		exported, err := gateway.ExportAudit(ctx, db, &buf, gateway.AuditVerifyOptions{})
		if err != nil || exported != int64(n) {
			t.Fatalf("ExportAudit = %d, %v; want %d records", exported, err, n)
		}
		if rep, err := gateway.VerifyAuditExport(bytes.NewReader(buf.Bytes()), gateway.AuditVerifyOptions{Roots: tsa.pool()}); err != nil || rep.Records != int64(n) || rep.Stamps < 1 {
			t.Fatalf("VerifyAuditExport = %+v, %v; want %d records and time-stamps", rep, err, n)
		}
		lines := strings.Split(buf.String(), "\n")
		target := fmt.Sprintf(`"seq":%d,`, mid)
		for i, l := range lines {
			if strings.Contains(l, `"kind":"record"`) && strings.Contains(l, target) {
				lines[i] = reStatus.ReplaceAllString(l, `"status":299`)
			}
		}
		rep, err = gateway.VerifyAuditExport(strings.NewReader(strings.Join(lines, "\n")), gateway.AuditVerifyOptions{Roots: tsa.pool()})
		if !errors.Is(err, gateway.ErrAuditBroken) || rep.Broken == nil || rep.Broken.Seq != mid {
			t.Errorf("edited export: %+v, %v; want the record #%d named", rep.Broken, err, mid)
		}
		otherCA := newTestTSA(t)
		if _, err := gateway.VerifyAuditExport(bytes.NewReader(buf.Bytes()), gateway.AuditVerifyOptions{Roots: otherCA.pool()}); !errors.Is(err, gateway.ErrAuditBroken) ||
			!strings.Contains(err.Error(), "does not chain to the CA") {
			t.Errorf("export checked against another CA: %v; want the TSA certificate refused", err)
		}
	})
}

// reStatus matches a record's status in an export line.
var reStatus = regexp.MustCompile(`"status":[0-9]+`)

// readRecord loads record seq of the default chain.
func readRecord(t *testing.T, db *store.DB, seq int64) gateway.AuditRecord {
	t.Helper()
	var r gateway.AuditRecord
	var atUS int64
	if err := db.QueryRowContext(context.Background(), `SELECT chain, seq, at_us, request_id, client_id, subject, route, rpc, status,
 latency_us, request_hash, response_hash, source, prev_hash, hash FROM gateway_audit WHERE seq = $1`, seq).Scan(&r.Chain, &r.Seq, &atUS,
		&r.RequestID, &r.ClientID, &r.Subject, &r.Route, &r.RPC, &r.Status, &r.LatencyMicros, &r.RequestHash, &r.ResponseHash,
		&r.Source, &r.PrevHash, &r.Hash); err != nil {
		t.Fatal(err)
	}
	r.Time = time.UnixMicro(atUS).UTC()
	if r.ComputeHash() != r.Hash {
		t.Fatalf("record #%d read back does not hash to its hash", seq)
	}
	return r
}

// verifyWithOpenSSL checks every stored time-stamp token with
// `openssl ts -verify -digest <record hash> -token_in -CAfile ca.pem`.
func verifyWithOpenSSL(t *testing.T, db *store.DB, tsa *testTSA) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed (apt-get install openssl)")
	}
	dir := t.TempDir()
	ca := tsa.caFile(t, dir)
	rows, err := db.QueryContext(context.Background(), `SELECT s.seq, s.token, a.hash FROM gateway_audit_stamps s
JOIN gateway_audit a ON a.chain = s.chain AND a.seq = s.seq ORDER BY s.seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var seq int64
		var tok, h string
		if err := rows.Scan(&seq, &tok, &h); err != nil {
			t.Fatal(err)
		}
		der, err := hex.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("ts-%d.der", seq))
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "ts", "-verify", "-digest", h, "-in", path, "-token_in", "-CAfile", ca).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Errorf("openssl ts -verify of the token for #%d: %v\n%s", seq, err, out)
		}
		checked++
	}
	if checked == 0 {
		t.Error("no time-stamp token to check with openssl")
	}
}

// crashEnv names the database of the gateway process the crash test
// starts (this test binary, running TestAuditCrashHelper).
const crashEnv = "TAMKEEN_TEST_AUDIT_CRASH_DB"

// TestAuditCrashHelper is the gateway process of
// TestAuditSurvivesKillDuringBurst, not a test of its own: it serves a
// gateway with the audit log on the database named in crashEnv, writes
// its URL next to it and waits to be killed.
func TestAuditCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("the gateway process of TestAuditSurvivesKillDuringBurst")
	}
	s := newStack(t, stackOpts{noNATS: true, noAuth: true, db: storetest.SQLiteFile(t, path),
		cfg: gateway.Config{Audit: true, Metering: true, AuditStampEvery: -1}})
	if err := os.WriteFile(path+".url.tmp", []byte(s.srv.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".url.tmp", path+".url"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Minute)
}

// TestAuditSurvivesKillDuringBurst is the must-show: a gateway process is
// killed (SIGKILL) in the middle of a burst of calls; every call that got
// a response is in the audit log afterwards, the chain verifies, and a
// restarted gateway continues it.
func TestAuditSurvivesKillDuringBurst(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a gateway process")
	}
	path := filepath.Join(t.TempDir(), "gateway.db")
	migrate(t, storetest.SQLiteFile(t, path))
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path + ".url"); err == nil {
			url = string(b)
		}
		select {
		case <-exited:
			t.Fatalf("gateway process exited early:\n%s", childOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway process did not start")
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
		seq      atomic.Int64
		killOnce sync.Once
	)
	const killAfter = 300
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := fmt.Sprintf("burst-%d-%d", w, seq.Add(1))
				req, _ := http.NewRequest(http.MethodGet, url+"/v1/signing/ca", nil)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					return // the gateway is gone
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode == 0 {
					return
				}
				mu.Lock()
				answered = append(answered, id)
				n := len(answered)
				mu.Unlock()
				if n == killAfter {
					killOnce.Do(func() { _ = cmd.Process.Kill() })
				}
			}
		}()
	}
	wg.Wait()
	<-exited
	if len(answered) < killAfter {
		t.Fatalf("only %d calls answered before the gateway stopped:\n%s", len(answered), childOut.String())
	}

	db := storetest.SQLiteFile(t, path)
	ctx := context.Background()
	missing := 0
	for _, id := range answered {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gateway_audit WHERE request_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			missing++
			if missing < 5 {
				t.Errorf("answered call %s has %d audit records; want 1", id, n)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d answered calls are missing from the audit log", missing, len(answered))
	}
	before := mustVerify(t, db, gateway.AuditVerifyOptions{})
	t.Logf("%d calls answered before the kill, %d records in the log", len(answered), before.Records)

	// A restarted gateway continues the same chain.
	s := newStack(t, stackOpts{noNATS: true, noAuth: true, db: db, cfg: gateway.Config{Audit: true, AuditStampEvery: -1}})
	for range 5 {
		if resp, body := s.do(t, http.MethodGet, "/v1/signing/ca", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("after restart = %d (body %s)", resp.StatusCode, body)
		}
	}
	if after := mustVerify(t, db, gateway.AuditVerifyOptions{}); after.Records != before.Records+5 || len(after.Chains) != 1 {
		t.Errorf("after restart: %+v; want %d records in one chain", after, before.Records+5)
	}
}

// TestAuditWriteFailureWithholdsTheAnswer closes the database under the
// gateway: the call's answer is replaced by 503, since the log could not
// show it.
func TestAuditWriteFailureWithholdsTheAnswer(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.db")
	migrate(t, storetest.SQLiteFile(t, path))
	db, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackOpts{noNATS: true, db: db, cfg: gateway.Config{Audit: true, AuditStampEvery: -1}})
	if resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("with the database = %d (body %s)", resp.StatusCode, body)
	}
	db.Close()
	resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("without the database = %d; want 503 (body %s)", resp.StatusCode, body)
	}
	if p := problem(t, resp, body); p.Type != "urn:tamkeen:problem:audit-unavailable" || strings.Contains(string(body), "published") {
		t.Errorf("problem %+v; want audit-unavailable without the item", p)
	}
}

// TestAuditFullDatabaseSaysWhyAndWhatToDo fills the audit database to its
// size limit: the 503 names the cause (full) and gives the advice that
// fits the route: a read is retried, a write with an Idempotency-Key is
// retried with it, a write without one is checked first. Before, every
// route was told to retry with an Idempotency-Key.
func TestAuditFullDatabaseSaysWhyAndWhatToDo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.db")
	migrate(t, storetest.SQLiteFile(t, path))
	ctx := context.Background()
	// One connection, so that the per-connection page limit holds for
	// every write.
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: path, MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := newStack(t, stackOpts{noNATS: true, db: db, cfg: gateway.Config{Audit: true, AuditStampEvery: -1}})
	var pages int
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	detail := func(method string, hdr map[string]string) string {
		t.Helper()
		for range 200 {
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader(`{"type":"faq","ministry":"moh"}`)
			}
			resp, b := s.do(t, method, map[string]string{http.MethodGet: "/v1/content/items/cnt_1", http.MethodPost: "/v1/content/items"}[method], body, hdr)
			if resp.StatusCode == http.StatusServiceUnavailable {
				p := problem(t, resp, b)
				if p.Type != "urn:tamkeen:problem:audit-unavailable" {
					t.Fatalf("503 of type %s; want audit-unavailable", p.Type)
				}
				return p.Detail
			}
		}
		t.Fatalf("%s never failed on a full audit database", method)
		return ""
	}
	if d := detail(http.MethodGet, nil); !strings.Contains(d, "database is full") || !strings.Contains(d, "answer is withheld; retry later") {
		t.Errorf("read: %q; want the full database named and a plain retry", d)
	}
	if d := detail(http.MethodPost, map[string]string{"Content-Type": "application/json", "Idempotency-Key": "k-1"}); !strings.Contains(d, "retry later with the same Idempotency-Key") {
		t.Errorf("write with a key: %q; want a retry with the same key", d)
	}
	if d := detail(http.MethodPost, map[string]string{"Content-Type": "application/json"}); !strings.Contains(d, "check its result before you retry") ||
		strings.Contains(d, "Idempotency-Key") {
		t.Errorf("write without a key: %q; want 'check its result', no Idempotency-Key advice", d)
	}
}

// TestAuditHeadStampedAtShutdown: a replica that stops (a pod rolled
// away) time-stamps its chain's head on the way out, so the tail it
// leaves is not unstamped for good; the periodic stamp never came.
func TestAuditHeadStampedAtShutdown(t *testing.T) {
	t.Parallel()
	tsa := newTestTSA(t)
	db := storetest.SQLite(t)
	migrate(t, db)
	s := newStack(t, stackOpts{noNATS: true, db: db, tsa: tsa,
		cfg: gateway.Config{Audit: true, AuditStampEvery: 1_000_000, AuditStampInterval: time.Hour}})
	auditCalls(t, s, 20)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.gw.Run(ctx, lis) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var head, stamped int64
	if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(MAX(seq), 0) FROM gateway_audit`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(MAX(seq), 0) FROM gateway_audit_stamps`).Scan(&stamped); err != nil {
		t.Fatal(err)
	}
	if head == 0 || stamped != head {
		t.Fatalf("after shutdown the newest stamp covers seq %d; want the head, %d", stamped, head)
	}
	rep := mustVerify(t, db, gateway.AuditVerifyOptions{Roots: tsa.pool()})
	if rep.Stamps < 1 {
		t.Fatalf("report %+v; want the shutdown's time-stamp verified", rep)
	}
}
