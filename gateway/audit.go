package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/digitorus/timestamp"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/store"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Defaults of the audit log's time-stamping.
const (
	// DefaultAuditChain names a gateway's hash chain when Config.AuditChain
	// is empty. Replicas sharing a database should each have their own
	// (e.g. the pod name); a shared name still works, serialised by the
	// database.
	DefaultAuditChain = "gateway"
	// DefaultAuditStampEvery is how many records may follow the last
	// time-stamped head before the head is time-stamped again.
	DefaultAuditStampEvery = 1000
	// DefaultAuditStampInterval is the longest a new head waits for its
	// time-stamp.
	DefaultAuditStampInterval = time.Minute
)

// auditFormat starts every record's hashed form; a new canonical form
// gets a new name. auditFormatXRoad is the form of records with X-Road
// ids: v1's fields followed by them. Records without keep v1, so that
// every record written before the X-Road columns existed still verifies.
const (
	auditFormat      = "tamkeen-audit-v1"
	auditFormatXRoad = "tamkeen-audit-v2"
)

// auditWriteAttempts bounds the retries of a batch that lost a race for
// the chain head to another replica writing the same chain.
const auditWriteAttempts = 5

// ErrAuditBroken is wrapped by the errors of VerifyAudit and
// VerifyAuditExport when the chain or a time-stamp does not verify.
var ErrAuditBroken = errors.New("gateway: audit log does not verify")

// AuditRecord is one call as the audit log keeps it: metadata and body
// hashes, never bodies, tokens or query strings.
type AuditRecord struct {
	Chain string    `json:"chain"`
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	// RequestID is the X-Request-Id the caller got back.
	RequestID string `json:"request_id"`
	// ClientID is the client of a client token, or the azp (the app) of a
	// citizen token; "" for public calls.
	ClientID string `json:"client_id"`
	// Subject is the citizen of a citizen token, "" otherwise.
	Subject string `json:"subject"`
	// Route is "METHOD /template".
	Route string `json:"route"`
	// RPC is the gRPC method behind the route.
	RPC    string `json:"rpc"`
	Status int    `json:"status"`
	// LatencyMicros is the time from the request to the response, before
	// this record was written.
	LatencyMicros int64 `json:"latency_us"`
	// RequestHash and ResponseHash are hex SHA-256 of the body bytes the
	// gateway read and wrote.
	RequestHash  string `json:"request_hash"`
	ResponseHash string `json:"response_hash"`
	// Source is the peer's IP address.
	Source string `json:"source"`
	// XRoadClient, XRoadID and XRoadUserID are the X-Road-Client
	// (decoded), X-Road-Id and X-Road-UserId of a call relayed by the
	// X-Road security server (xroad.go); empty for every other call.
	XRoadClient string `json:"xroad_client,omitempty"`
	XRoadID     string `json:"xroad_id,omitempty"`
	XRoadUserID string `json:"xroad_user_id,omitempty"`
	// PrevHash is the previous record's Hash ("" for seq 1).
	PrevHash string `json:"prev_hash"`
	// Hash is hex SHA-256 of the canonical form (see ComputeHash).
	Hash string `json:"hash"`
}

// ComputeHash is the record's hash: hex SHA-256 of the JSON array
// ["tamkeen-audit-v1", prev_hash, chain, seq, time in Unix microseconds,
// request_id, client_id, subject, route, rpc, status, latency_us,
// request_hash, response_hash, source]; for a record with X-Road ids,
// "tamkeen-audit-v2" and the same fields followed by xroad_client,
// xroad_id and xroad_user_id (so blanking them breaks the hash too).
func (r AuditRecord) ComputeHash() string {
	fields := []any{auditFormat, r.PrevHash, r.Chain, r.Seq, r.Time.UnixMicro(), r.RequestID, r.ClientID,
		r.Subject, r.Route, r.RPC, r.Status, r.LatencyMicros, r.RequestHash, r.ResponseHash, r.Source}
	if r.XRoadClient != "" || r.XRoadID != "" || r.XRoadUserID != "" {
		fields[0] = auditFormatXRoad
		fields = append(fields, r.XRoadClient, r.XRoadID, r.XRoadUserID)
	}
	b, _ := json.Marshal(fields)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditStamp is an RFC 3161 time-stamp token over one record's hash.
type AuditStamp struct {
	Chain string `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
	// Token is the DER TimeStampToken (a CMS SignedData); its message
	// imprint is SHA-256 with the record's hash as the hashed message:
	// `openssl ts -verify -digest <hash> -in token.der -token_in -CAfile ca.pem`.
	Token     []byte    `json:"token"`
	StampedAt time.Time `json:"stamped_at"`
}

// auditHead is the last record of a chain as gateway_audit_heads says.
type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// entry is one call waiting to be written: its audit record (nil when
// only metering is on) and its usage.
type entry struct {
	rec    *AuditRecord
	client string
	day    string
	usage  []usageUnit
	done   chan error
	// lead tells a queued caller to write the next batch.
	lead chan struct{}
}

// recorder writes audit records and usage in group-committed batches:
// the first caller to find no batch in flight writes everything queued,
// the others wait for its commit. A call's response is released only after
// the commit, so nothing answered is missing from the log after a crash.
type recorder struct {
	db     *store.DB
	chain  string
	audit  bool
	now    func() time.Time
	logger *slog.Logger
	m      *metrics

	// stamping
	sig           signaturev1.SignatureServiceClient
	stampEvery    int64
	stampInterval time.Duration
	random        io.Reader

	mu      sync.Mutex
	queue   []*entry
	writing bool
	loaded  bool
	seq     int64
	hash    string
	// stampedSeq is the newest time-stamped seq; stampedAt when.
	stampedSeq int64
	stampedAt  time.Time
	stamping   bool
}

// add queues e and returns once it is committed (or failed). The caller
// that finds no batch in flight leads: it writes everything queued in one
// transaction, then hands the lead to the first caller queued meanwhile,
// so each caller waits for at most two commits.
func (rc *recorder) add(ctx context.Context, e *entry) error {
	e.done, e.lead = make(chan error, 1), make(chan struct{}, 1)
	rc.mu.Lock()
	rc.queue = append(rc.queue, e)
	if rc.writing {
		rc.mu.Unlock()
		select {
		case err := <-e.done:
			return err
		case <-e.lead:
		}
		rc.mu.Lock()
	}
	rc.writing = true
	batch := rc.queue
	rc.queue = nil
	rc.mu.Unlock()
	// The batch carries other callers' records: it must not fail because
	// this caller went away.
	err := rc.write(context.WithoutCancel(ctx), batch)
	for _, b := range batch {
		b.done <- err
	}
	rc.mu.Lock()
	if len(rc.queue) > 0 {
		rc.queue[0].lead <- struct{}{}
	} else {
		rc.writing = false
	}
	rc.mu.Unlock()
	rc.maybeStamp(ctx)
	return <-e.done
}

// loadHead reads the chain's head and newest time-stamp.
func (rc *recorder) loadHead(ctx context.Context) error {
	var seq int64
	var h string
	err := rc.db.QueryRowContext(ctx, `SELECT seq, hash FROM gateway_audit_heads WHERE chain = $1`, rc.chain).Scan(&seq, &h)
	if err != nil && !store.IsNoRows(err) {
		return fmt.Errorf("read audit head: %w", err)
	}
	var stamped sql.NullInt64
	if err := rc.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM gateway_audit_stamps WHERE chain = $1`, rc.chain).Scan(&stamped); err != nil {
		return fmt.Errorf("read audit stamps: %w", err)
	}
	rc.mu.Lock()
	rc.seq, rc.hash, rc.loaded = seq, h, true
	rc.stampedSeq = stamped.Int64
	if rc.stampedAt.IsZero() {
		rc.stampedAt = rc.now()
	}
	rc.mu.Unlock()
	return nil
}

// write commits one batch: the records chained onto the head, the new
// head and the usage counters, atomically. On PostgreSQL a batch of up to
// auditInsertRows records is one statement (withStatement): one round
// trip and its commit, where a transaction of an INSERT, two upserts and
// BEGIN and COMMIT took five, every one of them waited for by each call in
// the batch.
func (rc *recorder) write(ctx context.Context, batch []*entry) error {
	usage := usageRows(batch)
	var err error
	for attempt := 1; attempt <= auditWriteAttempts; attempt++ {
		if rc.audit && !rc.loaded {
			if err = rc.loadHead(ctx); err != nil {
				return err
			}
		}
		seq, prev := rc.seq, rc.hash
		recs := make([]*AuditRecord, 0, len(batch))
		for _, e := range batch {
			if e.rec == nil {
				continue
			}
			seq++
			r := e.rec
			r.Chain, r.Seq, r.PrevHash = rc.chain, seq, prev
			r.Hash = r.ComputeHash()
			prev = r.Hash
			recs = append(recs, r)
		}
		oneStatement := rc.db.Engine() == store.Postgres && len(recs) <= auditInsertRows && len(usage) <= auditInsertRows
		stmts := batchStatements(recs, seq != rc.seq, rc.chain, seq, prev, usage, oneStatement)
		if oneStatement {
			q, args := withStatement(stmts)
			_, err = rc.db.ExecContext(ctx, q, args...)
		} else {
			err = rc.db.InTx(ctx, func(tx *sql.Tx) error {
				for _, s := range stmts {
					if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err == nil {
			rc.mu.Lock()
			rc.seq, rc.hash = seq, prev
			rc.mu.Unlock()
			return nil
		}
		// Whatever happened, the head in memory may be stale now.
		rc.mu.Lock()
		rc.loaded = false
		rc.mu.Unlock()
		if !store.IsUniqueViolation(err) {
			break
		}
	}
	return fmt.Errorf("write audit batch: %w", err)
}

// batchStmt is one statement of a batch's write.
type batchStmt struct {
	sql  string
	args []any
}

// batchStatements are the INSERTs that write a batch: the records (a
// statement per auditInsertRows of them), the chain's new head (when
// head) and the usage counters. Each statement's parameters are numbered
// from $1, or, when continued, on from the previous statement's, so that
// withStatement can join them.
func batchStatements(recs []*AuditRecord, head bool, chain string, seq int64, hash string, usage []usageRow, continued bool) []batchStmt {
	var out []batchStmt
	next := 1
	add := func(sql string, args []any) {
		out = append(out, batchStmt{sql, args})
		if continued {
			next += len(args)
		}
	}
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), auditInsertRows)]
		recs = recs[len(chunk):]
		args := make([]any, 0, len(chunk)*19)
		for _, r := range chunk {
			args = append(args, auditRow(r)...)
		}
		add(`INSERT INTO gateway_audit (`+auditColumns+`) VALUES `+store.Placeholders(len(chunk), 19, next), args)
	}
	if head {
		add(`INSERT INTO gateway_audit_heads (chain, seq, hash) VALUES `+store.Placeholders(1, 3, next)+
			` ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, []any{chain, seq, hash})
	}
	for len(usage) > 0 {
		chunk := usage[:min(len(usage), auditInsertRows)]
		usage = usage[len(chunk):]
		args := make([]any, 0, len(chunk)*6)
		for _, u := range chunk {
			args = append(args, u.day, u.client, u.item, u.currency, u.quantity, u.amount)
		}
		add(`INSERT INTO gateway_usage (day, client_id, item, currency, quantity, amount) VALUES `+store.Placeholders(len(chunk), 6, next)+
			` ON CONFLICT (day, client_id, item, currency) DO UPDATE SET quantity = gateway_usage.quantity + excluded.quantity,
 amount = gateway_usage.amount + excluded.amount`, args)
	}
	return out
}

// withStatement joins stmts (numbered as continued) into one PostgreSQL
// statement of data-modifying WITH clauses, which PostgreSQL runs to
// completion, all or none, whatever the final SELECT reads.
func withStatement(stmts []batchStmt) (string, []any) {
	if len(stmts) == 0 {
		return "SELECT 1", nil
	}
	var q strings.Builder
	var args []any
	for i, s := range stmts {
		if i == 0 {
			q.WriteString("WITH ")
		} else {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "w%d AS (%s RETURNING 1)", i, s.sql)
		args = append(args, s.args...)
	}
	q.WriteString(" SELECT 1")
	return q.String(), args
}

// auditInsertRows bounds the rows of one INSERT: 19 parameters a row stay
// under SQLite's 32766 and PostgreSQL's 65535 parameters a statement.
const auditInsertRows = 500

// auditColumns are gateway_audit's columns in auditRow's order.
const auditColumns = `chain, seq, at, at_us, request_id, client_id, subject, route, rpc,
 status, latency_us, request_hash, response_hash, source, prev_hash, hash, xroad_client, xroad_id, xroad_user_id`

// auditRow is r's values in auditColumns' order.
func auditRow(r *AuditRecord) []any {
	return []any{r.Chain, r.Seq, r.Time, r.Time.UnixMicro(), r.RequestID, r.ClientID, r.Subject, r.Route, r.RPC,
		r.Status, r.LatencyMicros, r.RequestHash, r.ResponseHash, r.Source, r.PrevHash, r.Hash,
		r.XRoadClient, r.XRoadID, r.XRoadUserID}
}

// maybeStamp starts time-stamping the head when enough records or time
// have passed since the last time-stamp.
func (rc *recorder) maybeStamp(ctx context.Context) {
	if rc.sig == nil || !rc.audit {
		return
	}
	rc.mu.Lock()
	due := !rc.stamping && rc.seq > rc.stampedSeq &&
		(rc.seq-rc.stampedSeq >= rc.stampEvery || rc.now().Sub(rc.stampedAt) >= rc.stampInterval)
	if due {
		rc.stamping = true
	}
	rc.mu.Unlock()
	if !due {
		return
	}
	go func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := rc.stampHead(sctx); err != nil {
			rc.logger.WarnContext(sctx, "time-stamp the audit head failed; will retry", slog.String("error", err.Error()))
		}
	}()
}

// stampHead time-stamps the current head unless it already is, and
// returns the stamped seq (0 when the chain is empty).
func (rc *recorder) stampHead(ctx context.Context) (int64, error) {
	rc.mu.Lock()
	rc.stamping = true
	seq, h, stamped := rc.seq, rc.hash, rc.stampedSeq
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.stamping = false
		rc.mu.Unlock()
	}()
	if seq == 0 || seq == stamped {
		return seq, nil
	}
	token, err := rc.timestamp(ctx, h)
	if err != nil {
		rc.m.auditStamps.WithLabelValues("error").Inc()
		return 0, err
	}
	at := store.Stamp(rc.now())
	if _, err := rc.db.ExecContext(ctx, `INSERT INTO gateway_audit_stamps (chain, seq, hash, token, stamped_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (chain, seq) DO NOTHING`, rc.chain, seq, h, hex.EncodeToString(token), at); err != nil {
		rc.m.auditStamps.WithLabelValues("error").Inc()
		return 0, fmt.Errorf("store audit time-stamp: %w", err)
	}
	rc.m.auditStamps.WithLabelValues("ok").Inc()
	rc.mu.Lock()
	if seq > rc.stampedSeq {
		rc.stampedSeq, rc.stampedAt = seq, rc.now()
	}
	rc.mu.Unlock()
	return seq, nil
}

// timestamp asks the signature enabler's TSA for a token over hexHash.
func (rc *recorder) timestamp(ctx context.Context, hexHash string) ([]byte, error) {
	digest, err := hex.DecodeString(hexHash)
	if err != nil {
		return nil, err
	}
	var nb [8]byte
	if _, err := io.ReadFull(rc.random, nb[:]); err != nil {
		return nil, err
	}
	nonce := new(big.Int).SetBytes(nb[:])
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest, Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := rc.sig.Timestamp(ctx, &signaturev1.TimestampRequest{Query: req})
	if err != nil {
		return nil, fmt.Errorf("TSA: %w", err)
	}
	ts, err := timestamp.ParseResponse(resp.GetReply())
	if err != nil {
		return nil, fmt.Errorf("TSA reply: %w", err)
	}
	if !bytes.Equal(ts.HashedMessage, digest) || ts.HashAlgorithm != crypto.SHA256 {
		return nil, errors.New("TSA reply: the token is over another message imprint")
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("TSA reply: the nonce does not match")
	}
	return ts.RawToken, nil
}

// StampAudit time-stamps the head of this gateway's audit chain now
// (unless it already is) and returns its seq; Run calls it every
// Config.AuditStampInterval, and the gateway after every
// Config.AuditStampEvery records.
func (g *Gateway) StampAudit(ctx context.Context) (int64, error) {
	if g.recorder == nil || !g.recorder.audit {
		return 0, fmt.Errorf("%w: the audit log is not on", ErrConfig)
	}
	rc := g.recorder
	rc.mu.Lock()
	loaded := rc.loaded
	rc.mu.Unlock()
	if !loaded {
		if err := rc.loadHead(ctx); err != nil {
			return 0, err
		}
	}
	return rc.stampHead(ctx)
}

// stampLoop time-stamps the head every interval until ctx is done.
func (g *Gateway) stampLoop(ctx context.Context) {
	pause.Every(ctx, g.recorder.stampInterval, func(ctx context.Context) {
		if _, err := g.StampAudit(ctx); err != nil && ctx.Err() == nil {
			g.logger.WarnContext(ctx, "time-stamp the audit head failed; will retry", slog.String("error", err.Error()))
		}
	})
}

// bufferedWriter holds a response until its audit record is committed.
type bufferedWriter struct {
	w http.ResponseWriter
	statusRecord
	body bytes.Buffer
}

// Header is the real writer's header map: nothing is sent before flush.
func (b *bufferedWriter) Header() http.Header { return b.w.Header() }

// WriteHeader records the first status.
func (b *bufferedWriter) WriteHeader(code int) { b.note(code) }

// Write buffers p and implies 200.
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.note(http.StatusOK)
	return b.body.Write(p)
}

// Flush is a no-op: the response is released after the audit commit.
func (b *bufferedWriter) Flush() {}

// SetReadDeadline passes the slow routes' read deadline to the
// connection (http.ResponseController); there is deliberately no Unwrap,
// which would let a Flush bypass the buffer.
func (b *bufferedWriter) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(b.w).SetReadDeadline(t)
}

// SetWriteDeadline passes the slow routes' write deadline on.
func (b *bufferedWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(b.w).SetWriteDeadline(t)
}

// release sends the buffered response.
func (b *bufferedWriter) release() {
	b.w.WriteHeader(b.code())
	_, _ = b.w.Write(b.body.Bytes())
}

// hashingBody hashes the request body bytes as the handler reads them.
type hashingBody struct {
	rc io.ReadCloser
	h  hash.Hash
}

// Read reads and hashes.
func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	return n, err
}

// Close closes the underlying body.
func (b *hashingBody) Close() error { return b.rc.Close() }

// meterClient names who pays for a call: the client, or the app (azp) a
// citizen used, or "public".
func meterClient(c *Caller) string {
	switch {
	case c == nil:
		return "public"
	case c.Kind == Client:
		return c.ClientID
	case c.AZP != "":
		return c.AZP
	default:
		return "citizen"
	}
}

// record is the middleware that writes each API call's audit record and
// usage before releasing its response; when that write fails the caller
// gets 503 instead of an answer the log would not show. The gateway's own
// routes and unmatched paths are not recorded.
func (g *Gateway) record(next http.Handler) http.Handler {
	if g.recorder == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := g.now()
		reqHash := sha256.New()
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &hashingBody{rc: r.Body, h: reqHash}
		}
		bw := &bufferedWriter{w: w}
		next.ServeHTTP(bw, r)
		ctx := r.Context()
		st := stateFrom(ctx)
		if st == nil || st.method == "" {
			bw.release()
			return
		}
		at := store.Stamp(start)
		e := &entry{client: meterClient(st.caller), day: at.Format(time.DateOnly)}
		if g.recorder.audit {
			rec := &AuditRecord{
				Time: at, RequestID: st.id, Route: r.Method + " " + st.route, RPC: st.method, Status: bw.code(),
				LatencyMicros: g.now().Sub(start).Microseconds(), RequestHash: hex.EncodeToString(reqHash.Sum(nil)),
				Source: sourceAddr(r),
			}
			respHash := sha256.Sum256(bw.body.Bytes())
			rec.ResponseHash = hex.EncodeToString(respHash[:])
			if x, ok := XRoadCallFrom(ctx); ok {
				rec.XRoadClient, rec.XRoadID, rec.XRoadUserID = x.Client, x.ID, x.UserID
			}
			if c := st.caller; c != nil {
				rec.ClientID = meterClient(c)
				if c.Kind == Citizen {
					rec.Subject = c.Subject
				}
			}
			e.rec = rec
		}
		if g.cfg.Metering && st.rpc != "" {
			svc, op := splitMethod(st.rpc)
			e.usage = append([]usageUnit{{item: "call:" + svc + "/" + op, quantity: 1}}, st.usage...)
		}
		if e.rec == nil && len(e.usage) == 0 {
			bw.release()
			return
		}
		if err := g.recorder.add(ctx, e); err != nil {
			g.metrics.auditWrites.WithLabelValues("error").Inc()
			g.logger.ErrorContext(ctx, "audit log write failed; answering 503", slog.String("error", err.Error()),
				slog.String("request_id", st.id))
			writeProblem(w, r, Problem{Type: problemTypePrefix + "audit-unavailable", Status: http.StatusServiceUnavailable,
				Detail: auditFailureDetail(r, err)}, http.Header{"Retry-After": {"1"}})
			return
		}
		g.metrics.auditWrites.WithLabelValues("ok").Inc()
		bw.release()
	})
}

// newRecorder builds the recorder when the audit log or metering is on.
func (g *Gateway) newRecorder(db *store.DB, sig grpc.ClientConnInterface) *recorder {
	cfg := g.cfg
	if !cfg.Audit && !cfg.Metering {
		return nil
	}
	rc := &recorder{db: db, chain: cfg.AuditChain, audit: cfg.Audit, now: g.now, logger: g.logger, m: g.metrics,
		stampEvery: int64(cfg.AuditStampEvery), stampInterval: cfg.AuditStampInterval, random: g.random}
	if cfg.Audit && cfg.AuditStampEvery > 0 && sig != nil {
		rc.sig = signaturev1.NewSignatureServiceClient(sig)
	}
	if cfg.Audit {
		registerAuditMetrics(g.registry, rc)
	}
	return rc
}

// auditFailureDetail says why a call whose audit record could not be
// written is answered 503, and what the caller can do: a read had no
// effect and is simply retried; a write may have taken effect, and only a
// route that takes an Idempotency-Key can be retried blindly.
func auditFailureDetail(r *http.Request, err error) string {
	cause := "the audit log could not record the call"
	switch store.Unavailable(err) {
	case store.StorageFull:
		cause = "the audit log's database is full, so the call could not be recorded"
	case store.StorageDown:
		cause = "the audit log's database cannot be reached, so the call could not be recorded"
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return cause + "; its answer is withheld; retry later"
	case r.Header.Get("Idempotency-Key") != "":
		return cause + "; it may have taken effect: retry later with the same Idempotency-Key"
	default:
		return cause + "; it may have taken effect: check its result before you retry"
	}
}
