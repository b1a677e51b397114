package signature

import (
	"context"
	"time"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
)

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

// authenticate verifies the bearer token in the incoming metadata.
func (s *Service) authenticate(ctx context.Context) (*principal, error) {
	c, err := authn.Verify(ctx, s.tokens, s.Logger)
	if err != nil {
		return nil, err
	}
	p := &principal{clientID: c.ClientID, acr: c.ACR, scopes: c.Scopes(), orgName: c.OrgName, proofingLevel: c.ProofingLevel}
	if c.ClientID == "" {
		p.citizenID = c.Subject
	}
	if c.AuthTime != nil {
		p.authTime = c.AuthTime.Time
	}
	return p, nil
}

// requireFreshStepUp refuses a citizen whose token is not loa2 or whose
// step-up is older than step-up-max-age (sole control, DESIGN.md section 5).
func (s *Service) requireFreshStepUp(p *principal) error {
	return authn.RequireStepUp(p.acr, p.authTime, s.Now(), s.cfg.StepUpMaxAge)
}

// requireCitizenOrSeal admits citizens, and clients holding scope.SigningSeal.
func requireCitizenOrSeal(p *principal) error {
	if p.isCitizen() || p.hasScope(scope.SigningSeal) {
		return nil
	}
	return rpcerr.PermissionDenied("a citizen token, or a client token with scope " + scope.SigningSeal + ", is required")
}
