package notification

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// A streamed bulk job (UploadBulkJob) takes a CSV of up to
// Config.BulkMaxRows rows without ever holding the file: rows are read,
// validated and rendered one at a time, written to the job's recipients
// uploadBatch at a time, and the bad ones reported per row (the first
// maxUploadErrors kept, the rest counted). Unlike CreateBulkJob, bad rows
// do not refuse the job: the good ones are sent and the report says
// which were not. The feeder then queues the recipients on the bulk lane
// feedBatch at a time, keeping at most feedWindow of the job's messages
// waiting for a worker, so that a million rows never become a million
// queued commands and the lane goes at the provider's pace.

// Defaults of the streamed upload's limits.
const (
	// DefaultBulkMaxRows is the most rows a streamed job takes.
	DefaultBulkMaxRows = 1_000_000
	// DefaultBulkMaxBytes is the largest streamed CSV (256 MiB: a million
	// rows of some 250 bytes).
	DefaultBulkMaxBytes = 256 << 20
)

const (
	// uploadBatch is how many rows one write transaction takes.
	uploadBatch = 1000
	// maxUploadErrors bounds the row errors a streamed job keeps.
	maxUploadErrors = 10_000
	// feedBatch is how many recipients one feeder transaction queues.
	feedBatch = 500
	// feedWindow is how many of a job's messages may wait for a bulk-lane
	// worker before the feeder queues more.
	feedWindow = 2000
	// feedIdle is how often the feeder looks for work when not kicked.
	feedIdle = time.Second
)

// BulkUpload is a streamed bulk job's parameters; the CSV comes apart.
type BulkUpload struct {
	TemplateID string
	Channel    string
	Reference  string
	// IdempotencyKey, when set, is bound to the parameters and the SHA-256
	// of the whole body: the same upload again gives the same job.
	IdempotencyKey string
}

// uploadFingerprint is what an upload's Idempotency-Key is bound to.
type uploadFingerprint struct {
	TemplateID, Channel, Reference, BodySHA256 string
}

// ErrUploadTooLarge: the streamed body passed Config.BulkMaxBytes.
var ErrUploadTooLarge = errors.New("notification: bulk upload too large")

// limitedHashReader hashes what it reads and fails past max bytes.
type limitedHashReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	max  int64
	over bool
}

func (l *limitedHashReader) Read(p []byte) (int, error) {
	if l.n >= l.max {
		// Probe one byte: a body of exactly max bytes is allowed.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, ErrUploadTooLarge
		}
	}
	if rem := l.max - l.n; int64(len(p)) > rem && rem > 0 {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.h.Write(p[:n])
	l.n += int64(n)
	return n, err
}

// UploadBulkJob validates the CSV body row by row into a new job of
// client and starts sending its good rows. The answer's Invalid counts
// the refused rows; ListBulkJobErrors pages through them. A body that is
// not CSV, too large, or has too many rows refuses the whole upload and
// nothing stays stored.
func (s *Service) UploadBulkJob(ctx context.Context, client string, in BulkUpload, body io.Reader) (BulkJob, error) {
	if in.Channel != ChannelSMS && in.Channel != ChannelEmail {
		return BulkJob{}, &rpcerr.FieldError{Field: "channel", Reason: `must be "sms" or "email"`, Code: "channel.unsupported"}
	}
	if err := checkIdempotencyKey(in.IdempotencyKey); err != nil {
		return BulkJob{}, err
	}
	if err := checkText("reference", in.Reference, textcheck.Address); err != nil {
		return BulkJob{}, err
	}
	if len(in.Reference) > maxReference {
		return BulkJob{}, &rpcerr.FieldError{Field: "reference", Reason: fmt.Sprintf("longer than %d bytes", maxReference),
			Code: "reference.too_many_bytes", Args: rpcerr.ArgList(strconv.Itoa(maxReference))}
	}
	t, err := s.clientTemplate(ctx, client, in.TemplateID, in.Channel)
	if err != nil {
		return BulkJob{}, err
	}
	jobID, err := store.NewIDFrom(s.Rand, "blk_")
	if err != nil {
		return BulkJob{}, err
	}
	job := BulkJob{ID: jobID, ClientID: client, TemplateID: t.ID, TemplateVersion: t.Version, Channel: in.Channel,
		Reference: in.Reference, CreatedAt: s.nowUTC(), state: bulkValidating, language: t.Language}
	if err := insertBulkJob(ctx, s.DB, job, bulkValidating); err != nil {
		return BulkJob{}, fmt.Errorf("notification: bulk upload: %w", err)
	}
	lr := &limitedHashReader{r: body, h: sha256.New(), max: s.cfg.BulkMaxBytes}
	// Bounded, so that the sweep can tell an upload still coming in from
	// one whose process died (pruneAbandonedUploads).
	vctx, cancel := context.WithTimeout(ctx, s.cfg.BulkUploadTimeout)
	defer cancel()
	valid, invalid, err := s.validateUpload(vctx, job, t, lr)
	if err == nil && valid+invalid == 0 {
		err = &rpcerr.FieldError{Field: "csv", Reason: "no recipients", Code: "csv.empty"}
	}
	if err != nil {
		s.dropUpload(jobID)
		if lr.over || errors.Is(err, ErrUploadTooLarge) {
			return BulkJob{}, &rpcerr.FieldError{Field: "csv", Reason: fmt.Sprintf("larger than %d bytes", s.cfg.BulkMaxBytes),
				Code: "csv.too_large", Args: rpcerr.ArgList(strconv.FormatInt(s.cfg.BulkMaxBytes, 10))}
		}
		return BulkJob{}, err
	}
	idem := newIdempotency(client, scopeCreateBulkJob, in.IdempotencyKey, uploadFingerprint{
		TemplateID: in.TemplateID, Channel: in.Channel, Reference: in.Reference, BodySHA256: hex.EncodeToString(lr.h.Sum(nil))})
	existing, err := s.claimTx(ctx, "bulk upload", idem, jobID, func(tx *sql.Tx) error {
		state := bulkSending
		if valid == 0 {
			state = bulkDone
		}
		return finishUpload(ctx, tx, jobID, state, valid, invalid)
	})
	if err != nil || existing != "" {
		// The same upload made a job before (or this one cannot be
		// kept): this one goes.
		s.dropUpload(jobID)
		return s.createdJob(ctx, client, existing, err)
	}
	s.kickFeeder()
	return s.GetBulkJob(ctx, client, jobID)
}

// validateUpload reads the CSV from r into job's recipients and row
// errors, uploadBatch rows per transaction, and counts the valid and
// invalid rows.
func (s *Service) validateUpload(ctx context.Context, job BulkJob, t ClientTemplate, r io.Reader) (valid, invalid int, err error) {
	rows, err := newBulkCSV(job.Channel, r)
	if err != nil {
		return 0, 0, err
	}
	var (
		good []bulkRecipient
		bad  []BulkRowError
	)
	flush := func() error {
		if len(good) == 0 && len(bad) == 0 {
			return nil
		}
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			if err := insertRecipients(ctx, tx, job.ID, good); err != nil {
				return err
			}
			if err := insertRowErrors(ctx, tx, job.ID, bad); err != nil {
				return err
			}
			return setValidated(ctx, tx, job.ID, valid, invalid)
		})
		good, bad = good[:0], bad[:0]
		return err
	}
	for {
		row, line, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if valid+invalid >= s.cfg.BulkMaxRows {
			return 0, 0, &rpcerr.FieldError{Field: "csv", Reason: fmt.Sprintf("more than %d recipients", s.cfg.BulkMaxRows),
				Code: "recipients.too_many", Args: rpcerr.ArgList(strconv.Itoa(s.cfg.BulkMaxRows))}
		}
		ref := row.Reference
		if ref == "" {
			ref = job.Reference
		}
		n, err := s.prepare(job.ClientID, t, job.Channel, row.Recipient, row.Personalisation, ref)
		if err != nil {
			invalid++
			if invalid <= maxUploadErrors {
				bad = append(bad, rowError(line, err))
			}
		} else {
			valid++
			good = append(good, bulkRecipient{line: line, n: n})
		}
		if len(good)+len(bad) >= uploadBatch {
			if err := flush(); err != nil {
				return 0, 0, fmt.Errorf("notification: bulk upload: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, fmt.Errorf("notification: bulk upload: %w", err)
	}
	return valid, invalid, nil
}

// dropUpload deletes a job whose upload did not complete, even when the
// request's context ended.
func (s *Service) dropUpload(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return deleteBulkJob(ctx, tx, id) }); err != nil {
		s.Logger.Warn("notification: a failed bulk upload was not deleted", slog.String("bulk_job_id", id), slog.String("err", err.Error()))
	}
}

// pruneAbandonedUploads deletes the jobs still validating twice
// BulkUploadTimeout after they were created, with what their uploads
// stored: their process died mid-upload (an upload still running is
// cancelled at BulkUploadTimeout), and nobody was ever told of them. It
// returns how many it deleted.
func (s *Service) pruneAbandonedUploads(ctx context.Context) (int, error) {
	ids, err := abandonedUploads(ctx, s.DB, s.nowUTC().Add(-2*s.cfg.BulkUploadTimeout), pruneBatch)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return deleteBulkJob(ctx, tx, id) }); err != nil {
			return i, err
		}
		s.Logger.Info("notification: deleted an abandoned bulk upload", slog.String("bulk_job_id", id))
	}
	return len(ids), nil
}

// BulkErrorPage is a page of a streamed job's row errors.
type BulkErrorPage struct {
	Rows []BulkRowError
	// Total counts every invalid row; Omitted those beyond the kept ones.
	Total, Omitted int
	NextPageToken  string
}

// maxErrorPage bounds a page of row errors.
const maxErrorPage = 1000

// ListBulkJobErrors pages through client's bulk job id's row errors, in
// row order; the token is the last row of the previous page.
func (s *Service) ListBulkJobErrors(ctx context.Context, client, id, token string, size int) (BulkErrorPage, error) {
	j, err := s.GetBulkJob(ctx, client, id)
	if err != nil {
		return BulkErrorPage{}, err
	}
	after := 0
	if token != "" {
		if after, err = strconv.Atoi(token); err != nil || after < 1 {
			return BulkErrorPage{}, &rpcerr.FieldError{Field: "page_token", Reason: "not a token this list gave", Code: "page_token.unknown"}
		}
	}
	if size <= 0 || size > maxErrorPage {
		size = maxErrorPage
	}
	rows, err := listRowErrors(ctx, s.DB, id, after, size+1)
	if err != nil {
		return BulkErrorPage{}, fmt.Errorf("notification: bulk job errors: %w", err)
	}
	page := BulkErrorPage{Total: j.Invalid, Omitted: max(j.Invalid-maxUploadErrors, 0)}
	page.Rows, page.NextPageToken = store.NextPage(rows, size, func(e BulkRowError) string { return strconv.Itoa(e.Row) })
	return page, nil
}

// feedState is a sending job as the feeder sees it.
type feedState struct {
	id, client, templateID, channel, language string
	templateVersion                           int
	fedLine, queued, started                  int
}

// kickFeeder wakes the feeder.
func (s *Service) kickFeeder() {
	select {
	case s.feedKick <- struct{}{}:
	default:
	}
}

// runBulkFeeder queues sending jobs' recipients until ctx ends.
func (s *Service) runBulkFeeder(ctx context.Context) {
	for {
		busy, err := s.feedOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.Logger.Warn("notification: bulk feeder", slog.String("err", err.Error()))
		}
		if busy {
			continue
		}
		if !pause.For(ctx, feedIdle, s.feedKick) {
			return
		}
	}
}

// feedOnce queues one batch of each sending job that has room in its
// window, and reports whether any did.
func (s *Service) feedOnce(ctx context.Context) (bool, error) {
	jobs, err := sendingBulkJobs(ctx, s.DB)
	if err != nil {
		return false, err
	}
	busy := false
	for _, j := range jobs {
		if j.queued-j.started >= feedWindow {
			continue
		}
		fed, err := s.feed(ctx, j)
		if err != nil {
			return busy, fmt.Errorf("bulk job %s: %w", j.id, err)
		}
		busy = busy || fed
	}
	return busy, nil
}

// feed queues job j's next batch in one transaction: the messages, their
// commands, the limits and the job's cursor, which only moves from where
// this feeder read it (another replica's feeder loses the race and
// rolls back).
func (s *Service) feed(ctx context.Context, j feedState) (bool, error) {
	rs, err := listRecipients(ctx, s.DB, j.id, j.fedLine, feedBatch)
	if err != nil {
		return false, err
	}
	msgs := make([]Notification, len(rs))
	for i, r := range rs {
		n := r.n
		n.ClientID, n.Channel, n.Lane, n.TemplateID, n.TemplateVersion, n.Language = j.client, j.channel, LaneBulk, j.templateID, j.templateVersion, j.language
		n.Status, n.submission, n.BulkJobID = StatusCreated, submissionNone, j.id
		msgs[i] = n
	}
	last, state := j.fedLine, bulkSending
	if len(rs) > 0 {
		last = rs[len(rs)-1].line
	}
	if len(rs) < feedBatch {
		state = bulkDone
	}
	var le *LimitError
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := advanceFeed(ctx, tx, j.id, j.fedLine, last, len(msgs), state); err != nil {
			return err
		}
		for i := range msgs {
			if err := s.queue(ctx, tx, &msgs[i], false); err != nil {
				return err
			}
		}
		return s.countLimits(ctx, tx, j.client, msgs, checkBulk)
	})
	switch {
	case errors.As(err, &le), errors.Is(err, errConcurrentChange):
		// Over the client's daily limit: the job waits for the next
		// window. Raced by another feeder: it did the batch.
		return false, nil
	case err != nil:
		return false, err
	}
	s.noteAccepted(msgs...)
	s.Relay.Kick()
	return len(msgs) > 0, nil
}

// bulkCounters are the counters of n's bulk job a move from → next adds
// to.
func bulkCounters(from, next Notification) []bulkCounter {
	if next.BulkJobID == "" {
		return nil
	}
	var cs []bulkCounter
	if from.Status == StatusCreated && next.Status != StatusCreated {
		cs = append(cs, counterStarted)
	}
	if from.submission != submissionAccepted && next.submission == submissionAccepted {
		cs = append(cs, counterSubmitted)
	}
	if next.Status != from.Status && next.final() {
		if next.Status == StatusDelivered {
			cs = append(cs, counterDelivered)
		} else {
			cs = append(cs, counterFailed)
		}
	}
	return cs
}
