package notification

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// MaxBulkRecipients is the most recipients one bulk job takes.
const MaxBulkRecipients = 50000

// maxBulkErrors bounds the row errors one answer reports.
const maxBulkErrors = 1000

// BulkRow is one recipient of a bulk job.
type BulkRow struct {
	Recipient       string
	Personalisation map[string]string
	Reference       string
}

// BulkInput is a bulk job as a client submits it: Rows or CSV.
type BulkInput struct {
	TemplateID string
	Channel    string
	Rows       []BulkRow
	// CSV has a header row naming the recipient column (phone_number or
	// email_address), an optional reference column, and placeholders.
	CSV       string
	Reference string
	// IdempotencyKey, when set, makes the job safe to retry: the same key
	// and input within Config.IdempotencyTTL give the same job.
	IdempotencyKey string
}

// fingerprint is what the job's Idempotency-Key is bound to: the input
// without the key.
func (in BulkInput) fingerprint() any {
	in.IdempotencyKey = ""
	return in
}

// BulkRowError is why one row was refused. Row is 1-based; for CSV the
// header is row 1, so Row is the line a spreadsheet shows.
type BulkRowError struct {
	Row    int
	Field  string
	Code   string
	Reason string
	// Args are the values of the code's catalogue text
	// (rpcerr.FieldError.Args); not stored.
	Args string
}

// BulkErrors is the per-row report of a refused bulk job: nothing was
// queued. Total counts every bad row; Rows holds the first 1000.
type BulkErrors struct {
	Rows  []BulkRowError
	Total int
}

// Error summarises the report.
func (e *BulkErrors) Error() string {
	return fmt.Sprintf("%d rows are invalid; nothing was sent", e.Total)
}

// BulkJob is a bulk send and its progress.
type BulkJob struct {
	ID              string
	ClientID        string
	TemplateID      string
	TemplateVersion int
	Channel         string
	Reference       string
	Total           int
	// Queued are not yet handed to a provider; Sent were (sending or
	// delivered); Failed ended in a failure status.
	Queued, Sent, Delivered, Failed int
	// Validated and Invalid count the rows that passed and failed
	// validation; Submitted the messages a provider accepted.
	Validated, Invalid, Submitted int
	CreatedAt                     time.Time

	state    string // bulkValidating, bulkSending or bulkDone
	enqueued int    // messages handed to the bulk lane so far
	language string // the template's
}

// Status is "validating" while a streamed upload is coming in, then
// "in-progress" until every message reached a provider or
// failed, then "finished".
func (j BulkJob) Status() string {
	if j.state == bulkValidating {
		return bulkValidating
	}
	if j.Queued > 0 {
		return "in-progress"
	}
	return "finished"
}

// parseBulkCSV turns a CSV upload into rows; row numbers count the header
// as row 1.
func parseBulkCSV(channel, text string) ([]BulkRow, []int, error) {
	r, err := newBulkCSV(channel, strings.NewReader(text))
	if err != nil {
		return nil, nil, err
	}
	var (
		rows    []BulkRow
		lineNos []int
	)
	for {
		row, line, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if len(rows) >= MaxBulkRecipients {
			return nil, nil, &rpcerr.FieldError{Field: "csv", Reason: fmt.Sprintf("more than %d recipients", MaxBulkRecipients),
				Code: "csv.too_many", Args: rpcerr.ArgList(strconv.Itoa(MaxBulkRecipients))}
		}
		rows = append(rows, row)
		lineNos = append(lineNos, line)
	}
	return rows, lineNos, nil
}

// bulkCSV reads a bulk CSV one row at a time: a header row naming the
// recipient column (phone_number or email_address), an optional
// reference column, and placeholders. It holds one row, whatever the
// size of the file.
type bulkCSV struct {
	r           *csv.Reader
	header      []string
	col, refCol int
	line        int
}

// newBulkCSV reads and checks the header of a bulk CSV for channel.
func newBulkCSV(channel string, in io.Reader) (*bulkCSV, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	rec, err := r.Read()
	if err != nil {
		return nil, &rpcerr.FieldError{Field: "csv", Reason: "no header row", Code: "csv.header"}
	}
	header := slices.Clone(rec)
	want := recipientField(channel)
	col, refCol := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if fe := textcheck.Check("csv", h, textcheck.Address); fe != nil {
			// The code stays textcheck's (csv.forbidden_character, …), as
			// do its args, which count in the column's name: csv.header
			// is the rule of a missing header row.
			fe.Reason = fmt.Sprintf("header column %d %s", i+1, fe.Reason)
			return nil, fe
		}
		header[i] = h
		switch h {
		case want:
			col = i
		case "reference":
			refCol = i
		}
	}
	if col < 0 {
		return nil, &rpcerr.FieldError{Field: "csv", Reason: fmt.Sprintf("the header has no %s column", want), Code: "csv.recipient_column",
			Args: rpcerr.ArgList(want)}
	}
	return &bulkCSV{r: r, header: header, col: col, refCol: refCol, line: 1}, nil
}

// next returns the next row and its row number (the header is row 1), or
// io.EOF after the last. A row that is not CSV ends the file with a
// field error: what follows cannot be read reliably.
func (b *bulkCSV) next() (BulkRow, int, error) {
	rec, err := b.r.Read()
	if errors.Is(err, io.EOF) {
		return BulkRow{}, 0, io.EOF
	}
	b.line++
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			// The body itself failed (too large, cut off): not a CSV
			// problem.
			return BulkRow{}, b.line, err
		}
		return BulkRow{}, b.line, &rpcerr.FieldError{Field: "csv", Reason: fmt.Sprintf("row %d is not valid CSV", b.line),
			Code: "csv.malformed", Args: rpcerr.ArgList(strconv.Itoa(b.line))}
	}
	row := BulkRow{Personalisation: make(map[string]string, len(b.header))}
	for i, v := range rec {
		switch {
		case i >= len(b.header):
		case i == b.col:
			row.Recipient = strings.TrimSpace(v)
		case i == b.refCol:
			row.Reference = v
		default:
			row.Personalisation[b.header[i]] = v
		}
	}
	return row, b.line, nil
}

// CreateBulkJob validates every row up front and, when all are valid,
// queues one message per row on the bulk lane in one transaction; when
// any is not, it returns *BulkErrors and queues nothing. With an
// Idempotency-Key, repeating the same job returns the same job (however
// many arrive at once) and another job with the key fails with
// ErrIdempotencyMismatch.
func (s *Service) CreateBulkJob(ctx context.Context, client string, in BulkInput) (BulkJob, error) {
	if in.Channel != ChannelSMS && in.Channel != ChannelEmail {
		return BulkJob{}, &rpcerr.FieldError{Field: "channel", Reason: `must be "sms" or "email"`, Code: "channel.unsupported"}
	}
	if err := checkIdempotencyKey(in.IdempotencyKey); err != nil {
		return BulkJob{}, err
	}
	idem := newIdempotency(client, scopeCreateBulkJob, in.IdempotencyKey, in.fingerprint())
	if id, found, err := s.earlier(ctx, idem); err != nil || found {
		return s.createdJob(ctx, client, id, err)
	}
	if err := checkText("reference", in.Reference, textcheck.Address); err != nil {
		return BulkJob{}, err
	}
	if len(in.Reference) > maxReference {
		return BulkJob{}, &rpcerr.FieldError{Field: "reference", Reason: fmt.Sprintf("longer than %d bytes", maxReference), Code: "reference.too_many_bytes", Args: rpcerr.ArgList(strconv.Itoa(maxReference))}
	}
	rows, lineNos := in.Rows, []int(nil)
	switch {
	case in.CSV != "" && len(in.Rows) > 0:
		return BulkJob{}, &rpcerr.FieldError{Field: "csv", Reason: "give recipients or csv, not both", Code: "csv.with_recipients"}
	case in.CSV != "":
		var err error
		if rows, lineNos, err = parseBulkCSV(in.Channel, in.CSV); err != nil {
			return BulkJob{}, err
		}
	}
	if len(rows) == 0 {
		return BulkJob{}, &rpcerr.FieldError{Field: "recipients", Reason: "no recipients", Code: "recipients.required"}
	}
	if len(rows) > MaxBulkRecipients {
		return BulkJob{}, &rpcerr.FieldError{Field: "recipients", Reason: fmt.Sprintf("more than %d recipients", MaxBulkRecipients),
			Code: "recipients.too_many", Args: rpcerr.ArgList(strconv.Itoa(MaxBulkRecipients))}
	}
	t, err := s.clientTemplate(ctx, client, in.TemplateID, in.Channel)
	if err != nil {
		return BulkJob{}, err
	}
	msgs := make([]Notification, 0, len(rows))
	report := &BulkErrors{}
	for i, row := range rows {
		ref := row.Reference
		if ref == "" {
			ref = in.Reference
		}
		n, err := s.prepare(client, t, in.Channel, row.Recipient, row.Personalisation, ref)
		if err != nil {
			line := i + 1
			if lineNos != nil {
				line = lineNos[i]
			}
			report.Total++
			if len(report.Rows) < maxBulkErrors {
				report.Rows = append(report.Rows, rowError(line, err))
			}
			continue
		}
		n.Lane = LaneBulk
		msgs = append(msgs, n)
	}
	if report.Total > 0 {
		return BulkJob{}, report
	}
	if err := s.checkLimits(ctx, s.DB, client, msgs, checkBulk); err != nil {
		// An identical request may have filled the limit meanwhile.
		if id, found, lerr := s.earlier(ctx, idem); lerr != nil || found {
			return s.createdJob(ctx, client, id, lerr)
		}
		return BulkJob{}, err
	}
	jobID, err := store.NewIDFrom(s.Rand, "blk_")
	if err != nil {
		return BulkJob{}, err
	}
	now := s.nowUTC()
	job := BulkJob{ID: jobID, ClientID: client, TemplateID: t.ID, TemplateVersion: t.Version, Channel: in.Channel,
		Reference: in.Reference, Total: len(msgs), Queued: len(msgs), Validated: len(msgs), CreatedAt: now,
		state: bulkDone, enqueued: len(msgs), language: t.Language}
	existing, err := s.claimTx(ctx, "bulk job", idem, jobID, func(tx *sql.Tx) error {
		if err := insertBulkJob(ctx, tx, job, bulkDone); err != nil {
			return err
		}
		for i := range msgs {
			msgs[i].BulkJobID = jobID
			// A campaign's messages announce themselves from sending on:
			// 50,000 "created" events would say nothing the job does not.
			if err := s.queue(ctx, tx, &msgs[i], false); err != nil {
				return err
			}
		}
		return s.countLimits(ctx, tx, client, msgs, checkBulk)
	})
	if err != nil || existing != "" {
		return s.createdJob(ctx, client, existing, err)
	}
	s.noteAccepted(msgs...)
	s.Relay.Kick()
	return job, nil
}

// createdJob is the answer to a job an earlier request with its
// Idempotency-Key created: job id with its progress now, or err.
func (s *Service) createdJob(ctx context.Context, client, id string, err error) (BulkJob, error) {
	if err != nil {
		return BulkJob{}, err
	}
	return s.GetBulkJob(ctx, client, id)
}

// rowError turns a validation error into a row's report.
func rowError(line int, err error) BulkRowError {
	var fe *rpcerr.FieldError
	if errors.As(err, &fe) {
		c := fe.Code
		if c == "" {
			c = rpcerr.FieldCode(fe.Field, "invalid")
		}
		return BulkRowError{Row: line, Field: fe.Field, Code: c, Reason: fe.Reason, Args: fe.Args}
	}
	if errors.Is(err, rpcerr.ErrPermissionDenied) {
		return BulkRowError{Row: line, Field: "phone_number", Code: "phone_number.international", Reason: "international destinations are not allowed for this client"}
	}
	return BulkRowError{Row: line, Code: "invalid", Reason: "invalid"}
}

// GetBulkJob returns client's bulk job id with its progress.
func (s *Service) GetBulkJob(ctx context.Context, client, id string) (BulkJob, error) {
	j, err := getBulkJob(ctx, s.DB, client, id)
	if errors.Is(err, sql.ErrNoRows) {
		return BulkJob{}, fmt.Errorf("bulk job %s: %w", id, rpcerr.ErrNotFound)
	}
	if err != nil {
		return BulkJob{}, fmt.Errorf("notification: bulk job: %w", err)
	}
	j.CreatedAt = j.CreatedAt.UTC()
	return j, nil
}
