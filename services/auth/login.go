package auth

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// ErrInvalidCredentials is the one answer to a failed login, whether the
// national ID is unknown or the password wrong.
var ErrInvalidCredentials = fmt.Errorf("national ID or password is incorrect: %w", rpcerr.ErrUnauthenticated)

// LoginRequest is a password login.
type LoginRequest struct {
	NationalID string
	Password   string
	// ClientID of the citizen-facing app, recorded as azp; optional.
	ClientID string
	// Source is the caller's address (from X-Forwarded-For), for the
	// per-source failure counter; empty skips it.
	Source string
}

// Login checks a national ID and password and issues a loa1 token pair
// that starts a new session (its sid).
//
// Failed logins are counted per account and source address, per account
// from every source, and per source. After the n-th failure of an account
// from one source the next try from that source must wait login-delay ×
// 2^(n-1), and at login-max-failures the account is locked for that
// source only, so that a stranger who knows a national ID cannot lock its
// citizen out from elsewhere. At login-account-max-failures (a much
// higher ceiling, against guessing from many addresses) the account is
// locked from every source, and a source at login-source-max-failures
// likewise. Such refusals are *RetryError (HTTP 429 with Retry-After); the
// citizen lifts an account's locks with an SMS code (StartUnlock).
// Counters are kept for national IDs whether or not an account has them,
// and an unknown ID costs the same argon2id computation as a wrong
// password, so neither the answer, the lockout nor the timing tells
// whether an ID is registered.
func (s *Service) Login(ctx context.Context, req LoginRequest) (TokenPair, error) {
	pair, _, err := s.login(ctx, req)
	s.noteLogin(loginMethodPassword, err)
	return pair, err
}

// PasswordLogin is Login for the JSON POST /v1/auth/login, which only the
// platform's first-party apps may use (issue 14 item 7): app must be a
// client token carrying auth:password-login (the gateway checked it
// already; this is the second check), and the session's azp is that
// client. A client_id in the request naming another client is refused
// rather than recorded. Ministry portals use the authorization code flow;
// the hosted pages call login in-process and need no token.
func (s *Service) PasswordLogin(ctx context.Context, app Principal, req LoginRequest) (TokenPair, error) {
	if app.Subject == "" {
		return TokenPair{}, ErrInvalidToken
	}
	if !app.HasScope(scope.PasswordLogin) {
		return TokenPair{}, ErrScopeRequired
	}
	if req.ClientID != "" && req.ClientID != app.ClientID {
		return TokenPair{}, &rpcerr.FieldError{Field: "client_id", Reason: "must be the client of the access token, or absent", Code: "client_id.token_mismatch"}
	}
	req.ClientID = app.ClientID
	return s.Login(ctx, req)
}

// login is Login that also returns the session's family (the hosted
// sign-in page keeps the session and hands its tokens to nobody).
func (s *Service) login(ctx context.Context, req LoginRequest) (TokenPair, familyRow, error) {
	nid, fe := NormalizeNationalID(req.NationalID)
	if fe != nil {
		return TokenPair{}, familyRow{}, fe
	}
	if req.ClientID != "" {
		c, err := s.Client(ctx, req.ClientID)
		if err != nil || c.Disabled {
			return TokenPair{}, familyRow{}, &rpcerr.FieldError{Field: "client_id", Reason: "is not a registered, enabled client", Code: "client_id.unknown"}
		}
	}
	nidMAC := s.nationalIDMAC(nid)
	keys := s.throttleKeys(nidMAC, req.Source)
	now := s.Now()
	if err := s.checkThrottle(ctx, now, keys); err != nil {
		return TokenPair{}, familyRow{}, err
	}
	key, err := s.ring.signer(ctx)
	if err != nil {
		return TokenPair{}, familyRow{}, err
	}
	row, err := selectCitizenByNationalID(ctx, s.DB, nidMAC)
	known := err == nil
	if err != nil && !store.IsNoRows(err) {
		return TokenPair{}, familyRow{}, fmt.Errorf("auth: login: %w", err)
	}
	hash := s.dummyHash
	if known {
		hash = row.PasswordHash
	}
	ok, params, err := s.hasher.verify(ctx, req.Password, hash)
	if err != nil {
		return TokenPair{}, familyRow{}, err
	}
	if !known || !ok {
		return TokenPair{}, familyRow{}, s.loginFailed(ctx, now, keys, row.ID, known)
	}

	newHash := ""
	if params != s.cfg.HashParams() {
		// The parameters changed since the password was set: upgrade now,
		// while the password is at hand.
		if newHash, err = s.hasher.hash(ctx, req.Password, s.cfg.HashParams()); err != nil {
			return TokenPair{}, familyRow{}, err
		}
	}
	var (
		pair TokenPair
		fam  familyRow
	)
	err = s.Commit(ctx, func(tx *sql.Tx) error {
		// Only this source's counter starts again: failures from other
		// sources still count towards the account's ceiling.
		if err := clearThrottle(ctx, tx, keys.pair); err != nil {
			return fmt.Errorf("auth: login: %w", err)
		}
		if newHash != "" {
			if err := updatePasswordHash(ctx, tx, row.ID, newHash, now.UTC()); err != nil {
				return fmt.Errorf("auth: login: rehash: %w", err)
			}
		}
		f := familyRow{CitizenID: row.ID, ACR: ACRPassword, AMR: []string{"pwd"}, AuthTime: now, AZP: req.ClientID}
		var err error
		if pair, fam, err = s.newFamily(ctx, tx, key, f, now); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventLoginSucceeded, row.ID, &eventsv1.LoginSucceeded{
			CitizenId: row.ID, Acr: ACRPassword, Amr: f.AMR, ClientId: req.ClientID, Time: timestamppb.New(now),
		})
	})
	if err != nil {
		return TokenPair{}, familyRow{}, err
	}
	return pair, fam, nil
}

// The refusals of a locked login; tamkeen_auth_logins_total tells them
// (outcome locked) from the other waits (throttled) by them.
const (
	msgAccountLocked = "too many failed logins: try again later, or unlock the account with a code sent by SMS"
	msgSourceLocked  = "too many failed logins from your network: try again later"
)

// throttleKeys are the failure counters of one login attempt.
type throttleKeys struct {
	// account is the HMAC of the national ID, which the account's
	// counters carry so that an unlock finds them all.
	account string
	// pair counts the account's failures from this source; acct from
	// every source; src this source's failures on every account ("" when
	// the source is unknown).
	pair, acct, src string
}

// throttleKeys names the counters of a login of nidMAC from source.
func (s *Service) throttleKeys(nidMAC, source string) throttleKeys {
	k := throttleKeys{
		account: nidMAC,
		pair:    "pair:" + mac(s.keys.lookup, "account_source", nidMAC+"|"+source),
		acct:    "acct:" + nidMAC,
	}
	if source != "" {
		k.src = "src:" + mac(s.keys.lookup, "source", source)
	}
	return k
}

// checkThrottle refuses a login while the account (from every source or
// from this one) or the source is locked, or before the delay after the
// last failure of the account from this source has passed. The counters
// are read in one statement.
func (s *Service) checkThrottle(ctx context.Context, now time.Time, k throttleKeys) error {
	nowMS := ms(now)
	keys := []string{k.acct, k.pair}
	if k.src != "" {
		keys = append(keys, k.src)
	}
	counted, err := selectThrottles(ctx, s.DB, keys...)
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	for _, key := range []string{k.acct, k.pair} {
		t, found := counted[key]
		if !found {
			continue
		}
		if t.LockedUntilMS > nowMS {
			return retryAfter(msgAccountLocked, fromMS(t.LockedUntilMS).Sub(now))
		}
		if key == k.pair && t.Failures > 0 && t.LastFailureMS >= ms(now.Add(-s.cfg.LoginFailureWindow)) {
			next := fromMS(t.LastFailureMS).Add(s.loginDelay(t.Failures))
			if next.After(now) {
				return retryAfter("wait before trying again", next.Sub(now))
			}
		}
	}
	if k.src == "" {
		return nil
	}
	if src, found := counted[k.src]; found && src.LockedUntilMS > nowMS {
		return retryAfter(msgSourceLocked, fromMS(src.LockedUntilMS).Sub(now))
	}
	return nil
}

// loginDelay is the wait after the n-th consecutive failure: login-delay
// doubled for each failure after the first, never above the lockout.
func (s *Service) loginDelay(failures int) time.Duration {
	d := s.cfg.LoginDelay
	for i := 1; i < failures && d < s.cfg.LoginLockout; i++ {
		d *= 2
	}
	return min(d, s.cfg.LoginLockout)
}

// loginFailed counts the failure against the account from this source,
// the account and the source, locks whichever reached its limit, records
// the events and returns the caller's error: ErrInvalidCredentials, or a
// *RetryError when this failure locked the account or source.
func (s *Service) loginFailed(ctx context.Context, now time.Time, k throttleKeys, citizenID string, known bool) error {
	reason := "unknown_account"
	if known {
		reason = "wrong_password"
	}
	nowMS, windowMS := ms(now), ms(now.Add(-s.cfg.LoginFailureWindow))
	until := now.Add(s.cfg.LoginLockout)
	var locked int
	err := s.Commit(ctx, func(tx *sql.Tx) error {
		locked = 0
		for _, c := range []struct {
			key, account, kind, citizen string
			max                         int
		}{
			{k.pair, k.account, "account_source", citizenID, s.cfg.LoginMaxFailures},
			{k.acct, k.account, "account", citizenID, s.cfg.LoginAccountMaxFailures},
			{k.src, "", "source", "", s.cfg.LoginSourceMaxFailures},
		} {
			if c.key == "" {
				continue
			}
			n, err := countFailure(ctx, tx, c.key, c.account, nowMS, windowMS)
			if err != nil {
				return fmt.Errorf("auth: count failed login: %w", err)
			}
			if n < c.max {
				continue
			}
			locked++
			if err := lock(ctx, tx, c.key, ms(until)); err != nil {
				return fmt.Errorf("auth: lock %s: %w", c.kind, err)
			}
			if err := s.emit(ctx, tx, EventLocked, c.citizen, &eventsv1.Locked{
				Kind: c.kind, CitizenId: c.citizen, LockedUntil: timestamppb.New(until), Time: timestamppb.New(now),
			}); err != nil {
				return err
			}
		}
		return s.emit(ctx, tx, EventLoginFailed, citizenID, &eventsv1.LoginFailed{
			CitizenId: citizenID, Reason: reason, Time: timestamppb.New(now),
		})
	})
	if err != nil {
		return err
	}
	s.noteLockouts(locked)
	if locked > 0 {
		s.Logger.InfoContext(ctx, "auth: login locked after repeated failures", slog.String("citizen_id", citizenID))
		return retryAfter(msgAccountLocked, s.cfg.LoginLockout)
	}
	return ErrInvalidCredentials
}

// SourceFromForwardedFor picks the caller's address from an
// X-Forwarded-For value: the entry hops places from the right (0: the
// last, which the gateway itself appended).
func SourceFromForwardedFor(xff string, hops int) string {
	parts := strings.Split(xff, ",")
	i := len(parts) - 1 - hops
	if i < 0 {
		i = 0
	}
	return strings.TrimSpace(parts[i])
}
