package auth

import (
	"context"
	"database/sql"
	"embed"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

// This file holds the service's SQL: one text for SQLite and PostgreSQL
// ($n placeholders, ON CONFLICT, RETURNING, BOOLEAN, TIMESTAMP). Times that
// SQL compares are Unix milliseconds.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
var Migrations = host.Migrations(Name, migrationFiles, "migrations")

// ms is t as Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the UTC time of Unix milliseconds.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// one checks that an UPDATE or DELETE touched exactly one row.
func one(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// --- clients ---------------------------------------------------------------

const clientColumns = `id, name, ministry, organization, scopes, disabled,
	redirect_uris, post_logout_redirect_uris, public, loopback, token_auth_method, max_acr,
	jwks, jwks_uri, backchannel_logout_uri, id_token_alg, allowed_origins`

func scanClient(sc interface{ Scan(...any) error }, extra ...any) (Client, error) {
	var (
		c                           Client
		scopes, uris, post, origins string
	)
	if err := sc.Scan(append([]any{&c.ID, &c.Name, &c.Ministry, &c.Organization, &scopes, &c.Disabled,
		&uris, &post, &c.Public, &c.Loopback, &c.TokenAuthMethod, &c.MaxACR,
		&c.JWKS, &c.JWKSURI, &c.BackchannelLogoutURI, &c.IDTokenAlg, &origins}, extra...)...); err != nil {
		return Client{}, err
	}
	c.Scopes = strings.Fields(scopes)
	c.AllowedOrigins = strings.Fields(origins)
	c.RedirectURIs, c.PostLogoutRedirectURIs = strings.Fields(uris), strings.Fields(post)
	return c, nil
}

func upsertClient(ctx context.Context, q store.Querier, spec ClientSpec, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `
INSERT INTO clients (id, name, ministry, secret_hash, scopes, disabled, created_at, updated_at, organization,
	redirect_uris, post_logout_redirect_uris, public, loopback, token_auth_method, max_acr,
	jwks, jwks_uri, backchannel_logout_uri, id_token_alg, allowed_origins)
VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (id) DO UPDATE SET name = $2, ministry = $3, secret_hash = $4, scopes = $5, updated_at = $6, organization = $7,
	redirect_uris = $8, post_logout_redirect_uris = $9, public = $10, loopback = $11, token_auth_method = $12, max_acr = $13,
	jwks = $14, jwks_uri = $15, backchannel_logout_uri = $16, id_token_alg = $17`,
		clientArgs(spec, hash, now)...)
	return err
}

// clientArgs are the arguments $1…$18 of upsertClient and insertClient
// (upsertClient keeps an existing client's allowed origins, $18).
func clientArgs(spec ClientSpec, hash string, now time.Time) []any {
	return []any{spec.ID, spec.Name, spec.Ministry, hash, strings.Join(spec.Scopes, " "), now, spec.Organization,
		strings.Join(spec.RedirectURIs, " "), strings.Join(spec.PostLogoutRedirectURIs, " "), spec.Public, spec.Loopback,
		spec.TokenAuthMethod, spec.MaxACR, spec.JWKS, spec.JWKSURI, spec.BackchannelLogoutURI, spec.IDTokenAlg,
		strings.Join(spec.AllowedOrigins, " ")}
}

func insertClient(ctx context.Context, q store.Querier, spec ClientSpec, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `
INSERT INTO clients (id, name, ministry, secret_hash, scopes, disabled, created_at, updated_at, organization,
	redirect_uris, post_logout_redirect_uris, public, loopback, token_auth_method, max_acr,
	jwks, jwks_uri, backchannel_logout_uri, id_token_alg, allowed_origins)
VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		clientArgs(spec, hash, now)...)
	return err
}

func selectClient(ctx context.Context, q store.Querier, id string) (Client, error) {
	return scanClient(q.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
}

func selectClientWithSecret(ctx context.Context, q store.Querier, id string) (Client, string, error) {
	var hash string
	c, err := scanClient(q.QueryRowContext(ctx, `SELECT `+clientColumns+`, secret_hash FROM clients WHERE id = $1`, id), &hash)
	return c, hash, err
}

func selectClients(ctx context.Context, q store.Querier) ([]Client, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (Client, error) { return scanClient(r) })
}

func updateClientSecret(ctx context.Context, q store.Querier, id, hash string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE clients SET secret_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, now))
}

// replaceClientSecretHash stores hash as id's secret hash only if the
// stored one is still old (a rotation meanwhile wins).
func replaceClientSecretHash(ctx context.Context, q store.Querier, id, old, hash string) error {
	_, err := q.ExecContext(ctx, `UPDATE clients SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2`, id, old, hash)
	return err
}

func updateClientOrganization(ctx context.Context, q store.Querier, id, org string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE clients SET organization = $2, updated_at = $3 WHERE id = $1`, id, org, now))
}

func disableClient(ctx context.Context, q store.Querier, id string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE clients SET disabled = TRUE, updated_at = $2 WHERE id = $1`, id, now))
}

func updateClientOrigins(ctx context.Context, q store.Querier, id string, origins []string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE clients SET allowed_origins = $2, updated_at = $3 WHERE id = $1`, id, strings.Join(origins, " "), now))
}

// selectClientOrigins maps every enabled client with origins to them.
func selectClientOrigins(ctx context.Context, q store.Querier) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, allowed_origins FROM clients WHERE NOT disabled AND allowed_origins <> '' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	type row struct{ id, origins string }
	all, err := store.CollectRows(rows, func(r store.Row) (row, error) {
		var v row
		return v, r.Scan(&v.id, &v.origins)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(all))
	for _, v := range all {
		out[v.id] = strings.Fields(v.origins)
	}
	return out, nil
}

// --- citizens --------------------------------------------------------------

// citizenRow is a citizens row as the domain needs it.
type citizenRow struct {
	ID                string
	NationalIDMAC     string
	NationalIDEnc     string
	PhoneNumber       string
	PhoneVerified     bool
	Email             string
	PasswordHash      string
	GivenName         string
	FamilyName        string
	PreferredLanguage string
	ProofingLevel     string
	TOTPSecretEnc     string
	TOTPEnabled       bool
	TOTPLastStep      int64
	CreatedAt         time.Time
}

const citizenColumns = `id, national_id_mac, national_id_enc, phone_number, phone_verified, email, password_hash,
	given_name, family_name, preferred_language, proofing_level, totp_secret_enc, totp_enabled, totp_last_step, created_at`

func scanCitizen(sc interface{ Scan(...any) error }) (citizenRow, error) {
	var c citizenRow
	err := sc.Scan(&c.ID, &c.NationalIDMAC, &c.NationalIDEnc, &c.PhoneNumber, &c.PhoneVerified, &c.Email, &c.PasswordHash,
		&c.GivenName, &c.FamilyName, &c.PreferredLanguage, &c.ProofingLevel, &c.TOTPSecretEnc, &c.TOTPEnabled, &c.TOTPLastStep,
		store.ScanTime(&c.CreatedAt))
	return c, err
}

func insertCitizen(ctx context.Context, q store.Querier, c citizenRow) error {
	_, err := q.ExecContext(ctx, `
INSERT INTO citizens (id, national_id_mac, national_id_enc, phone_number, phone_verified, email, password_hash,
	given_name, family_name, preferred_language, proofing_level, created_at, updated_at)
VALUES ($1, $2, $3, $4, FALSE, $5, $6, $7, $8, $9, $10, $11, $11)`,
		c.ID, c.NationalIDMAC, c.NationalIDEnc, c.PhoneNumber, c.Email, c.PasswordHash,
		c.GivenName, c.FamilyName, c.PreferredLanguage, c.ProofingLevel, c.CreatedAt)
	return err
}

func selectCitizen(ctx context.Context, q store.Querier, id string) (citizenRow, error) {
	return scanCitizen(q.QueryRowContext(ctx, `SELECT `+citizenColumns+` FROM citizens WHERE id = $1`, id))
}

func selectCitizenByNationalID(ctx context.Context, q store.Querier, nidMAC string) (citizenRow, error) {
	return scanCitizen(q.QueryRowContext(ctx, `SELECT `+citizenColumns+` FROM citizens WHERE national_id_mac = $1`, nidMAC))
}

func updatePasswordHash(ctx context.Context, q store.Querier, id, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE citizens SET password_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, now)
	return err
}

func updateProofing(ctx context.Context, q store.Querier, id, level, by, evidence string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE citizens SET proofing_level = $2, proofed_by = $3, proof_evidence = $4, updated_at = $5 WHERE id = $1`,
		id, level, by, evidence, now))
}

func markPhoneVerified(ctx context.Context, q store.Querier, id, phone string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE citizens SET phone_verified = TRUE, updated_at = $3 WHERE id = $1 AND phone_number = $2`, id, phone, now))
}

func updateTOTPSecret(ctx context.Context, q store.Querier, id, sealed string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE citizens SET totp_secret_enc = $2, totp_enabled = FALSE, updated_at = $3
		WHERE id = $1 AND totp_enabled = FALSE`, id, sealed, now))
}

func enableTOTP(ctx context.Context, q store.Querier, id string, step int64, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE citizens SET totp_enabled = TRUE, totp_last_step = $2, updated_at = $3
		WHERE id = $1 AND totp_enabled = FALSE AND totp_secret_enc <> ''`, id, step, now))
}

// advanceTOTPStep records step as the last accepted one, only if it is
// later than the one recorded: the replay guard.
func advanceTOTPStep(ctx context.Context, q store.Querier, id string, step int64) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE citizens SET totp_last_step = $2 WHERE id = $1 AND totp_enabled = TRUE AND totp_last_step < $2`, id, step))
}

func replaceRecoveryCodes(ctx context.Context, q store.Querier, citizenID string, macs []string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE citizen_id = $1`, citizenID); err != nil {
		return err
	}
	for _, m := range macs {
		if _, err := q.ExecContext(ctx, `INSERT INTO recovery_codes (citizen_id, code_mac) VALUES ($1, $2)`, citizenID, m); err != nil {
			return err
		}
	}
	return nil
}

func useRecoveryCode(ctx context.Context, q store.Querier, citizenID, codeMAC string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE citizen_id = $1 AND code_mac = $2 AND used_at IS NULL`,
		citizenID, codeMAC, now))
}

// --- signing keys ----------------------------------------------------------

type keyRow struct {
	KID           string
	PrivateKeyEnc string
	CreatedAtMS   int64
	Retired       bool
}

// selectPublishedKeys returns the keys still in the JWKS at nowMS, newest
// first.
func selectPublishedKeys(ctx context.Context, q store.Querier, nowMS int64) ([]keyRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, private_key_enc, created_at_ms, retired_at_ms IS NOT NULL FROM signing_keys
		WHERE publish_until_ms IS NULL OR publish_until_ms > $1 ORDER BY created_at_ms DESC, kid DESC`, nowMS)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (keyRow, error) {
		var k keyRow
		err := r.Scan(&k.KID, &k.PrivateKeyEnc, &k.CreatedAtMS, &k.Retired)
		return k, err
	})
}

func insertKey(ctx context.Context, q store.Querier, kid, sealed string, nowMS int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO signing_keys (kid, private_key_enc, created_at_ms) VALUES ($1, $2, $3)`, kid, sealed, nowMS)
	return err
}

// retireKeys stops every active key from signing and keeps it published
// until publishUntilMS.
func retireKeys(ctx context.Context, q store.Querier, nowMS, publishUntilMS int64) error {
	_, err := q.ExecContext(ctx, `UPDATE signing_keys SET retired_at_ms = $1, publish_until_ms = $2 WHERE retired_at_ms IS NULL`, nowMS, publishUntilMS)
	return err
}

// --- refresh tokens --------------------------------------------------------

type familyRow struct {
	ID string
	// SessionID is the sid of the family's access tokens: its own id for a
	// login, the session it was started from for a step-up.
	SessionID string
	CitizenID string
	ACR       string
	AMR       []string
	AuthTime  time.Time
	AZP       string
	// Scopes are the OpenID scopes a code-flow family was granted.
	Scopes []string
}

func insertFamily(ctx context.Context, q store.Querier, f familyRow, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO token_families (id, session_id, citizen_id, acr, amr, auth_time_ms, azp, created_at, scopes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, f.ID, f.SessionID, f.CitizenID, f.ACR, strings.Join(f.AMR, " "), ms(f.AuthTime), f.AZP, now,
		strings.Join(f.Scopes, " "))
	return err
}

func insertRefreshToken(ctx context.Context, q store.Querier, tokenMAC, familyID string, expires, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO refresh_tokens (token_mac, family_id, expires_at_ms, created_at) VALUES ($1, $2, $3, $4)`,
		tokenMAC, familyID, ms(expires), now)
	return err
}

// refreshLookup is a refresh token with its family.
type refreshLookup struct {
	Family    familyRow
	Used      bool
	Revoked   bool
	ExpiresAt time.Time
}

func selectRefreshToken(ctx context.Context, q store.Querier, tokenMAC string) (refreshLookup, error) {
	var (
		r            refreshLookup
		amr, scopes  string
		authMS, expM int64
	)
	err := q.QueryRowContext(ctx, `SELECT f.id, f.session_id, f.citizen_id, f.acr, f.amr, f.auth_time_ms, f.azp, f.revoked_at IS NOT NULL,
			t.used_at IS NOT NULL, t.expires_at_ms, f.scopes
		FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_mac = $1`, tokenMAC).
		Scan(&r.Family.ID, &r.Family.SessionID, &r.Family.CitizenID, &r.Family.ACR, &amr, &authMS, &r.Family.AZP, &r.Revoked, &r.Used, &expM, &scopes)
	r.Family.AMR = strings.Fields(amr)
	r.Family.Scopes = strings.Fields(scopes)
	r.Family.AuthTime = fromMS(authMS)
	r.ExpiresAt = fromMS(expM)
	return r, err
}

func useRefreshToken(ctx context.Context, q store.Querier, tokenMAC string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_mac = $1 AND used_at IS NULL`, tokenMAC, now))
}

// revokeSession revokes every family of session sessionID and reports
// whether the session was alive until now. The session's own row (the
// login family, id = session id) is revoked first: a step-up that holds it
// (lockSession) finishes first and its new family is then revoked by the
// second statement, or it waits and finds the session ended.
func revokeSession(ctx context.Context, q store.Querier, sessionID, reason string, now time.Time) (bool, error) {
	alive, err := one(q.ExecContext(ctx, `UPDATE token_families SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL`,
		sessionID, now, reason))
	if err != nil {
		return false, err
	}
	_, err = q.ExecContext(ctx, `UPDATE token_families SET revoked_at = $2, revoke_reason = $3 WHERE session_id = $1 AND revoked_at IS NULL`,
		sessionID, now, reason)
	return alive, err
}

// sessionAlive reports whether the session's login family is not revoked.
func sessionAlive(ctx context.Context, q store.Querier, sessionID string) (bool, error) {
	var alive bool
	err := q.QueryRowContext(ctx, `SELECT revoked_at IS NULL FROM token_families WHERE id = $1`, sessionID).Scan(&alive)
	if store.IsNoRows(err) {
		return false, nil
	}
	return alive, err
}

// lockSession is sessionAlive inside a transaction that is about to start
// a family of the session: the no-op UPDATE holds the session's row until
// commit, so a concurrent revokeSession either waits for this transaction
// (and then revokes its family too) or has already committed (and this
// finds the session ended).
func lockSession(ctx context.Context, q store.Querier, sessionID string) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE token_families SET session_id = session_id WHERE id = $1 AND revoked_at IS NULL`, sessionID))
}

// sessionFamilyRow is one family of a citizen's live session, for the
// list of sessions.
type sessionFamilyRow struct {
	SessionID string
	ACR       string
	AZP       string
	// Organization is the AZP client's registered organisation.
	Organization string
	CreatedAt    time.Time
	// LastIssued is when the family's newest refresh token was issued,
	// ExpiresMS when its latest one expires.
	LastIssued time.Time
	ExpiresMS  int64
}

// selectSessionFamilies returns every family of citizenID's sessions whose
// login family is not revoked, oldest first.
func selectSessionFamilies(ctx context.Context, q store.Querier, citizenID string) ([]sessionFamilyRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT f.session_id, f.acr, f.azp, COALESCE(c.organization, ''), f.created_at,
			(SELECT MAX(t.created_at) FROM refresh_tokens t WHERE t.family_id = f.id),
			COALESCE((SELECT MAX(t.expires_at_ms) FROM refresh_tokens t WHERE t.family_id = f.id), 0)
		FROM token_families f
		JOIN token_families l ON l.id = f.session_id
		LEFT JOIN clients c ON c.id = f.azp
		WHERE f.citizen_id = $1 AND l.citizen_id = $1 AND l.revoked_at IS NULL
		ORDER BY f.created_at, f.id`, citizenID)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(row store.Row) (sessionFamilyRow, error) {
		var (
			r    sessionFamilyRow
			last sql.NullTime
		)
		if err := row.Scan(&r.SessionID, &r.ACR, &r.AZP, &r.Organization, &r.CreatedAt, store.ScanNullTime(&last), &r.ExpiresMS); err != nil {
			return r, err
		}
		r.LastIssued = r.CreatedAt
		if last.Valid {
			r.LastIssued = last.Time
		}
		return r, nil
	})
}

// ssoUseRow is the latest use and expiry of a session's browsers.
type ssoUseRow struct {
	SessionID string
	LastSeen  time.Time
	ExpiresMS int64
}

// selectSSOUse returns, per session of citizenID signed in in a browser,
// when a browser last used it and when the last of them expires.
func selectSSOUse(ctx context.Context, q store.Querier, citizenID string) ([]ssoUseRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT session_id, MAX(last_seen_ms), MAX(expires_at_ms) FROM sso_sessions
		WHERE citizen_id = $1 GROUP BY session_id`, citizenID)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(row store.Row) (ssoUseRow, error) {
		var (
			r      ssoUseRow
			seenMS int64
		)
		err := row.Scan(&r.SessionID, &seenMS, &r.ExpiresMS)
		r.LastSeen = fromMS(seenMS)
		return r, err
	})
}

// sessionOwner returns the citizen of a session (its login family).
func sessionOwner(ctx context.Context, q store.Querier, sessionID string) (string, error) {
	var citizenID string
	err := q.QueryRowContext(ctx, `SELECT citizen_id FROM token_families WHERE id = $1 AND session_id = $1`, sessionID).Scan(&citizenID)
	return citizenID, err
}

// --- login throttling ------------------------------------------------------

type throttleRow struct {
	Failures      int
	LastFailureMS int64
	LockedUntilMS int64
}

// selectThrottles reads the counters of keys in one statement; a key with
// no counter is absent from the map.
func selectThrottles(ctx context.Context, q store.Querier, keys ...string) (map[string]throttleRow, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := q.QueryContext(ctx, `SELECT throttle_key, failures, last_failure_ms, locked_until_ms FROM login_throttle
		WHERE throttle_key IN `+store.Placeholders(1, len(keys), 1), args...)
	if err != nil {
		return nil, err
	}
	return store.CollectMap(rows, func(r store.Row) (string, throttleRow, error) {
		var key string
		var t throttleRow
		err := r.Scan(&key, &t.Failures, &t.LastFailureMS, &t.LockedUntilMS)
		return key, t, err
	})
}

// countFailure adds a failure to key's counter (restarting it when the
// last failure is older than windowStartMS) and returns the new count;
// account ("" for none) names the account the counter belongs to.
func countFailure(ctx context.Context, q store.Querier, key, account string, nowMS, windowStartMS int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `
INSERT INTO login_throttle (throttle_key, account, failures, last_failure_ms, locked_until_ms) VALUES ($1, $4, 1, $2, 0)
ON CONFLICT (throttle_key) DO UPDATE SET
	failures = CASE WHEN login_throttle.last_failure_ms < $3 THEN 1 ELSE login_throttle.failures + 1 END,
	last_failure_ms = $2
RETURNING failures`, key, nowMS, windowStartMS, account).Scan(&n)
	return n, err
}

// accountLocked reports whether any lock of the account (from every
// source, or from one) is in force at nowMS.
func accountLocked(ctx context.Context, q store.Querier, account string, nowMS int64) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_throttle WHERE account = $1 AND locked_until_ms > $2`, account, nowMS).Scan(&n)
	return n > 0, err
}

// clearAccount deletes every failure counter and lock of the account.
func clearAccount(ctx context.Context, q store.Querier, account string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM login_throttle WHERE account = $1`, account)
	return err
}

// lock locks key until untilMS and restarts its counter.
func lock(ctx context.Context, q store.Querier, key string, untilMS int64) error {
	_, err := q.ExecContext(ctx, `UPDATE login_throttle SET failures = 0, locked_until_ms = $2 WHERE throttle_key = $1`, key, untilMS)
	return err
}

func clearThrottle(ctx context.Context, q store.Querier, key string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM login_throttle WHERE throttle_key = $1`, key)
	return err
}

// --- OTP challenges --------------------------------------------------------

type challengeRow struct {
	ID          string
	CitizenID   string
	Purpose     string
	Method      string
	CodeMAC     string
	PhoneNumber string
	Attempts    int
	ExpiresAt   time.Time
	CreatedAt   time.Time
	Used        bool
}

func insertChallenge(ctx context.Context, q store.Querier, c challengeRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO otp_challenges (id, citizen_id, purpose, method, code_mac, phone_number, attempts, expires_at_ms, created_at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)`,
		c.ID, c.CitizenID, c.Purpose, c.Method, c.CodeMAC, c.PhoneNumber, ms(c.ExpiresAt), ms(c.CreatedAt))
	return err
}

func selectChallenge(ctx context.Context, q store.Querier, id string) (challengeRow, error) {
	var (
		c            challengeRow
		expMS, crtMS int64
	)
	err := q.QueryRowContext(ctx, `SELECT id, citizen_id, purpose, method, code_mac, phone_number, attempts, expires_at_ms, created_at_ms,
			used_at IS NOT NULL FROM otp_challenges WHERE id = $1`, id).
		Scan(&c.ID, &c.CitizenID, &c.Purpose, &c.Method, &c.CodeMAC, &c.PhoneNumber, &c.Attempts, &expMS, &crtMS, &c.Used)
	c.ExpiresAt, c.CreatedAt = fromMS(expMS), fromMS(crtMS)
	return c, err
}

// countAttempt records one attempt at an open challenge (unused, not
// expired, under maxAttempts) BEFORE its code is checked; false means the
// challenge was not open.
func countAttempt(ctx context.Context, q store.Querier, id string, maxAttempts int, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE otp_challenges SET attempts = attempts + 1
		WHERE id = $1 AND used_at IS NULL AND attempts < $2 AND expires_at_ms > $3`, id, maxAttempts, ms(now)))
}

// countPurposeAttempt is countAttempt for a challenge of one purpose only.
func countPurposeAttempt(ctx context.Context, q store.Querier, id, purpose string, maxAttempts int, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE otp_challenges SET attempts = attempts + 1
		WHERE id = $1 AND purpose = $4 AND used_at IS NULL AND attempts < $2 AND expires_at_ms > $3`, id, maxAttempts, ms(now), purpose))
}

// recentNotices counts the notices (method 'notice') sent to a citizen
// since sinceMS.
func recentNotices(ctx context.Context, q store.Querier, citizenID string, sinceMS int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM otp_challenges WHERE citizen_id = $1 AND method = 'notice' AND created_at_ms > $2`,
		citizenID, sinceMS).Scan(&n)
	return n, err
}

// recentTOTPChallenges counts a citizen's authenticator-app challenges
// since sinceMS, with the creation time of the oldest.
func recentTOTPChallenges(ctx context.Context, q store.Querier, citizenID string, sinceMS int64) (n int, oldestMS int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MIN(created_at_ms), 0) FROM otp_challenges
		WHERE citizen_id = $1 AND method = 'totp' AND created_at_ms > $2`, citizenID, sinceMS).Scan(&n, &oldestMS)
	return n, oldestMS, err
}

// consumeChallenge marks the challenge used; exactly one caller gets true.
func consumeChallenge(ctx context.Context, q store.Querier, id string, now time.Time) (bool, error) {
	return one(q.ExecContext(ctx, `UPDATE otp_challenges SET used_at = $2 WHERE id = $1 AND used_at IS NULL`, id, now))
}

// smsSends summarises the SMS codes sent to phone since sinceMS.
func smsSends(ctx context.Context, q store.Querier, phone string, sinceMS int64) (n int, oldestMS, newestMS int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MIN(created_at_ms), 0), COALESCE(MAX(created_at_ms), 0)
		FROM otp_challenges WHERE phone_number = $1 AND method = 'sms' AND created_at_ms > $2`, phone, sinceMS).
		Scan(&n, &oldestMS, &newestMS)
	return n, oldestMS, newestMS, err
}
