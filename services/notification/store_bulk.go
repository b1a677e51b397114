package notification

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of bulk jobs: the job's row with its progress counters, the
// recipients of a streamed upload and its per-row report.

// Bulk job states (bulk_jobs.state).
const (
	// bulkValidating: an upload is still streaming in; the job is not
	// sent and is deleted if the upload fails.
	bulkValidating = "validating"
	// bulkSending: validated; the feeder queues its recipients.
	bulkSending = "sending"
	// bulkDone: every recipient is queued (the counters tell the rest).
	bulkDone = "done"
)

// insertBulkJob writes job's row.
func insertBulkJob(ctx context.Context, q store.Querier, job BulkJob, state string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO bulk_jobs (id, client_id, template_id, template_version, channel, reference, total, created_at,
	state, validated, queued, language)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, job.ID, job.ClientID, job.TemplateID, job.TemplateVersion, job.Channel, job.Reference,
		job.Total, job.CreatedAt, state, job.Validated, job.enqueued, job.language)
	return err
}

// getBulkJob reads client's bulk job id with its counters; the error is
// sql.ErrNoRows when there is none.
func getBulkJob(ctx context.Context, q store.Querier, client, id string) (BulkJob, error) {
	j := BulkJob{ID: id}
	var started int
	err := q.QueryRowContext(ctx, `SELECT client_id, template_id, template_version, channel, reference, total, created_at,
	state, validated, invalid, queued,
	COALESCE(c.started, 0), COALESCE(c.submitted, 0), COALESCE(c.delivered, 0), COALESCE(c.failed, 0)
FROM bulk_jobs LEFT JOIN (SELECT job_id, SUM(started) AS started, SUM(submitted) AS submitted, SUM(delivered) AS delivered, SUM(failed) AS failed
	FROM bulk_job_counters WHERE job_id = $1 GROUP BY job_id) c ON c.job_id = bulk_jobs.id
WHERE id = $1 AND client_id = $2`, id, client).Scan(
		&j.ClientID, &j.TemplateID, &j.TemplateVersion, &j.Channel, &j.Reference, &j.Total, store.ScanTime(&j.CreatedAt),
		&j.state, &j.Validated, &j.Invalid, &j.enqueued, &started, &j.Submitted, &j.Delivered, &j.Failed)
	// Queued and Sent keep their first meaning: not yet handed to a
	// provider, and handed (sending or delivered).
	j.Queued = j.Total - started
	j.Sent = started - j.Failed
	return j, err
}

// bulkCounter is a column of bulk_job_counters: a job's progress.
type bulkCounter string

const (
	counterStarted   bulkCounter = "started"
	counterSubmitted bulkCounter = "submitted"
	counterDelivered bulkCounter = "delivered"
	counterFailed    bulkCounter = "failed"
)

// counterShards is how many rows each of a job's progress counters and
// each usage_daily key is spread over (migration 0008): concurrent
// transitions of one job or one client mostly add to different rows, so
// they do not wait for each other's row locks.
const counterShards = 16

// counterShard is the shard message id adds to.
func counterShard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % counterShards)
}

// addBulkCounters adds one to each of cs on job, in the shard of message
// msg, in the transaction that moved the message.
func addBulkCounters(ctx context.Context, tx *sql.Tx, job, msg string, cs []bulkCounter) error {
	if len(cs) == 0 {
		return nil
	}
	add := map[bulkCounter]int{}
	sets := make([]string, len(cs))
	for i, c := range cs {
		add[c] = 1
		sets[i] = fmt.Sprintf("%s = bulk_job_counters.%s + 1", c, c)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO bulk_job_counters (job_id, shard, started, submitted, delivered, failed)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (job_id, shard) DO UPDATE SET `+strings.Join(sets, ", "),
		job, counterShard(msg), add[counterStarted], add[counterSubmitted], add[counterDelivered], add[counterFailed])
	return err
}

// errUploadAbandoned: the job of an upload was deleted as abandoned before
// its upload finished (DEADLINE_EXCEEDED to the caller).
var errUploadAbandoned = fmt.Errorf("notification: the bulk upload took too long and was abandoned: %w", context.DeadlineExceeded)

// finishUpload records the validated upload of job: its counts and the
// state it goes on in; errUploadAbandoned when the job is no longer
// validating (the sweep deleted it).
func finishUpload(ctx context.Context, tx *sql.Tx, job, state string, valid, invalid int) error {
	res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = $1, total = $2, validated = $2, invalid = $3 WHERE id = $4 AND state = $5`,
		state, valid, invalid, job, bulkValidating)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return errUploadAbandoned
	}
	return nil
}

// abandonedUploads lists up to limit jobs still validating that were
// created before before.
func abandonedUploads(ctx context.Context, q store.Querier, before time.Time, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM bulk_jobs WHERE state = $1 AND created_at < $2 ORDER BY created_at LIMIT $3`,
		bulkValidating, before, limit)
	if err != nil {
		return nil, err
	}
	return store.CollectColumn[string](rows)
}

// setValidated records how many rows of job's upload have been read so
// far, valid and invalid.
func setValidated(ctx context.Context, tx *sql.Tx, job string, valid, invalid int) error {
	_, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET validated = $1, invalid = $2 WHERE id = $3`, valid, invalid, job)
	return err
}

// advanceFeed moves job's feed cursor from fedLine to last, counting
// queued more messages and setting state; errConcurrentChange when the
// cursor is no longer at fedLine (another feeder did the batch).
func advanceFeed(ctx context.Context, tx *sql.Tx, job string, fedLine, last, queued int, state string) error {
	res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET fed_line = $1, queued = queued + $2, state = $3 WHERE id = $4 AND fed_line = $5 AND state = $6`,
		last, queued, state, job, fedLine, bulkSending)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errConcurrentChange
	}
	return nil
}

// bulkRecipient is a validated, rendered row of a streamed job.
type bulkRecipient struct {
	line int
	n    Notification
}

// insertRecipients writes rs, job's validated rows.
func insertRecipients(ctx context.Context, tx *sql.Tx, job string, rs []bulkRecipient) error {
	return insertMany(ctx, tx, "bulk_recipients", "job_id, line, recipient, reference, body, subject, html, encoding, segments, country", 10, rs,
		func(r bulkRecipient) []any {
			return []any{job, r.line, r.n.Recipient, r.n.Reference, r.n.Body, r.n.Subject, r.n.HTML, string(r.n.Encoding), r.n.Segments, r.n.Country}
		})
}

// insertMany writes items into table's cols (ncols of them) with
// multi-row INSERTs of at most insertRows rows: both engines bound the
// parameters of one statement.
func insertMany[T any](ctx context.Context, tx *sql.Tx, table, cols string, ncols int, items []T, row func(T) []any) error {
	for len(items) > 0 {
		chunk := items[:min(len(items), insertRows)]
		items = items[len(chunk):]
		args := make([]any, 0, ncols*len(chunk))
		for _, it := range chunk {
			args = append(args, row(it)...)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+cols+`) VALUES `+store.Placeholders(len(chunk), ncols, 1), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// insertRows is the most rows one multi-row INSERT carries.
const insertRows = 250

// insertRowErrors writes es, job's refused rows.
func insertRowErrors(ctx context.Context, tx *sql.Tx, job string, es []BulkRowError) error {
	return insertMany(ctx, tx, "bulk_row_errors", "job_id, line, field, code, reason", 5, es, func(e BulkRowError) []any {
		return []any{job, e.Row, e.Field, e.Code, e.Reason}
	})
}

// listRowErrors returns up to limit of job's row errors after line.
func listRowErrors(ctx context.Context, q store.Querier, job string, after, limit int) ([]BulkRowError, error) {
	rows, err := q.QueryContext(ctx, `SELECT line, field, code, reason FROM bulk_row_errors WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3`, job, after, limit)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (BulkRowError, error) {
		var e BulkRowError
		err := r.Scan(&e.Row, &e.Field, &e.Code, &e.Reason)
		return e, err
	})
}

// listRecipients returns up to limit of job's recipients after line.
func listRecipients(ctx context.Context, q store.Querier, job string, after, limit int) ([]bulkRecipient, error) {
	rows, err := q.QueryContext(ctx, `SELECT line, recipient, reference, body, subject, html, encoding, segments, country
FROM bulk_recipients WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3`, job, after, limit)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (bulkRecipient, error) {
		var (
			b   bulkRecipient
			enc string
		)
		err := r.Scan(&b.line, &b.n.Recipient, &b.n.Reference, &b.n.Body, &b.n.Subject, &b.n.HTML, &enc, &b.n.Segments, &b.n.Country)
		b.n.Encoding = Encoding(enc)
		return b, err
	})
}

// deleteBulkJob removes a job whose upload failed, with what it stored.
func deleteBulkJob(ctx context.Context, tx *sql.Tx, id string) error {
	for _, q := range []string{`DELETE FROM bulk_recipients WHERE job_id = $1`, `DELETE FROM bulk_row_errors WHERE job_id = $1`,
		`DELETE FROM bulk_job_counters WHERE job_id = $1`, `DELETE FROM bulk_jobs WHERE id = $1`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// sendingBulkJobs lists the jobs the feeder has recipients to queue of.
func sendingBulkJobs(ctx context.Context, q store.Querier) ([]feedState, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, client_id, template_id, template_version, channel, language, fed_line, queued,
	(SELECT COALESCE(SUM(started), 0) FROM bulk_job_counters WHERE job_id = bulk_jobs.id)
FROM bulk_jobs WHERE state = $1 ORDER BY created_at, id`, bulkSending)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (feedState, error) {
		var f feedState
		err := r.Scan(&f.id, &f.client, &f.templateID, &f.templateVersion, &f.channel, &f.language, &f.fedLine, &f.queued, &f.started)
		return f, err
	})
}
