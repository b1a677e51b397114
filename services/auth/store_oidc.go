package auth

import (
	"context"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// This file holds the SQL of the authorization code flow (oidc.go,
// authorize.go): authorization requests and single sign-on sessions.

// authRequestRow is an authorization request as stored.
type authRequestRow struct {
	ID            string
	ClientID      string
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string
	// ACRValues is the acr the client asked for ("" or loa1: a password;
	// loa2: a password and an SMS code).
	ACRValues string
	// MaxAgeS is max_age in seconds; -1 when absent.
	MaxAgeS   int64
	Prompt    string
	UILocales string
	// BindingMAC is the MAC of the browser's binding cookie.
	BindingMAC string
	SourceMAC  string
	// Set once the citizen is authenticated.
	CitizenID string
	ACR       string
	AMR       []string
	AuthTime  time.Time
	SessionID string
	// OTPChallengeID is the pending SMS step-up.
	OTPChallengeID string
	CodeUsed       bool
	FamilyID       string
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

const authRequestColumns = `id, client_id, redirect_uri, scopes, state, nonce, code_challenge, acr_values, max_age_s, prompt, ui_locales,
	binding_mac, source_mac, citizen_id, acr, amr, auth_time_ms, session_id, otp_challenge_id, code_used_at IS NOT NULL, family_id,
	created_at_ms, expires_at_ms`

func scanAuthRequest(sc interface{ Scan(...any) error }) (authRequestRow, error) {
	var (
		r                    authRequestRow
		scopes, amr          string
		authMS, crtMS, expMS int64
	)
	err := sc.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &scopes, &r.State, &r.Nonce, &r.CodeChallenge, &r.ACRValues, &r.MaxAgeS, &r.Prompt,
		&r.UILocales, &r.BindingMAC, &r.SourceMAC, &r.CitizenID, &r.ACR, &amr, &authMS, &r.SessionID, &r.OTPChallengeID, &r.CodeUsed,
		&r.FamilyID, &crtMS, &expMS)
	r.Scopes, r.AMR = strings.Fields(scopes), strings.Fields(amr)
	if authMS > 0 {
		r.AuthTime = fromMS(authMS)
	}
	r.CreatedAt, r.ExpiresAt = fromMS(crtMS), fromMS(expMS)
	return r, err
}

func insertAuthRequest(ctx context.Context, q store.Querier, r authRequestRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO auth_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, acr_values,
		max_age_s, prompt, ui_locales, binding_mac, source_mac, created_at_ms, expires_at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, r.ClientID, r.RedirectURI, strings.Join(r.Scopes, " "), r.State, r.Nonce, r.CodeChallenge, r.ACRValues,
		r.MaxAgeS, r.Prompt, r.UILocales, r.BindingMAC, r.SourceMAC, ms(r.CreatedAt), ms(r.ExpiresAt))
	return err
}

func selectAuthRequest(ctx context.Context, q store.Querier, id string) (authRequestRow, error) {
	return scanAuthRequest(q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE id = $1`, id))
}

func selectAuthRequestByCode(ctx context.Context, q store.Querier, codeMAC string) (authRequestRow, error) {
	return scanAuthRequest(q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE code_mac = $1`, codeMAC))
}

// countAuthRequests counts the requests made from a source since sinceMS.
func countAuthRequests(ctx context.Context, q store.Querier, sourceMAC string, sinceMS int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_requests WHERE source_mac = $1 AND created_at_ms > $2`, sourceMAC, sinceMS).Scan(&n)
	return n, err
}

// authenticateAuthRequest records who answered an open request and how.
func authenticateAuthRequest(ctx context.Context, q store.Querier, id string, r authRequestRow) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE auth_requests SET citizen_id = $2, acr = $3, amr = $4, auth_time_ms = $5, session_id = $6,
		otp_challenge_id = $7 WHERE id = $1 AND code_mac IS NULL`,
		id, r.CitizenID, r.ACR, strings.Join(r.AMR, " "), ms(r.AuthTime), r.SessionID, r.OTPChallengeID))
}

// setAuthRequestCode gives an authenticated request its code (once).
func setAuthRequestCode(ctx context.Context, q store.Querier, id, codeMAC string, expires time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE auth_requests SET code_mac = $2, code_expires_ms = $3 WHERE id = $1 AND code_mac IS NULL AND citizen_id <> ''`,
		id, codeMAC, ms(expires)))
}

// useAuthCode consumes an unexpired code; exactly one caller gets true.
func useAuthCode(ctx context.Context, q store.Querier, codeMAC string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE auth_requests SET code_used_at = $2 WHERE code_mac = $1 AND code_used_at IS NULL AND code_expires_ms > $3`,
		codeMAC, now, ms(now)))
}

func setAuthRequestFamily(ctx context.Context, q store.Querier, id, familyID string) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_requests SET family_id = $2 WHERE id = $1`, id, familyID)
	return err
}

// deleteExpiredAuthRequests deletes requests that expired before beforeMS.
func deleteExpiredAuthRequests(ctx context.Context, q store.Querier, beforeMS int64) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM auth_requests WHERE expires_at_ms < $1`, beforeMS)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// revokeFamily revokes one token family (a code used twice).
func revokeFamily(ctx context.Context, q store.Querier, familyID, reason string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE token_families SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL`,
		familyID, now, reason)
	return err
}

// ssoRow is a browser's single sign-on session.
type ssoRow struct {
	TokenMAC  string
	SessionID string
	CitizenID string
	ACR       string
	AMR       []string
	AuthTime  time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

func insertSSO(ctx context.Context, q store.Querier, r ssoRow, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sso_sessions (token_mac, session_id, citizen_id, acr, amr, auth_time_ms, created_at_ms, last_seen_ms, expires_at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
		r.TokenMAC, r.SessionID, r.CitizenID, r.ACR, strings.Join(r.AMR, " "), ms(r.AuthTime), ms(now), ms(r.ExpiresAt))
	return err
}

func selectSSO(ctx context.Context, q store.Querier, tokenMAC string) (ssoRow, error) {
	var (
		r                     ssoRow
		amr                   string
		authMS, seenMS, expMS int64
	)
	err := q.QueryRowContext(ctx, `SELECT token_mac, session_id, citizen_id, acr, amr, auth_time_ms, last_seen_ms, expires_at_ms
		FROM sso_sessions WHERE token_mac = $1`, tokenMAC).Scan(&r.TokenMAC, &r.SessionID, &r.CitizenID, &r.ACR, &amr, &authMS, &seenMS, &expMS)
	r.AMR = strings.Fields(amr)
	r.AuthTime, r.LastSeen, r.ExpiresAt = fromMS(authMS), fromMS(seenMS), fromMS(expMS)
	return r, err
}

// touchSSO records use of the session and, when acr is set, a newer
// authentication in this browser.
func touchSSO(ctx context.Context, q store.Querier, tokenMAC string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sso_sessions SET last_seen_ms = $2 WHERE token_mac = $1`, tokenMAC, ms(now))
	return err
}

// raiseSSO records a step-up made in this browser for its session.
func raiseSSO(ctx context.Context, q store.Querier, tokenMAC, sessionID, acr string, amr []string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sso_sessions SET acr = $3, amr = $4, auth_time_ms = $5, last_seen_ms = $5
		WHERE token_mac = $1 AND session_id = $2`, tokenMAC, sessionID, acr, strings.Join(amr, " "), ms(now))
	return err
}

func deleteSSO(ctx context.Context, q store.Querier, tokenMAC string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sso_sessions WHERE token_mac = $1`, tokenMAC)
	return err
}

// deleteSSOOfSession forgets every browser of a session (logout).
func deleteSSOOfSession(ctx context.Context, q store.Querier, sessionID string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sso_sessions WHERE session_id = $1`, sessionID)
	return err
}

// insertClientAssertion records an accepted assertion's jti (its MAC)
// until it expires; a unique violation is a replay.
func insertClientAssertion(ctx context.Context, q store.Querier, jtiMAC, clientID string, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO client_assertions (jti_mac, client_id, expires_at_ms) VALUES ($1, $2, $3)`,
		jtiMAC, clientID, ms(expires))
	return err
}

// deleteExpiredProtocolRows prunes expired assertion jtis and pushed
// requests.
func deleteExpiredProtocolRows(ctx context.Context, q store.Querier, beforeMS int64) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM client_assertions WHERE expires_at_ms < $1`, beforeMS); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, `DELETE FROM pushed_requests WHERE expires_at_ms < $1`, beforeMS)
	return err
}

// insertPushedRequest stores a pushed authorization request.
func insertPushedRequest(ctx context.Context, q store.Querier, uriMAC, clientID, params string, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO pushed_requests (uri_mac, client_id, params, expires_at_ms) VALUES ($1, $2, $3, $4)`,
		uriMAC, clientID, params, ms(expires))
	return err
}

// usePushedRequest consumes an unexpired pushed request of the client
// and returns its parameters; ok is false when there is none (unknown,
// another client's, expired or used).
func usePushedRequest(ctx context.Context, q store.Querier, uriMAC, clientID string, now time.Time) (params string, ok bool, err error) {
	err = q.QueryRowContext(ctx, `UPDATE pushed_requests SET used_at = $3 WHERE uri_mac = $1 AND client_id = $2 AND used_at IS NULL
		AND expires_at_ms > $4 RETURNING params`, uriMAC, clientID, now, ms(now)).Scan(&params)
	if err != nil {
		if store.IsNoRows(err) {
			return "", false, nil
		}
		return "", false, err
	}
	return params, true, nil
}

// sessionClients returns the clients that got tokens in a session.
func sessionClients(ctx context.Context, q store.Querier, sessionID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT azp FROM token_families WHERE session_id = $1 AND azp <> '' ORDER BY azp`, sessionID)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
