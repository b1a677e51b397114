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

// Login checks a national ID and password and issues a loa1 token pair.
//
// Failed logins are counted per account and per source address. After
// the n-th failure of an account the next try must wait login-delay ×
// 2^(n-1); at login-max-failures the account is locked for login-lockout,
// and a source at login-source-max-failures likewise. Such refusals are
// *RetryError (HTTP 429 with Retry-After). Counters are kept for national
// IDs whether or not an account has them, and an unknown ID costs the same
// argon2id computation as a wrong password, so neither the answer, the
// lockout nor the timing tells whether an ID is registered.
func (s *Service) Login(ctx context.Context, req LoginRequest) (TokenPair, error) {
	nid, fe := NormalizeNationalID(req.NationalID)
	if fe != nil {
		return TokenPair{}, fe
	}
	if req.ClientID != "" {
		c, err := s.Client(ctx, req.ClientID)
		if err != nil || c.Disabled {
			return TokenPair{}, &rpcerr.FieldError{Field: "client_id", Reason: "is not a registered, enabled client"}
		}
	}
	nidMAC := s.nationalIDMAC(nid)
	acctKey := "acct:" + nidMAC
	srcKey := ""
	if req.Source != "" {
		srcKey = "src:" + mac(s.keys.lookup, "source", req.Source)
	}
	now := s.now()
	if err := s.checkThrottle(ctx, now, acctKey, srcKey); err != nil {
		return TokenPair{}, err
	}
	key, err := s.ring.signer(ctx)
	if err != nil {
		return TokenPair{}, err
	}
	row, err := selectCitizenByNationalID(ctx, s.db, nidMAC)
	known := err == nil
	if err != nil && !store.IsNoRows(err) {
		return TokenPair{}, fmt.Errorf("auth: login: %w", err)
	}
	hash := s.dummyHash
	if known {
		hash = row.PasswordHash
	}
	ok, params, err := s.hasher.verify(ctx, req.Password, hash)
	if err != nil {
		return TokenPair{}, err
	}
	if !known || !ok {
		return TokenPair{}, s.loginFailed(ctx, now, acctKey, srcKey, row.ID, known)
	}

	newHash := ""
	if params != s.cfg.HashParams() {
		// The parameters changed since the password was set: upgrade now,
		// while the password is at hand.
		if newHash, err = s.hasher.hash(ctx, req.Password, s.cfg.HashParams()); err != nil {
			return TokenPair{}, err
		}
	}
	var pair TokenPair
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := clearThrottle(ctx, tx, acctKey); err != nil {
			return fmt.Errorf("auth: login: %w", err)
		}
		if newHash != "" {
			if err := updatePasswordHash(ctx, tx, row.ID, newHash, now.UTC()); err != nil {
				return fmt.Errorf("auth: login: rehash: %w", err)
			}
		}
		f := familyRow{CitizenID: row.ID, ACR: ACRPassword, AMR: []string{"pwd"}, AuthTime: now, AZP: req.ClientID}
		var err error
		if pair, err = s.startFamily(ctx, tx, key, f, now); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventLoginSucceeded, row.ID, &eventsv1.LoginSucceeded{
			CitizenId: row.ID, Acr: ACRPassword, Amr: f.AMR, ClientId: req.ClientID, Time: timestamppb.New(now),
		})
	})
	if err != nil {
		return TokenPair{}, err
	}
	s.relay.Kick()
	return pair, nil
}

// checkThrottle refuses a login while the account or source is locked, or
// before the account's delay after its last failure has passed.
func (s *Service) checkThrottle(ctx context.Context, now time.Time, acctKey, srcKey string) error {
	nowMS := ms(now)
	acct, found, err := selectThrottle(ctx, s.db, acctKey)
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	if found {
		if acct.LockedUntilMS > nowMS {
			return retryAfter("too many failed logins: try again later", fromMS(acct.LockedUntilMS).Sub(now))
		}
		if acct.Failures > 0 && acct.LastFailureMS >= ms(now.Add(-s.cfg.LoginFailureWindow)) {
			next := fromMS(acct.LastFailureMS).Add(s.loginDelay(acct.Failures))
			if next.After(now) {
				return retryAfter("wait before trying again", next.Sub(now))
			}
		}
	}
	if srcKey == "" {
		return nil
	}
	src, found, err := selectThrottle(ctx, s.db, srcKey)
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	if found && src.LockedUntilMS > nowMS {
		return retryAfter("too many failed logins from your network: try again later", fromMS(src.LockedUntilMS).Sub(now))
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

// loginFailed counts the failure against the account and the source,
// locks whichever reached its limit, records the events and returns the
// caller's error: ErrInvalidCredentials, or a *RetryError when this
// failure locked the account or source.
func (s *Service) loginFailed(ctx context.Context, now time.Time, acctKey, srcKey, citizenID string, known bool) error {
	reason := "unknown_account"
	if known {
		reason = "wrong_password"
	}
	nowMS, windowMS := ms(now), ms(now.Add(-s.cfg.LoginFailureWindow))
	until := now.Add(s.cfg.LoginLockout)
	var locked bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		locked = false
		n, err := countFailure(ctx, tx, acctKey, nowMS, windowMS)
		if err != nil {
			return fmt.Errorf("auth: count failed login: %w", err)
		}
		if n >= s.cfg.LoginMaxFailures {
			locked = true
			if err := lock(ctx, tx, acctKey, ms(until)); err != nil {
				return fmt.Errorf("auth: lock account: %w", err)
			}
			if err := s.emit(ctx, tx, EventLocked, citizenID, &eventsv1.Locked{
				Kind: "account", CitizenId: citizenID, LockedUntil: timestamppb.New(until), Time: timestamppb.New(now),
			}); err != nil {
				return err
			}
		}
		if srcKey != "" {
			n, err := countFailure(ctx, tx, srcKey, nowMS, windowMS)
			if err != nil {
				return fmt.Errorf("auth: count failed login: %w", err)
			}
			if n >= s.cfg.LoginSourceMaxFailures {
				locked = true
				if err := lock(ctx, tx, srcKey, ms(until)); err != nil {
					return fmt.Errorf("auth: lock source: %w", err)
				}
				if err := s.emit(ctx, tx, EventLocked, "", &eventsv1.Locked{
					Kind: "source", LockedUntil: timestamppb.New(until), Time: timestamppb.New(now),
				}); err != nil {
					return err
				}
			}
		}
		return s.emit(ctx, tx, EventLoginFailed, citizenID, &eventsv1.LoginFailed{
			CitizenId: citizenID, Reason: reason, Time: timestamppb.New(now),
		})
	})
	if err != nil {
		return err
	}
	s.relay.Kick()
	if locked {
		s.log.InfoContext(ctx, "auth: login locked after repeated failures", slog.String("citizen_id", citizenID))
		return retryAfter("too many failed logins: try again later", s.cfg.LoginLockout)
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
