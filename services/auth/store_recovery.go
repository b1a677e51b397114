package auth

import (
	"context"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// SQL of the hosted pages' account creation and password reset
// (recovery.go), one text for SQLite and PostgreSQL.

// pageFlow is the SMS challenge an account creation or a reset waits for.
type pageFlow struct {
	AuthRequestID string
	Kind          string
	ChallengeID   string
	CitizenID     string
	SentAt        time.Time
	ExpiresAt     time.Time
}

// upsertPageFlow starts or restarts the flow of its kind for a request.
func upsertPageFlow(ctx context.Context, q store.Querier, f pageFlow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO page_flows (auth_request_id, kind, challenge_id, citizen_id, sent_at_ms, expires_at_ms)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (auth_request_id, kind) DO UPDATE SET challenge_id = $3, citizen_id = $4, sent_at_ms = $5, expires_at_ms = $6`,
		f.AuthRequestID, f.Kind, f.ChallengeID, f.CitizenID, ms(f.SentAt), ms(f.ExpiresAt))
	return err
}

func selectPageFlow(ctx context.Context, q store.Querier, requestID, kind string) (pageFlow, error) {
	var (
		f             pageFlow
		sentMS, expMS int64
	)
	err := q.QueryRowContext(ctx, `SELECT auth_request_id, kind, challenge_id, citizen_id, sent_at_ms, expires_at_ms
		FROM page_flows WHERE auth_request_id = $1 AND kind = $2`, requestID, kind).
		Scan(&f.AuthRequestID, &f.Kind, &f.ChallengeID, &f.CitizenID, &sentMS, &expMS)
	f.SentAt, f.ExpiresAt = fromMS(sentMS), fromMS(expMS)
	return f, err
}

// deletePageFlow ends a flow (its code was used).
func deletePageFlow(ctx context.Context, q store.Querier, requestID, kind string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM page_flows WHERE auth_request_id = $1 AND kind = $2`, requestID, kind)
	return err
}

// aliveSessionsOf lists the sessions (login families) of a citizen that
// are not revoked.
func aliveSessionsOf(ctx context.Context, q store.Querier, citizenID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM token_families WHERE citizen_id = $1 AND id = session_id AND revoked_at IS NULL`, citizenID)
	if err != nil {
		return nil, err
	}
	return store.CollectColumn[string](rows)
}

// revokeCitizenFamilies revokes every family of a citizen, whichever
// session it belongs to (a password reset).
func revokeCitizenFamilies(ctx context.Context, q store.Querier, citizenID, reason string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE token_families SET revoked_at = $2, revoke_reason = $3 WHERE citizen_id = $1 AND revoked_at IS NULL`,
		citizenID, now, reason)
	return err
}

// deleteSSOOfCitizen forgets every browser of a citizen.
func deleteSSOOfCitizen(ctx context.Context, q store.Querier, citizenID string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sso_sessions WHERE citizen_id = $1`, citizenID)
	return err
}
