package notification

import (
	"context"
	"fmt"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of bulk jobs: the job's row and its progress, counted from its
// messages' statuses.

// insertBulkJob writes job's row.
func insertBulkJob(ctx context.Context, q store.Querier, job BulkJob) error {
	_, err := q.ExecContext(ctx, `INSERT INTO bulk_jobs (id, client_id, template_id, template_version, channel, reference, total, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, job.ID, job.ClientID, job.TemplateID, job.TemplateVersion, job.Channel, job.Reference, job.Total, job.CreatedAt)
	return err
}

// getBulkJob reads client's bulk job id, without its progress; the error
// is sql.ErrNoRows when there is none.
func getBulkJob(ctx context.Context, q store.Querier, client, id string) (BulkJob, error) {
	j := BulkJob{ID: id}
	err := q.QueryRowContext(ctx, `SELECT client_id, template_id, template_version, channel, reference, total, created_at
FROM bulk_jobs WHERE id = $1 AND client_id = $2`, id, client).Scan(
		&j.ClientID, &j.TemplateID, &j.TemplateVersion, &j.Channel, &j.Reference, &j.Total, store.ScanTime(&j.CreatedAt))
	return j, err
}

// bulkJobStatuses calls fn with each status among bulk job id's messages
// and how many have it.
func bulkJobStatuses(ctx context.Context, q store.Querier, id string, fn func(status string, n int)) error {
	rows, err := q.QueryContext(ctx, `SELECT status, COUNT(*) FROM notifications WHERE bulk_job_id = $1 GROUP BY status`, id)
	if err != nil {
		return fmt.Errorf("notification: bulk job: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st string
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		fn(st, n)
	}
	return rows.Err()
}
