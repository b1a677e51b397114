package signature

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// Scopes of ministry clients that the service honours.
const (
	// ScopeSeal lets a ministry client hold and use an organisation seal.
	ScopeSeal = "signing:seal"
	// ScopeAdmin lets a client revoke any credential.
	ScopeAdmin = "signing:admin"
)

// acrLoA2 is the level of assurance of password + OTP.
const acrLoA2 = "loa2"

// principal is the verified caller.
type principal struct {
	// citizenID is the token's sub for citizen tokens; empty for clients.
	citizenID string
	// clientID is set for client-credentials tokens.
	clientID string
	acr      string
	authTime time.Time
	scopes   []string
	// orgName is a client's registered organisation (claim org_name).
	orgName string
	// proofingLevel is the proofing_level claim, when the issuer adds it.
	// The identity itself never comes from the token or the request: see
	// identity.go.
	proofingLevel string
}

// owner is the key credentials are filed under.
func (p *principal) owner() string {
	if p.citizenID != "" {
		return p.citizenID
	}
	return "client:" + p.clientID
}

// isCitizen reports whether the caller is a citizen (not a ministry client).
func (p *principal) isCitizen() bool { return p.citizenID != "" }

func (p *principal) hasScope(s string) bool {
	for _, g := range p.scopes {
		if g == s {
			return true
		}
	}
	return false
}

// levelClaims are optional claims an issuer may add to citizen tokens.
type levelClaims struct {
	ProofingLevel string `json:"proofing_level"`
}

// authenticate verifies the bearer token in the incoming metadata.
func (s *Service) authenticate(ctx context.Context) (*principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return nil, rpcerr.Unauthenticated("a bearer access token is required")
	}
	raw, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		if raw, ok = strings.CutPrefix(vals[0], "bearer "); !ok {
			return nil, rpcerr.Unauthenticated("the authorization is not a Bearer token")
		}
	}
	raw = strings.TrimSpace(raw)
	c, err := s.tokens.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, jwks.ErrJWKSUnavailable) {
			return nil, status.Error(codes.Unavailable, "token signing keys unavailable; try again")
		}
		return nil, rpcerr.Unauthenticated(jwks.Description(err))
	}
	p := &principal{clientID: c.ClientID, acr: c.ACR, scopes: c.Scopes(), orgName: c.OrgName}
	if c.ClientID == "" {
		p.citizenID = c.Subject
	}
	if p.citizenID == "" && p.clientID == "" {
		return nil, rpcerr.Unauthenticated("the token names neither a citizen nor a client")
	}
	if c.AuthTime != nil {
		p.authTime = c.AuthTime.Time
	}
	if parts := strings.Split(raw, "."); len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var lc levelClaims
			if json.Unmarshal(payload, &lc) == nil {
				p.proofingLevel = lc.ProofingLevel
			}
		}
	}
	return p, nil
}

// stepUpChallenge is the RFC 9470 challenge the gateway turns into the
// WWW-Authenticate header.
func (s *Service) stepUpChallenge(desc string) error {
	return status.Error(codes.Unauthenticated, fmt.Sprintf(
		`Bearer error="insufficient_user_authentication", error_description=%q, acr_values="%s", max_age=%d`,
		desc, acrLoA2, int(s.cfg.StepUpMaxAge/time.Second)))
}

// requireFreshStepUp refuses a citizen whose token is not loa2 or whose
// step-up is older than step-up-max-age (sole control, DESIGN.md section 5).
func (s *Service) requireFreshStepUp(p *principal) error {
	if p.acr != acrLoA2 {
		return s.stepUpChallenge("an OTP step-up (acr loa2) is required")
	}
	if p.authTime.IsZero() {
		return s.stepUpChallenge("the token has no auth_time")
	}
	if age := s.now().Sub(p.authTime); age > s.cfg.StepUpMaxAge {
		return s.stepUpChallenge(fmt.Sprintf("the step-up is older than %d seconds", int(s.cfg.StepUpMaxAge/time.Second)))
	}
	return nil
}

// requireCitizenOrSeal admits citizens, and clients holding ScopeSeal.
func requireCitizenOrSeal(p *principal) error {
	if p.isCitizen() || p.hasScope(ScopeSeal) {
		return nil
	}
	return rpcerr.PermissionDenied("a citizen token, or a client token with scope " + ScopeSeal + ", is required")
}
