package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tamkeen/tamkeen/libs/store"
)

// This file is the authorization code flow's domain (issue 14): an
// authorization request is stored, bound to the browser that made it; the
// citizen signs in on the hosted pages (pages.go) with the password login
// of login.go and, for acr_values=loa2 (or an essential acr in claims),
// the step-up of otp.go by the authenticator app or SMS; the
// request then gets a single-use code that the client exchanges, with its
// PKCE verifier, for tokens of a new family in the citizen's session and
// an ID token. oidc.go is the protocol layer around it.

// codeTTL is the life of an authorization code.
const codeTTL = 60 * time.Second

// OpenID scopes the code flow grants (besides openid, which only asks
// for an ID token).
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopePhone   = "phone"
	ScopeEmail   = "email"
	// ClaimProofingLevel is the userinfo claim (profile scope) of the
	// citizen's identity-proofing level: self or in_person.
	ClaimProofingLevel = "tamkeen_proofing_level"
)

// oidcScopes are the scopes an authorization request may carry.
var oidcScopes = []string{ScopeOpenID, ScopeProfile, ScopePhone, ScopeEmail}

// isClaimsScope reports whether s is an OpenID scope of citizens' claims
// (profile, phone, email): a code-flow client is registered with those it
// may ask (its Scopes), as ministry clients are with API scopes; openid
// itself needs no registration.
func isClaimsScope(s string) bool { return s != ScopeOpenID && slices.Contains(oidcScopes, s) }

// grantableScopes are the scopes of asked that client c may get in the
// code flow: openid, and the claims scopes it is registered with; others
// are dropped (OpenID Connect Core 3.1.2.1: unknown scopes are ignored).
func grantableScopes(c Client, asked []string) []string {
	scopes := slices.DeleteFunc(slices.Clone(asked), func(s string) bool {
		return s != ScopeOpenID && !(isClaimsScope(s) && slices.Contains(c.Scopes, s))
	})
	slices.Sort(scopes)
	return slices.Compact(scopes)
}

// Errors of the authorization code flow. The protocol layer (oidc.go)
// turns them into OAuth 2.0 errors.
var (
	// errLoginRequired: prompt=none and no session that satisfies the
	// request (OpenID Connect Core section 3.1.2.6, login_required).
	errLoginRequired = errors.New("auth: login required")
	// errAuthRequestClosed: the authorization request is unknown, not
	// this browser's, expired or finished.
	errAuthRequestClosed = errors.New("auth: the sign-in request is unknown, expired or finished")
	// errCodeInvalid: the code is unknown, expired, used, or not the
	// client's or redirect URI's, or the PKCE verifier does not match
	// (invalid_grant).
	errCodeInvalid = errors.New("auth: the authorization code is invalid, expired or used")
)

// authorization is a validated authorization request.
type authorization struct {
	Client        Client
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string
	// ACR is the level asked for: loa1 or loa2.
	ACR string
	// MaxAge is max_age in seconds, -1 when absent; prompt=login sets 0.
	MaxAge    int64
	Prompt    string
	UILocales string
	Source    string
}

// authStart is what beginning an authorization leads to.
type authStart struct {
	// RequestID and Binding identify the request and the browser (the
	// binding goes into a cookie).
	RequestID string
	Binding   string
	// RedirectURL is set when the request is answered at once (a single
	// sign-on session satisfied it): the client's redirect URI with the
	// code.
	RedirectURL string
	// NeedCode: the session satisfies the password but not the level: go
	// straight to the SMS code page.
	NeedCode bool
}

// beginAuthorization stores the request and, when the browser's single
// sign-on session (ssoToken, "" for none) satisfies it, answers it at once.
// binding is the browser's binding cookie ("" or malformed: a new one).
func (s *Service) beginAuthorization(ctx context.Context, a authorization, ssoToken, binding string) (authStart, error) {
	now := s.Now()
	sourceMAC := mac(s.keys.lookup, "authreq_source", a.Source)
	n, err := countAuthRequests(ctx, s.DB, sourceMAC, ms(now.Add(-time.Minute)))
	if err != nil {
		return authStart{}, fmt.Errorf("auth: authorize: %w", err)
	}
	if n >= s.cfg.AuthRequestRate {
		return authStart{}, retryAfter("too many sign-in requests from your network: wait a minute", time.Minute)
	}
	id, err := store.NewIDFrom(s.Rand, "ar_")
	if err != nil {
		return authStart{}, err
	}
	if !strings.HasPrefix(binding, "arb_") || len(binding) != 47 {
		if binding, err = s.randomToken("arb_"); err != nil {
			return authStart{}, err
		}
	}
	row := authRequestRow{
		ID: id, ClientID: a.Client.ID, RedirectURI: a.RedirectURI, Scopes: a.Scopes, State: a.State, Nonce: a.Nonce,
		CodeChallenge: a.CodeChallenge, ACRValues: a.ACR, MaxAgeS: a.MaxAge, Prompt: a.Prompt, UILocales: a.UILocales,
		BindingMAC: mac(s.keys.lookup, "authreq_binding", binding), SourceMAC: sourceMAC,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.AuthRequestTTL),
	}
	if err := insertAuthRequest(ctx, s.DB, row); err != nil {
		return authStart{}, fmt.Errorf("auth: store authorization request: %w", err)
	}
	start := authStart{RequestID: id, Binding: binding}

	sso, ok, err := s.ssoSession(ctx, ssoToken, now)
	if err != nil {
		return authStart{}, err
	}
	fresh := ok && a.Prompt != "login" && (a.MaxAge < 0 || !now.After(sso.AuthTime.Add(time.Duration(a.MaxAge)*time.Second)))
	switch {
	case fresh && acrSatisfies(sso.ACR, a.ACR):
		row.CitizenID, row.ACR, row.AMR, row.AuthTime, row.SessionID = sso.CitizenID, sso.ACR, sso.AMR, sso.AuthTime, sso.SessionID
		if _, err := authenticateAuthRequest(ctx, s.DB, id, row); err != nil {
			return authStart{}, fmt.Errorf("auth: authorize: %w", err)
		}
		if start.RedirectURL, err = s.issueCode(ctx, row); err != nil {
			return authStart{}, err
		}
		return start, nil
	case a.Prompt == "none":
		return authStart{}, errLoginRequired
	case fresh && sso.ACR == ACRPassword && a.ACR == ACRStepUp:
		// Signed in with the password in this browser: only the code is
		// missing.
		if err := s.startStepUp(ctx, row, familyRow{CitizenID: sso.CitizenID, SessionID: sso.SessionID, ACR: sso.ACR, AMR: sso.AMR, AuthTime: sso.AuthTime}, ""); err != nil {
			return authStart{}, err
		}
		start.NeedCode = true
	}
	return start, nil
}

// acrSatisfies reports whether an authentication at have meets want.
func acrSatisfies(have, want string) bool {
	return want != ACRStepUp || have == ACRStepUp
}

// openAuthRequest loads a request for the browser with binding and checks
// that it is still open.
func (s *Service) openAuthRequest(ctx context.Context, id, binding string) (authRequestRow, error) {
	if id == "" || len(id) > 64 || binding == "" {
		return authRequestRow{}, errAuthRequestClosed
	}
	row, err := selectAuthRequest(ctx, s.DB, id)
	if store.IsNoRows(err) {
		return authRequestRow{}, errAuthRequestClosed
	}
	if err != nil {
		return authRequestRow{}, fmt.Errorf("auth: authorization request: %w", err)
	}
	if !macEqual(mac(s.keys.lookup, "authreq_binding", binding), row.BindingMAC) || !s.Now().Before(row.ExpiresAt) || row.CodeUsed {
		return authRequestRow{}, errAuthRequestClosed
	}
	return row, nil
}

// signInResult is where the sign-in page goes next.
type signInResult struct {
	// SSOToken is the new single sign-on cookie's value.
	SSOToken string
	// RedirectURL: done; NeedCode: the SMS code page.
	RedirectURL string
	NeedCode    bool
}

// signIn checks the national ID and password for an open request with the
// password login of login.go (its throttling per account and source, its
// lockout and its events) and starts the browser's single sign-on session.
func (s *Service) signIn(ctx context.Context, id, binding, nationalID, password, source string) (signInResult, error) {
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return signInResult{}, err
	}
	_, fam, err := s.login(ctx, LoginRequest{NationalID: nationalID, Password: password, ClientID: row.ClientID, Source: source})
	s.noteLogin(loginMethodOIDC, err)
	if err != nil {
		return signInResult{}, err
	}
	now := s.Now()
	token, err := s.startSSO(ctx, fam, now)
	if err != nil {
		return signInResult{}, err
	}
	out := signInResult{SSOToken: token}
	if row.ACRValues == ACRStepUp {
		if err := s.startStepUp(ctx, row, fam, ""); err != nil {
			return out, err
		}
		out.NeedCode = true
		return out, nil
	}
	row.CitizenID, row.ACR, row.AMR, row.AuthTime, row.SessionID = fam.CitizenID, fam.ACR, fam.AMR, fam.AuthTime, fam.SessionID
	if _, err := authenticateAuthRequest(ctx, s.DB, row.ID, row); err != nil {
		return out, fmt.Errorf("auth: authorize: %w", err)
	}
	out.RedirectURL, err = s.issueCode(ctx, row)
	return out, err
}

// pageTOTPChallenges caps the authenticator-app challenges the hosted
// pages open for one citizen in an hour. Each challenge allows
// otp-max-attempts codes and switching between SMS and the app opens a
// new one, so without the cap a stranger who has the password could try
// codes without end.
const pageTOTPChallenges = 10

// msgTOTPLimit is the refusal beyond pageTOTPChallenges.
const msgTOTPLimit = "too many authenticator code requests this hour"

// startStepUp opens the step-up challenge of a loa2 request through the
// OTP challenges of otp.go and records it: method "" is the citizen's
// authenticator app when a TOTP enrolment is confirmed, else SMS; "sms"
// sends a code (cool-down, hourly cap, notification's SMS) and "totp"
// asks for the app's code (at most pageTOTPChallenges an hour).
func (s *Service) startStepUp(ctx context.Context, row authRequestRow, fam familyRow, method string) error {
	if method == "" || method == MethodTOTP {
		c, err := selectCitizen(ctx, s.DB, fam.CitizenID)
		if err != nil {
			return fmt.Errorf("auth: step-up: %w", err)
		}
		switch {
		case method == "" && c.TOTPEnabled:
			method = MethodTOTP
		case method == "":
			method = MethodSMS
		case !c.TOTPEnabled:
			return ErrTOTPNotEnabled
		}
	}
	if method == MethodTOTP {
		now := s.Now()
		n, oldest, err := recentTOTPChallenges(ctx, s.DB, fam.CitizenID, ms(now.Add(-time.Hour)))
		if err != nil {
			return fmt.Errorf("auth: step-up: %w", err)
		}
		if n >= pageTOTPChallenges {
			return retryAfter(msgTOTPLimit, fromMS(oldest).Add(time.Hour).Sub(now))
		}
	}
	caller := Principal{Subject: fam.CitizenID, ACR: fam.ACR, AMR: fam.AMR, SessionID: fam.SessionID, AZP: row.ClientID}
	ch, err := s.CreateOTPChallenge(ctx, caller, method)
	if err != nil {
		return err
	}
	row.CitizenID, row.ACR, row.AMR, row.AuthTime, row.SessionID, row.OTPChallengeID = fam.CitizenID, fam.ACR, fam.AMR, fam.AuthTime, fam.SessionID, ch.ID
	if _, err := authenticateAuthRequest(ctx, s.DB, row.ID, row); err != nil {
		return fmt.Errorf("auth: authorize: %w", err)
	}
	return nil
}

// resendCode opens a new step-up challenge for the request: method "sms"
// (or "") sends a new SMS code within the cool-down and hourly cap of
// otp.go, "totp" switches to the authenticator app.
func (s *Service) resendCode(ctx context.Context, id, binding, method string) error {
	switch method {
	case "":
		method = MethodSMS
	case MethodSMS, MethodTOTP:
	default:
		return errAuthRequestClosed
	}
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return err
	}
	if row.OTPChallengeID == "" {
		return errAuthRequestClosed
	}
	return s.startStepUp(ctx, row, familyRow{CitizenID: row.CitizenID, ACR: row.ACR, AMR: row.AMR, AuthTime: row.AuthTime, SessionID: row.SessionID}, method)
}

// verifyCode checks the SMS or authenticator code of a loa2 request
// (attempts counted first, single use, TOTP steps never reused:
// VerifyOTPChallenge), raises the browser's session to loa2 with the amr
// of the method (pwd+sms or pwd+otp, as the JSON step-up gives) and
// issues the authorization code.
func (s *Service) verifyCode(ctx context.Context, id, binding, code, ssoToken string) (string, error) {
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return "", err
	}
	if row.OTPChallengeID == "" {
		return "", errAuthRequestClosed
	}
	ch, err := selectChallenge(ctx, s.DB, row.OTPChallengeID)
	if err != nil {
		return "", fmt.Errorf("auth: step-up challenge: %w", err)
	}
	amr := []string{"pwd", "otp"}
	if ch.Method == MethodSMS {
		amr = []string{"pwd", "sms"}
	}
	caller := Principal{Subject: row.CitizenID, ACR: row.ACR, AMR: row.AMR, SessionID: row.SessionID, AZP: row.ClientID}
	if _, err := s.VerifyOTPChallenge(ctx, caller, row.OTPChallengeID, code); err != nil {
		return "", err
	}
	now := s.Now()
	row.ACR, row.AMR, row.AuthTime, row.OTPChallengeID = ACRStepUp, amr, now, ""
	if _, err := authenticateAuthRequest(ctx, s.DB, row.ID, row); err != nil {
		return "", fmt.Errorf("auth: authorize: %w", err)
	}
	if ssoToken != "" {
		if err := raiseSSO(ctx, s.DB, s.ssoMAC(ssoToken), row.SessionID, row.ACR, row.AMR, now); err != nil {
			return "", fmt.Errorf("auth: single sign-on session: %w", err)
		}
	}
	return s.issueCode(ctx, row)
}

// issueCode gives an authenticated request its single-use code and
// returns the client's redirect URI with the code, the state and the
// issuer (RFC 9207).
func (s *Service) issueCode(ctx context.Context, row authRequestRow) (string, error) {
	if row.CitizenID == "" || !acrSatisfies(row.ACR, row.ACRValues) {
		return "", errAuthRequestClosed
	}
	code, err := s.randomToken("ac_")
	if err != nil {
		return "", err
	}
	ok, err := setAuthRequestCode(ctx, s.DB, row.ID, s.codeMAC2(code), s.Now().Add(codeTTL))
	if err != nil {
		return "", fmt.Errorf("auth: authorization code: %w", err)
	}
	if !ok {
		return "", errAuthRequestClosed
	}
	u, err := url.Parse(row.RedirectURI)
	if err != nil {
		return "", fmt.Errorf("auth: redirect URI: %w", err)
	}
	q := u.Query()
	q.Set("code", code)
	if row.State != "" {
		q.Set("state", row.State)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// codeMAC2 is the stored form of an authorization code.
func (s *Service) codeMAC2(code string) string { return mac(s.keys.lookup, "authorization_code", code) }

// ssoMAC is the stored form of a single sign-on cookie's value.
func (s *Service) ssoMAC(token string) string { return mac(s.keys.lookup, "sso", token) }

// randomToken is prefix and 32 random bytes, URL-safe.
func (s *Service) randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ssoSession returns the browser's single sign-on session when it is
// alive: within its idle and absolute lives, and its session (sid) not
// ended. Using it counts as activity.
func (s *Service) ssoSession(ctx context.Context, token string, now time.Time) (ssoRow, bool, error) {
	if token == "" || len(token) > 100 {
		return ssoRow{}, false, nil
	}
	r, err := selectSSO(ctx, s.DB, s.ssoMAC(token))
	if store.IsNoRows(err) {
		return ssoRow{}, false, nil
	}
	if err != nil {
		return ssoRow{}, false, fmt.Errorf("auth: single sign-on session: %w", err)
	}
	if !now.Before(r.ExpiresAt) || now.Sub(r.LastSeen) > s.cfg.SSOIdleTTL {
		return ssoRow{}, false, deleteSSO(ctx, s.DB, r.TokenMAC)
	}
	alive, err := sessionAlive(ctx, s.DB, r.SessionID)
	if err != nil {
		return ssoRow{}, false, fmt.Errorf("auth: single sign-on session: %w", err)
	}
	if !alive {
		return ssoRow{}, false, deleteSSO(ctx, s.DB, r.TokenMAC)
	}
	if err := touchSSO(ctx, s.DB, r.TokenMAC, now); err != nil {
		return ssoRow{}, false, fmt.Errorf("auth: single sign-on session: %w", err)
	}
	return r, true, nil
}

// codeGrant is what a code exchange returns.
type codeGrant struct {
	Tokens  TokenPair
	IDToken string
	Scopes  []string
}

// exchangeCode is the authorization_code grant: the code is consumed
// first (single use, even when what follows fails), then the client, the
// redirect URI and the PKCE verifier (S256) must match, and the session
// must be alive. A code presented again ends the family its first use
// started (RFC 6749 section 4.1.2).
func (s *Service) exchangeCode(ctx context.Context, clientID, code, redirectURI, verifier string) (codeGrant, error) {
	if !strings.HasPrefix(code, "ac_") || len(code) > 100 {
		return codeGrant{}, errCodeInvalid
	}
	key, err := s.ring.signer(ctx)
	if err != nil {
		return codeGrant{}, err
	}
	idKey, err := s.idTokenKey(ctx, clientID, key)
	if err != nil {
		return codeGrant{}, err
	}
	codeMAC := s.codeMAC2(code)
	now := s.Now()
	var (
		out    codeGrant
		reused bool
	)
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		reused = false
		row, err := selectAuthRequestByCode(ctx, tx, codeMAC)
		if store.IsNoRows(err) {
			return errCodeInvalid
		}
		if err != nil {
			return fmt.Errorf("auth: code: %w", err)
		}
		ok, err := useAuthCode(ctx, tx, codeMAC, now)
		if err != nil {
			return fmt.Errorf("auth: code: %w", err)
		}
		if !ok {
			// Read again: on PostgreSQL the UPDATE waited for a concurrent
			// first use to commit, which this statement now sees.
			if row, err = selectAuthRequestByCode(ctx, tx, codeMAC); err == nil && row.CodeUsed && row.FamilyID != "" {
				reused = true
				return revokeFamily(ctx, tx, row.FamilyID, "authorization_code_reuse", now)
			}
			return errCodeInvalid
		}
		if row.ClientID != clientID || row.RedirectURI != redirectURI || !pkceMatches(row.CodeChallenge, verifier) {
			return errCodeInvalid
		}
		if alive, err := lockSession(ctx, tx, row.SessionID); err != nil {
			return fmt.Errorf("auth: session: %w", err)
		} else if !alive {
			return errCodeInvalid
		}
		granted := slices.DeleteFunc(slices.Clone(row.Scopes), func(sc string) bool { return sc == ScopeOpenID })
		f := familyRow{SessionID: row.SessionID, CitizenID: row.CitizenID, ACR: row.ACR, AMR: row.AMR, AuthTime: row.AuthTime,
			AZP: row.ClientID, Scopes: append([]string{ScopeOpenID}, granted...)}
		pair, fam, err := s.newFamily(ctx, tx, key, f, now)
		if err != nil {
			return err
		}
		if err := setAuthRequestFamily(ctx, tx, row.ID, fam.ID); err != nil {
			return fmt.Errorf("auth: code: %w", err)
		}
		out = codeGrant{Tokens: pair, Scopes: fam.Scopes}
		if slices.Contains(row.Scopes, ScopeOpenID) {
			out.IDToken, err = s.idToken(idKey, fam, row.Nonce, pair.AccessToken, now)
		}
		return err
	})
	if err != nil {
		return codeGrant{}, err
	}
	if reused {
		s.Logger.WarnContext(ctx, "auth: authorization code used twice; the tokens of its first use are revoked")
		return codeGrant{}, errCodeInvalid
	}
	return out, nil
}

// pkceMatches checks an S256 verifier (RFC 7636 section 4.6) in constant
// time; a missing verifier never matches.
func pkceMatches(challenge, verifier string) bool {
	if challenge == "" || len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return macEqual(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}

// idTokenType is the typ of ID tokens: unlike access tokens (at+jwt),
// they are plain JWTs.
const idTokenType = "JWT"

// idToken signs the ID token of family f for its client (OpenID Connect
// Core section 2) with key (idTokenKey: ES256, the keys of access tokens,
// or RS256 when the client registered it), aud the client, at_hash of the
// access token (the left half of its SHA-256 for both algorithms). The
// national ID is never in it.
func (s *Service) idToken(key *signingKey, f familyRow, nonce, accessToken string, now time.Time) (string, error) {
	sum := sha256.Sum256([]byte(accessToken))
	claims := jwt.MapClaims{
		"iss": s.cfg.Issuer, "sub": f.CitizenID, "aud": f.AZP, "azp": f.AZP,
		"exp": now.Add(s.cfg.AccessTokenTTL).Unix(), "iat": now.Unix(), "auth_time": f.AuthTime.Unix(),
		"acr": f.ACR, "amr": f.AMR, "sid": f.SessionID,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	out, err := key.sign(claims, idTokenType)
	if err != nil {
		return "", fmt.Errorf("auth: sign ID token: %w", err)
	}
	return out, nil
}

// idTokenKey is the key that signs the ID tokens of client: the RS256
// key when it registered RS256, else the ES256 key es.
func (s *Service) idTokenKey(ctx context.Context, clientID string, es *signingKey) (*signingKey, error) {
	c, err := s.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.IDTokenAlg == AlgRS256 {
		return s.ring.signerRSA(ctx)
	}
	return es, nil
}

// refreshForClient is the refresh_token grant of the code flow: the
// token must belong to a family the client was given (azp). When the
// grant had openid, a new ID token comes with the new tokens (OpenID
// Connect Core section 12.2: same sub, acr, amr, auth_time and sid; no
// nonce).
func (s *Service) refreshForClient(ctx context.Context, clientID, refreshToken string) (codeGrant, error) {
	if !strings.HasPrefix(refreshToken, "rt_") || len(refreshToken) > 100 {
		return codeGrant{}, ErrInvalidGrant
	}
	r, err := selectRefreshToken(ctx, s.DB, mac(s.keys.lookup, "refresh", refreshToken))
	if store.IsNoRows(err) {
		return codeGrant{}, ErrInvalidGrant
	}
	if err != nil {
		return codeGrant{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if r.Family.AZP != clientID || len(r.Family.Scopes) == 0 {
		return codeGrant{}, ErrInvalidGrant
	}
	pair, err := s.Refresh(ctx, refreshToken)
	if err != nil {
		return codeGrant{}, err
	}
	out := codeGrant{Tokens: pair, Scopes: r.Family.Scopes}
	if slices.Contains(r.Family.Scopes, ScopeOpenID) {
		key, err := s.ring.signer(ctx)
		if err != nil {
			return codeGrant{}, err
		}
		if key, err = s.idTokenKey(ctx, clientID, key); err != nil {
			return codeGrant{}, err
		}
		if out.IDToken, err = s.idToken(key, r.Family, "", pair.AccessToken, s.Now()); err != nil {
			return codeGrant{}, err
		}
	}
	return out, nil
}

// startSSO opens the browser's single sign-on session for the
// authentication event fam and returns the cookie's token (only its MAC
// is stored).
func (s *Service) startSSO(ctx context.Context, fam familyRow, now time.Time) (string, error) {
	token, err := s.randomToken("sso_")
	if err != nil {
		return "", err
	}
	sso := ssoRow{TokenMAC: s.ssoMAC(token), SessionID: fam.SessionID, CitizenID: fam.CitizenID, ACR: fam.ACR, AMR: fam.AMR,
		AuthTime: fam.AuthTime, ExpiresAt: now.Add(s.cfg.SSOAbsoluteTTL)}
	if err := insertSSO(ctx, s.DB, sso, now); err != nil {
		return "", fmt.Errorf("auth: single sign-on session: %w", err)
	}
	return token, nil
}
