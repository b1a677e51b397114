package auth

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// ErrSessionNotFound: no live session of the caller has this id. Another
// citizen's session gets the same answer, so that session ids cannot be
// probed.
var ErrSessionNotFound = fmt.Errorf("session %w", rpcerr.ErrNotFound)

// Session is one sign-in of a citizen (a JSON login or a hosted sign-in)
// with every family refreshed or stepped up from it: the sid of its
// tokens.
type Session struct {
	ID         string
	CreateTime time.Time
	// LastUseTime is the latest refresh, step-up or single sign-on use.
	LastUseTime time.Time
	// ACR is the highest level of assurance reached in the session.
	ACR string
	// Apps are the clients that received tokens in the session, in the
	// order they first did.
	Apps []SessionApp
	// Current marks the session of the caller's own token.
	Current bool
}

// SessionApp is a client that received tokens in a session.
type SessionApp struct {
	ClientID     string
	Organization string
}

// acrRank orders levels of assurance; unknown values rank lowest.
func acrRank(acr string) int {
	switch acr {
	case ACRPassword:
		return 1
	case ACRStepUp:
		return 2
	}
	return 0
}

// ListSessions returns the caller's live sessions, newest first: those
// not ended (logout, revocation, refresh-token reuse) whose refresh tokens
// or browser sign-ins have not all expired.
func (s *Service) ListSessions(ctx context.Context, caller Principal) ([]Session, error) {
	if !caller.IsCitizen() {
		return nil, ErrCitizenTokenRequired
	}
	if err := s.requireSession(ctx, s.DB, caller); err != nil {
		return nil, err
	}
	fams, err := selectSessionFamilies(ctx, s.DB, caller.Subject)
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	sso, err := selectSSOUse(ctx, s.DB, caller.Subject)
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	type acc struct {
		Session
		expiresMS int64
	}
	byID := map[string]*acc{}
	var order []*acc
	for _, f := range fams {
		a := byID[f.SessionID]
		if a == nil {
			a = &acc{Session: Session{ID: f.SessionID, CreateTime: f.CreatedAt, Current: f.SessionID == caller.SessionID}}
			byID[f.SessionID] = a
			order = append(order, a)
		}
		if f.LastIssued.After(a.LastUseTime) {
			a.LastUseTime = f.LastIssued
		}
		if acrRank(f.ACR) > acrRank(a.ACR) {
			a.ACR = f.ACR
		}
		a.expiresMS = max(a.expiresMS, f.ExpiresMS)
		if f.AZP != "" && !slices.ContainsFunc(a.Apps, func(app SessionApp) bool { return app.ClientID == f.AZP }) {
			a.Apps = append(a.Apps, SessionApp{ClientID: f.AZP, Organization: f.Organization})
		}
	}
	for _, u := range sso {
		if a := byID[u.SessionID]; a != nil {
			if u.LastSeen.After(a.LastUseTime) {
				a.LastUseTime = u.LastSeen
			}
			a.expiresMS = max(a.expiresMS, u.ExpiresMS)
		}
	}
	nowMS := ms(s.Now())
	out := make([]Session, 0, len(order))
	for _, a := range order {
		if a.expiresMS > nowMS {
			out = append(out, a.Session)
		}
	}
	slices.SortStableFunc(out, func(a, b Session) int { return cmp.Compare(b.CreateTime.UnixNano(), a.CreateTime.UnixNano()) })
	return out, nil
}

// DeleteSession ends one of the caller's sessions as logout does: every
// refresh-token family of it is revoked, session_revoked has the gateway
// refuse its access tokens, and the browsers signed in with it (single
// sign-on cookies) must sign in again. A session that is not the
// caller's, or already ended, is ErrSessionNotFound.
func (s *Service) DeleteSession(ctx context.Context, caller Principal, sessionID string) error {
	if !caller.IsCitizen() {
		return ErrCitizenTokenRequired
	}
	if err := s.requireSession(ctx, s.DB, caller); err != nil {
		return err
	}
	if sessionID == "" || len(sessionID) > 100 {
		return ErrSessionNotFound
	}
	now := s.Now()
	return s.Commit(ctx, func(tx *sql.Tx) error {
		owner, err := sessionOwner(ctx, tx, sessionID)
		if store.IsNoRows(err) || (err == nil && owner != caller.Subject) {
			return ErrSessionNotFound
		}
		if err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		alive, err := sessionAlive(ctx, tx, sessionID)
		if err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		if !alive {
			return ErrSessionNotFound
		}
		if err := deleteSSOOfSession(ctx, tx, sessionID); err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		return s.endSession(ctx, tx, familyRow{SessionID: sessionID, CitizenID: owner}, revokeLogout, now)
	})
}
