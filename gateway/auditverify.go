package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/tamkeen/tamkeen/libs/store"
)

// AuditVerifyOptions bound and strengthen a verification or an export.
type AuditVerifyOptions struct {
	// From and To bound the records by time (zero: unbounded). Within the
	// period every record between the first and the last is checked; the
	// first record's link to an earlier one is trusted.
	From, To time.Time
	// Roots, when set, are the CA certificates each time-stamp token's TSA
	// certificate must chain to (with the timeStamping EKU). Without it a
	// token's signature is checked against the certificate it carries.
	Roots *x509.CertPool
}

// AuditBreak is the first place where the audit log does not verify.
type AuditBreak struct {
	Chain string
	Seq   int64
	// RequestID is the record's, when the record exists.
	RequestID string
	// Reason says what is wrong, e.g. "its contents do not match its
	// hash (the record was modified)".
	Reason string
}

// Error names the record and the reason.
func (b *AuditBreak) Error() string {
	s := fmt.Sprintf("chain %q record #%d", b.Chain, b.Seq)
	if b.RequestID != "" {
		s += " (request " + b.RequestID + ")"
	}
	return s + ": " + b.Reason
}

// AuditReport is what a verification walked.
type AuditReport struct {
	Chains  []string
	Records int64
	// Stamps is how many time-stamp tokens verified.
	Stamps int
	// LastStamp is the newest verified token's time.
	LastStamp time.Time
	// Broken is the first break; nil means the log verifies.
	Broken *AuditBreak
}

// stampKey locates a record.
type stampKey struct {
	chain string
	seq   int64
}

// walker checks records in (chain, seq) order.
type walker struct {
	opts    AuditVerifyOptions
	bounded bool
	stamps  map[stampKey]AuditStamp
	seen    map[stampKey]bool
	rep     *AuditReport

	chain string
	open  bool
	next  int64
	prev  string
	last  map[string]AuditRecord
}

func newWalker(opts AuditVerifyOptions, stamps []AuditStamp, rep *AuditReport) *walker {
	w := &walker{opts: opts, bounded: !opts.From.IsZero(), stamps: map[stampKey]AuditStamp{}, seen: map[stampKey]bool{},
		rep: rep, last: map[string]AuditRecord{}}
	for _, s := range stamps {
		w.stamps[stampKey{s.Chain, s.Seq}] = s
	}
	return w
}

// add checks one record against its predecessor, its hash and its
// time-stamp; it returns the first break.
func (w *walker) add(r AuditRecord) *AuditBreak {
	brk := func(seq int64, reason string, args ...any) *AuditBreak {
		b := &AuditBreak{Chain: r.Chain, Seq: seq, Reason: fmt.Sprintf(reason, args...)}
		if seq == r.Seq {
			b.RequestID = r.RequestID
		}
		return b
	}
	if r.Chain != w.chain || !w.open {
		if r.Chain == w.chain || slices.Contains(w.rep.Chains, r.Chain) {
			return brk(r.Seq, "records are out of order")
		}
		w.chain, w.open = r.Chain, false
		w.rep.Chains = append(w.rep.Chains, r.Chain)
		switch {
		case r.Seq == 1 && r.PrevHash != "":
			return brk(1, "the first record names a previous hash")
		case r.Seq != 1 && !w.bounded:
			return brk(1, "records #1 to #%d are missing (deleted)", r.Seq-1)
		}
	} else {
		if r.Seq != w.next {
			if r.Seq < w.next {
				return brk(r.Seq, "records are out of order")
			}
			if r.Seq == w.next+1 {
				return brk(w.next, "the record is missing (deleted): #%d follows #%d", r.Seq, w.next-1)
			}
			return brk(w.next, "records #%d to #%d are missing (deleted): #%d follows #%d", w.next, r.Seq-1, r.Seq, w.next-1)
		}
		if r.PrevHash != w.prev {
			return brk(r.Seq, "its previous hash does not match record #%d (a record was replaced)", r.Seq-1)
		}
	}
	if r.ComputeHash() != r.Hash {
		return brk(r.Seq, "its contents do not match its hash (the record was modified)")
	}
	key := stampKey{r.Chain, r.Seq}
	if s, ok := w.stamps[key]; ok {
		w.seen[key] = true
		if s.Hash != r.Hash {
			return brk(r.Seq, "its time-stamp is over another hash (the record was replaced after it was time-stamped)")
		}
		at, err := verifyToken(s.Token, r.Hash, w.opts.Roots)
		if err != nil {
			return brk(r.Seq, "its time-stamp token does not verify: %v", err)
		}
		w.rep.Stamps++
		if at.After(w.rep.LastStamp) {
			w.rep.LastStamp = at
		}
	}
	w.open, w.next, w.prev = true, r.Seq+1, r.Hash
	w.last[r.Chain] = r
	w.rep.Records++
	return nil
}

// finish checks what only the end shows: time-stamped records that were
// not walked (deleted) and chain heads past the last record (the tail
// deleted). heads is nil when the walk stops before the end (To set).
func (w *walker) finish(heads map[string]auditHead) *AuditBreak {
	var missing []AuditStamp
	for k, s := range w.stamps {
		if !w.seen[k] {
			missing = append(missing, s)
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		if missing[i].Chain != missing[j].Chain {
			return missing[i].Chain < missing[j].Chain
		}
		return missing[i].Seq < missing[j].Seq
	})
	if len(missing) > 0 {
		s := missing[0]
		return &AuditBreak{Chain: s.Chain, Seq: s.Seq, Reason: "the record is missing (deleted), but its time-stamp is in the log"}
	}
	if heads == nil {
		return nil
	}
	chains := make([]string, 0, len(heads))
	for c := range heads {
		chains = append(chains, c)
	}
	sort.Strings(chains)
	for _, c := range chains {
		h := heads[c]
		last, ok := w.last[c]
		switch {
		case !ok:
			return &AuditBreak{Chain: c, Seq: 1, Reason: fmt.Sprintf("records #1 to #%d are missing (deleted): the chain head is #%d", h.Seq, h.Seq)}
		case last.Seq < h.Seq:
			return &AuditBreak{Chain: c, Seq: last.Seq + 1, Reason: fmt.Sprintf("records #%d to #%d are missing (deleted): the chain head is #%d", last.Seq+1, h.Seq, h.Seq)}
		case last.Seq > h.Seq:
			return &AuditBreak{Chain: c, Seq: h.Seq + 1, RequestID: last.RequestID, Reason: fmt.Sprintf("records after the chain head #%d were added outside the gateway", h.Seq)}
		case last.Hash != h.Hash:
			return &AuditBreak{Chain: c, Seq: h.Seq, RequestID: last.RequestID, Reason: "the chain head's hash does not match the record (a record was replaced)"}
		}
	}
	for c, last := range w.last {
		if _, ok := heads[c]; !ok {
			return &AuditBreak{Chain: c, Seq: last.Seq, RequestID: last.RequestID, Reason: "the chain has no head (it was deleted)"}
		}
	}
	return nil
}

// verifyToken checks an RFC 3161 token: its CMS signature, that its
// message imprint is SHA-256 with hexHash as the hashed message and, with
// roots, that the TSA certificate chains to them for time-stamping. It
// returns the token's time.
func verifyToken(token []byte, hexHash string, roots *x509.CertPool) (time.Time, error) {
	want, err := hex.DecodeString(hexHash)
	if err != nil {
		return time.Time{}, err
	}
	ts, err := timestamp.Parse(token)
	if err != nil {
		return time.Time{}, err
	}
	if !ts.AddTSACertificate {
		return time.Time{}, errors.New("the token carries no TSA certificate")
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want) {
		return time.Time{}, errors.New("its message imprint is not the record's hash")
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range ts.Certificates {
			inter.AddCert(c)
		}
		var lastErr error = errors.New("no TSA certificate with the timeStamping usage")
		for _, c := range ts.Certificates {
			if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
				continue
			}
			if _, lastErr = c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			return time.Time{}, fmt.Errorf("the TSA certificate does not chain to the CA: %w", lastErr)
		}
	}
	return ts.Time, nil
}

// chainRange is the seqs of one chain a walk covers.
type chainRange struct {
	chain    string
	min, max int64
}

// auditRanges finds each chain's seqs within the period.
func auditRanges(ctx context.Context, db *store.DB, opts AuditVerifyOptions) ([]chainRange, error) {
	from, to := opts.From, opts.To
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rows, err := db.QueryContext(ctx, `SELECT chain, MIN(seq), MAX(seq) FROM gateway_audit WHERE at >= $1 AND at <= $2 GROUP BY chain ORDER BY chain`,
		from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("audit ranges: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (chainRange, error) {
		var c chainRange
		err := r.Scan(&c.chain, &c.min, &c.max)
		if opts.From.IsZero() {
			c.min = 1
		}
		return c, err
	})
}

// walkRecords calls fn for each record of each range in order.
func walkRecords(ctx context.Context, db *store.DB, ranges []chainRange, fn func(AuditRecord) error) error {
	for _, cr := range ranges {
		if err := walkRange(ctx, db, cr, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkRange calls fn for each record of one range in order. The records
// stream (not store.CollectRows) because a chain may hold more records
// than a verifier should keep in memory.
func walkRange(ctx context.Context, db *store.DB, cr chainRange, fn func(AuditRecord) error) error {
	rows, err := db.QueryContext(ctx, `SELECT chain, seq, at, at_us, request_id, client_id, subject, route, rpc, status, latency_us,
 request_hash, response_hash, source, prev_hash, hash, xroad_client, xroad_id, xroad_user_id
 FROM gateway_audit WHERE chain = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq`,
		cr.chain, cr.min, cr.max)
	if err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r AuditRecord
		var atUS int64
		var at time.Time
		if err := rows.Scan(&r.Chain, &r.Seq, &at, &atUS, &r.RequestID, &r.ClientID, &r.Subject, &r.Route, &r.RPC, &r.Status,
			&r.LatencyMicros, &r.RequestHash, &r.ResponseHash, &r.Source, &r.PrevHash, &r.Hash,
			&r.XRoadClient, &r.XRoadID, &r.XRoadUserID); err != nil {
			return err
		}
		// The hash covers at_us; a changed at column is caught by
		// comparing the two.
		r.Time = time.UnixMicro(atUS).UTC()
		if !store.Stamp(at).Equal(r.Time) {
			r.Time = at.UTC()
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// readStamps loads the time-stamps of the ranges.
func readStamps(ctx context.Context, db *store.DB, ranges []chainRange, bounded bool) ([]AuditStamp, error) {
	rows, err := db.QueryContext(ctx, `SELECT chain, seq, hash, token, stamped_at FROM gateway_audit_stamps ORDER BY chain, seq`)
	if err != nil {
		return nil, fmt.Errorf("read audit time-stamps: %w", err)
	}
	all, err := store.CollectRows(rows, func(r store.Row) (AuditStamp, error) {
		var s AuditStamp
		var tok string
		if err := r.Scan(&s.Chain, &s.Seq, &s.Hash, &tok, &s.StampedAt); err != nil {
			return s, err
		}
		if s.Token, err = hex.DecodeString(tok); err != nil {
			return s, fmt.Errorf("time-stamp of %s #%d: %w", s.Chain, s.Seq, err)
		}
		return s, nil
	})
	if err != nil || !bounded {
		return all, err
	}
	var out []AuditStamp
	for _, s := range all {
		for _, cr := range ranges {
			if cr.chain == s.Chain && s.Seq >= cr.min && s.Seq <= cr.max {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// readHeads loads every chain's head.
func readHeads(ctx context.Context, db *store.DB) (map[string]auditHead, error) {
	rows, err := db.QueryContext(ctx, `SELECT chain, seq, hash FROM gateway_audit_heads`)
	if err != nil {
		return nil, fmt.Errorf("read audit heads: %w", err)
	}
	return store.CollectMap(rows, func(r store.Row) (string, auditHead, error) {
		var chain string
		var h auditHead
		err := r.Scan(&chain, &h.Seq, &h.Hash)
		return chain, h, err
	})
}

// VerifyAudit walks every chain of the audit log in db (within the
// period) and its time-stamps. The report's Broken names the first record
// that breaks the chain and how; the error then wraps ErrAuditBroken.
func VerifyAudit(ctx context.Context, db *store.DB, opts AuditVerifyOptions) (AuditReport, error) {
	var rep AuditReport
	ranges, err := auditRanges(ctx, db, opts)
	if err != nil {
		return rep, err
	}
	stamps, err := readStamps(ctx, db, ranges, !opts.From.IsZero() || !opts.To.IsZero())
	if err != nil {
		return rep, err
	}
	var heads map[string]auditHead
	if opts.To.IsZero() {
		if heads, err = readHeads(ctx, db); err != nil {
			return rep, err
		}
	}
	w := newWalker(opts, stamps, &rep)
	errStop := errors.New("stop")
	err = walkRecords(ctx, db, ranges, func(r AuditRecord) error {
		if b := w.add(r); b != nil {
			rep.Broken = b
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, err
	}
	if rep.Broken == nil {
		rep.Broken = w.finish(heads)
	}
	if rep.Broken != nil {
		return rep, fmt.Errorf("%w: %w", ErrAuditBroken, rep.Broken)
	}
	return rep, nil
}

// exportLine is one line of an export: a header, a record, a time-stamp
// or a chain head, told apart by kind.
type exportLine struct {
	Kind string `json:"kind"`
	// Header
	Format string     `json:"format,omitempty"`
	From   *time.Time `json:"from,omitempty"`
	To     *time.Time `json:"to,omitempty"`
	*AuditRecord
	Stamp *AuditStamp `json:"timestamp,omitempty"`
	Head  *struct {
		Chain string `json:"chain"`
		auditHead
	} `json:"head,omitempty"`
}

// ExportAudit writes the period's records with the proofs that verify
// them offline as JSON lines: a header {"kind":"header"}, then each
// record {"kind":"record", ...AuditRecord} in chain order, then each
// time-stamp {"kind":"timestamp","timestamp":{chain, seq, hash, token
// (base64 DER), stamped_at}}, then, when the period runs to the end, each
// chain head. It returns how many records it wrote.
func ExportAudit(ctx context.Context, db *store.DB, out io.Writer, opts AuditVerifyOptions) (int64, error) {
	ranges, err := auditRanges(ctx, db, opts)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	hdr := exportLine{Kind: "header", Format: auditFormat}
	if !opts.From.IsZero() {
		hdr.From = &opts.From
	}
	if !opts.To.IsZero() {
		hdr.To = &opts.To
	}
	if err := enc.Encode(hdr); err != nil {
		return 0, err
	}
	var n int64
	if err := walkRecords(ctx, db, ranges, func(r AuditRecord) error {
		n++
		return enc.Encode(exportLine{Kind: "record", AuditRecord: &r})
	}); err != nil {
		return n, err
	}
	stamps, err := readStamps(ctx, db, ranges, !opts.From.IsZero() || !opts.To.IsZero())
	if err != nil {
		return n, err
	}
	for i := range stamps {
		if err := enc.Encode(exportLine{Kind: "timestamp", Stamp: &stamps[i]}); err != nil {
			return n, err
		}
	}
	if opts.To.IsZero() {
		heads, err := readHeads(ctx, db)
		if err != nil {
			return n, err
		}
		chains := make([]string, 0, len(heads))
		for c := range heads {
			chains = append(chains, c)
		}
		sort.Strings(chains)
		for _, c := range chains {
			line := exportLine{Kind: "head", Head: &struct {
				Chain string `json:"chain"`
				auditHead
			}{c, heads[c]}}
			if err := enc.Encode(line); err != nil {
				return n, err
			}
		}
	}
	return n, bw.Flush()
}

// VerifyAuditExport verifies an ExportAudit file offline: the chain of the
// records it holds, their time-stamp tokens (against opts.Roots, the CA
// chain, when given) and, if the export ran to the end, the chain heads.
// opts.From and opts.To are taken from the file's header.
func VerifyAuditExport(in io.Reader, opts AuditVerifyOptions) (AuditReport, error) {
	var rep AuditReport
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var records []AuditRecord
	var stamps []AuditStamp
	var heads map[string]auditHead
	sawHeader := false
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return rep, fmt.Errorf("export line %d: %w", line, err)
		}
		switch l.Kind {
		case "header":
			if l.Format != auditFormat {
				return rep, fmt.Errorf("export line %d: format %q; want %q", line, l.Format, auditFormat)
			}
			sawHeader = true
			opts.From, opts.To = time.Time{}, time.Time{}
			if l.From != nil {
				opts.From = *l.From
			}
			if l.To != nil {
				opts.To = *l.To
			}
		case "record":
			if l.AuditRecord == nil {
				return rep, fmt.Errorf("export line %d: empty record", line)
			}
			records = append(records, *l.AuditRecord)
		case "timestamp":
			if l.Stamp == nil {
				return rep, fmt.Errorf("export line %d: empty time-stamp", line)
			}
			stamps = append(stamps, *l.Stamp)
		case "head":
			if l.Head == nil {
				return rep, fmt.Errorf("export line %d: empty head", line)
			}
			if heads == nil {
				heads = map[string]auditHead{}
			}
			heads[l.Head.Chain] = l.Head.auditHead
		default:
			return rep, fmt.Errorf("export line %d: unknown kind %q", line, l.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, err
	}
	if !sawHeader {
		return rep, fmt.Errorf("%w: the export has no header line", ErrAuditBroken)
	}
	w := newWalker(opts, stamps, &rep)
	for _, r := range records {
		if b := w.add(r); b != nil {
			rep.Broken = b
			return rep, fmt.Errorf("%w: %w", ErrAuditBroken, b)
		}
	}
	if opts.To.IsZero() && heads == nil {
		heads = map[string]auditHead{}
	}
	if rep.Broken = w.finish(heads); rep.Broken != nil {
		return rep, fmt.Errorf("%w: %w", ErrAuditBroken, rep.Broken)
	}
	return rep, nil
}
