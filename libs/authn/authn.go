// Package authn is the one place an enabler authenticates its caller from
// the access token of an incoming gRPC call (defence in depth behind the
// gateway), the way every port of ThreeDotsLabs' wild-workouts calls
// auth.UserFromCtx:
//
//	claims, err := authn.Verify(ctx, s.verifier, s.log)
//	if err != nil {
//		return err // already a gRPC status: Unauthenticated or Unavailable
//	}
//	if !claims.IsClient() { … PermissionDenied … }
//	if err := authn.RequireScope(claims, scope.PaymentsWrite); err != nil { return err }
//
// The token is read one way only (Token: RFC 6750 section 2.1, the scheme
// case-insensitive), and every failure gets one answer: a missing or
// malformed credential and a token the verifier refuses are
// codes.Unauthenticated (the message, for a refused token, is
// jwks.Description), and a verifier that cannot fetch the issuer's keys is
// codes.Unavailable: the token may be fine, so the caller should retry
// rather than fetch a new token (the gateway answers 503 for the same).
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// MetadataKey is the gRPC metadata key of the credential: the gateway
// forwards the HTTP Authorization header under it.
const MetadataKey = "authorization"

// Messages of the Unauthenticated statuses Verify returns besides
// jwks.Description's.
const (
	// MissingToken answers a call without exactly one Bearer credential.
	MissingToken = "a Bearer access token is required"
	// NoSubject answers a verified token that names no subject.
	NoSubject = "the token has no subject"
)

// TokenVerifier checks an access token (without "Bearer ") and returns its
// claims; its errors wrap the jwks sentinels. *jwks.Verifier is one.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*jwks.Claims, error)
}

// Token returns the token of an Authorization header value: "Bearer"
// (any case, RFC 6750 section 2.1), one space or more, and a token with no
// white space, comma or quote in it; white space around the whole value is
// ignored. ok is false for anything else.
func Token(header string) (token string, ok bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t\r\n,\"") {
		return "", false
	}
	return tok, true
}

// FromIncoming reads the Bearer token of the incoming call's metadata.
// present is false when the call carries no credential at all (no
// authorization value, or one empty value); ok is false when it carries
// one that is not exactly one well-formed Bearer credential.
func FromIncoming(ctx context.Context) (token string, present, ok bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(MetadataKey)
	if len(vals) == 0 || len(vals) == 1 && strings.TrimSpace(vals[0]) == "" {
		return "", false, false
	}
	if len(vals) > 1 {
		return "", true, false
	}
	token, ok = Token(vals[0])
	return token, true, ok
}

// Verify reads the incoming call's Bearer token, verifies it with v and
// returns its claims, which always name a subject. Its errors are gRPC
// statuses, ready to return: codes.Unauthenticated for a missing,
// malformed or refused token, codes.Unavailable (logged on log, which may
// be nil) when v cannot fetch the signing keys.
func Verify(ctx context.Context, v TokenVerifier, log *slog.Logger) (*jwks.Claims, error) {
	raw, _, ok := FromIncoming(ctx)
	if !ok {
		return nil, rpcerr.Unauthenticated(MissingToken)
	}
	claims, err := v.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, jwks.ErrJWKSUnavailable) {
			if log != nil {
				log.ErrorContext(ctx, "cannot verify access tokens", slog.String("error", err.Error()))
			}
			return nil, rpcerr.New(codes.Unavailable, "", jwks.Description(err)+"; try again").Err()
		}
		return nil, rpcerr.Unauthenticated(jwks.Description(err))
	}
	if claims.Subject == "" {
		return nil, rpcerr.Unauthenticated(NoSubject)
	}
	return claims, nil
}

// RequireScope is nil when the token grants s, else codes.PermissionDenied
// naming the missing scope.
func RequireScope(c *jwks.Claims, s string) error {
	if c.HasScope(s) {
		return nil
	}
	return rpcerr.PermissionDenied("the token lacks the " + s + " scope")
}

// ACRStepUp is the level of assurance of password + OTP (acr "loa2").
const ACRStepUp = "loa2"

// RequireStepUp is nil when a citizen authenticated at ACRStepUp (acr)
// no longer than maxAge before now (authTime; zero when the token has no
// auth_time). Otherwise it is codes.Unauthenticated with the RFC 9470
// challenge as its message, which the gateway turns into the
// WWW-Authenticate header: what sole control (a signature) or a mandate
// asks of the citizen.
func RequireStepUp(acr string, authTime, now time.Time, maxAge time.Duration) error {
	desc := ""
	switch {
	case acr != ACRStepUp:
		desc = "an OTP step-up (acr " + ACRStepUp + ") is required"
	case authTime.IsZero():
		desc = "the token has no auth_time"
	case now.Sub(authTime) > maxAge:
		desc = fmt.Sprintf("the step-up is older than %d seconds", int(maxAge/time.Second))
	default:
		return nil
	}
	return status.Error(codes.Unauthenticated, fmt.Sprintf(
		`Bearer error="insufficient_user_authentication", error_description=%q, acr_values="%s", max_age=%d`,
		desc, ACRStepUp, int(maxAge/time.Second)))
}
