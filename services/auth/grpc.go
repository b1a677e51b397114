package auth

import (
	"context"
	"errors"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// grpcServer adapts the Service to the generated AuthService API; it is
// the one place where proto types meet the domain, and where domain
// errors become gRPC statuses (toStatus).
type grpcServer struct {
	authv1.UnimplementedAuthServiceServer
	svc *Service
}

// OAuth 2.0 error codes carried as the google.rpc.ErrorInfo reason, so the
// gateway can answer RFC 6749 errors.
const (
	reasonInvalidClient         = "invalid_client"
	reasonInvalidScope          = "invalid_scope"
	reasonUnsupportedGrantType  = "unsupported_grant_type"
	reasonInvalidGrant          = "invalid_grant"
	reasonInsufficientUserAuthn = "insufficient_user_authentication"
)

// statusRules are the auth sentinels' OAuth answers, in the order toStatus
// checks them.
var statusRules = []rpcerr.Rule{
	{Err: ErrInvalidClient, Code: codes.Unauthenticated, Reason: reasonInvalidClient, Msg: "client authentication failed"},
	{Err: ErrInvalidScope, Code: codes.InvalidArgument, Reason: reasonInvalidScope, Msg: "scope: asks for a scope not granted to the client", Field: "scope", FieldCode: "scope.not_granted"},
	{Err: ErrUnsupportedGrantType, Code: codes.InvalidArgument, Reason: reasonUnsupportedGrantType, Msg: "grant_type: only client_credentials is supported", Field: "grant_type", FieldCode: "grant_type.unsupported"},
	{Err: ErrInvalidGrant, Code: codes.Unauthenticated, Reason: reasonInvalidGrant, Msg: "refresh token is invalid, expired or revoked"},
	{Err: ErrStepUpRequired, Code: codes.Unauthenticated, Reason: reasonInsufficientUserAuthn, Msg: "a loa2 authentication no older than the route's max_age is required"},
}

// toStatus maps a domain error to the gRPC status the caller gets.
func (g *grpcServer) toStatus(ctx context.Context, err error) error {
	var retry *RetryError
	if err == nil {
		return nil
	}
	if errors.As(err, &retry) {
		return rpcerr.ResourceExhausted(retry.Msg, retry.After)
	}
	if st := rpcerr.Map(err, statusRules); st != nil {
		return st
	}
	return rpcerr.FromDomain(err, g.svc.Logger, ctx)
}

// caller verifies the bearer token of the call's authorization metadata
// with the service's own keys; a call without one gets the zero Principal
// (anonymous). Its error is already the caller's status.
func (g *grpcServer) caller(ctx context.Context) (Principal, error) {
	raw, present, ok := authn.FromIncoming(ctx)
	if !present {
		return Principal{}, nil
	}
	if !ok {
		return Principal{}, g.toStatus(ctx, ErrInvalidToken)
	}
	p, err := g.svc.VerifyAccessToken(ctx, raw)
	return p, g.toStatus(ctx, err)
}

// requireCaller is caller for calls that need a token.
func (g *grpcServer) requireCaller(ctx context.Context) (Principal, error) {
	p, err := g.caller(ctx)
	if err == nil && p.Subject == "" {
		err = g.toStatus(ctx, ErrInvalidToken)
	}
	return p, err
}

// source is the caller's address: from x-forwarded-for (the gateway sets
// it), else the gRPC peer.
func (g *grpcServer) source(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-forwarded-for"); len(v) > 0 && v[len(v)-1] != "" {
		return SourceFromForwardedFor(v[len(v)-1], g.svc.cfg.TrustedProxyHops)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
		return p.Addr.String()
	}
	return ""
}

func seconds(d time.Duration) int32 { return int32(d / time.Second) }

func tokenResponse(p TokenPair) *authv1.TokenResponse {
	return &authv1.TokenResponse{
		AccessToken: p.AccessToken, TokenType: p.TokenType, ExpiresIn: seconds(p.ExpiresIn),
		RefreshToken: p.RefreshToken, Scope: p.Scope, Acr: p.ACR,
	}
}

func citizenMessage(c Citizen) *authv1.Citizen {
	return &authv1.Citizen{
		CitizenId: c.ID, NationalId: c.NationalID, GivenName: c.GivenName, FamilyName: c.FamilyName,
		PhoneVerified: c.PhoneVerified, ProofingLevel: c.ProofingLevel, TotpEnabled: c.TOTPEnabled,
		CreateTime: timestamppb.New(c.CreateTime), PreferredLanguage: c.PreferredLanguage,
	}
}

// RegisterCitizen creates an account and sends the phone verification SMS.
func (g *grpcServer) RegisterCitizen(ctx context.Context, in *authv1.RegisterCitizenRequest) (*authv1.RegisterCitizenResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (Registered, error) {
		return g.svc.RegisterCitizen(ctx, Registration{
			NationalID: in.GetNationalId(), PhoneNumber: in.GetPhoneNumber(), Email: in.GetEmail(), Password: in.GetPassword(),
			GivenName: in.GetGivenName(), FamilyName: in.GetFamilyName(), PreferredLanguage: in.GetPreferredLanguage(),
		})
	}, func(r Registered) *authv1.RegisterCitizenResponse {
		return &authv1.RegisterCitizenResponse{
			CitizenId:         r.CitizenID,
			PhoneVerification: &authv1.PhoneVerification{ChallengeId: r.ChallengeID, ExpiresIn: seconds(r.ExpiresIn)},
		}
	})
}

// GetCitizen returns an account to its citizen or a citizens:read client.
func (g *grpcServer) GetCitizen(ctx context.Context, in *authv1.GetCitizenRequest) (*authv1.Citizen, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) (Citizen, error) {
		return g.svc.GetCitizen(ctx, p, in.GetCitizenId())
	}, citizenMessage)
}

// ProofCitizen records an in-person identity check.
func (g *grpcServer) ProofCitizen(ctx context.Context, in *authv1.ProofCitizenRequest) (*authv1.Citizen, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) (Citizen, error) {
		return g.svc.ProofCitizen(ctx, p, in.GetCitizenId(), in.GetEvidence())
	}, citizenMessage)
}

// Login is a password login by a first-party app: its client token must
// carry auth:password-login (PasswordLogin).
func (g *grpcServer) Login(ctx context.Context, in *authv1.LoginRequest) (*authv1.TokenResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(app Principal) (TokenPair, error) {
		return g.svc.PasswordLogin(ctx, app, LoginRequest{
			NationalID: in.GetNationalId(), Password: in.GetPassword(), ClientID: in.GetClientId(), Source: g.source(ctx),
		})
	}, tokenResponse)
}

// Refresh rotates a refresh token.
func (g *grpcServer) Refresh(ctx context.Context, in *authv1.RefreshRequest) (*authv1.TokenResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (TokenPair, error) {
		return g.svc.Refresh(ctx, in.GetRefreshToken())
	}, tokenResponse)
}

// Logout revokes a refresh token's family.
func (g *grpcServer) Logout(ctx context.Context, in *authv1.LogoutRequest) (*authv1.LogoutResponse, error) {
	if err := g.svc.Logout(ctx, in.GetRefreshToken()); err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &authv1.LogoutResponse{}, nil
}

// CreateOtpChallenge starts a step-up for the caller.
func (g *grpcServer) CreateOtpChallenge(ctx context.Context, in *authv1.CreateOtpChallengeRequest) (*authv1.OtpChallenge, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) (Challenge, error) {
		return g.svc.CreateOTPChallenge(ctx, p, in.GetMethod())
	}, func(ch Challenge) *authv1.OtpChallenge {
		return &authv1.OtpChallenge{
			ChallengeId: ch.ID, Method: ch.Method, ExpiresIn: seconds(ch.ExpiresIn), ResendAfter: seconds(ch.ResendAfter),
		}
	})
}

// VerifyOtpChallenge answers a challenge; a phone-verification challenge
// needs no token.
func (g *grpcServer) VerifyOtpChallenge(ctx context.Context, in *authv1.VerifyOtpChallengeRequest) (*authv1.VerifyOtpChallengeResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.caller, func(p Principal) (Verified, error) {
		return g.svc.VerifyOTPChallenge(ctx, p, in.GetChallengeId(), in.GetCode())
	}, func(v Verified) *authv1.VerifyOtpChallengeResponse {
		out := &authv1.VerifyOtpChallengeResponse{PhoneVerified: v.PhoneVerified}
		if t := v.Tokens; t != nil {
			out.AccessToken, out.TokenType, out.ExpiresIn, out.RefreshToken, out.Acr = t.AccessToken, t.TokenType, seconds(t.ExpiresIn), t.RefreshToken, t.ACR
		}
		return out
	})
}

// EnrollTotp starts TOTP enrolment.
func (g *grpcServer) EnrollTotp(ctx context.Context, _ *authv1.EnrollTotpRequest) (*authv1.EnrollTotpResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) (TOTPEnrollment, error) {
		return g.svc.EnrollTotp(ctx, p)
	}, func(e TOTPEnrollment) *authv1.EnrollTotpResponse {
		return &authv1.EnrollTotpResponse{Secret: e.Secret, OtpauthUri: e.URI, QrPng: e.QRPNG}
	})
}

// ConfirmTotp enables TOTP and returns recovery codes.
func (g *grpcServer) ConfirmTotp(ctx context.Context, in *authv1.ConfirmTotpRequest) (*authv1.ConfirmTotpResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) ([]string, error) {
		return g.svc.ConfirmTotp(ctx, p, in.GetCode())
	}, func(codes []string) *authv1.ConfirmTotpResponse {
		return &authv1.ConfirmTotpResponse{RecoveryCodes: codes}
	})
}

// IssueToken is the client_credentials token endpoint.
func (g *grpcServer) IssueToken(ctx context.Context, in *authv1.IssueTokenRequest) (*authv1.TokenResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (TokenPair, error) {
		return g.svc.IssueToken(ctx, TokenRequest{
			GrantType: in.GetGrantType(), ClientID: in.GetClientId(), ClientSecret: in.GetClientSecret(), Scope: in.GetScope(),
			Source: g.source(ctx),
		})
	}, tokenResponse)
}

// GetOpenIdConfiguration is the discovery document.
func (g *grpcServer) GetOpenIdConfiguration(context.Context, *authv1.GetOpenIdConfigurationRequest) (*authv1.OpenIdConfiguration, error) {
	c := g.svc.OpenIDConfiguration()
	return &authv1.OpenIdConfiguration{
		Issuer: c.Issuer, JwksUri: c.JWKSURI, TokenEndpoint: c.TokenEndpoint,
		ResponseTypesSupported: c.ResponseTypesSupported, SubjectTypesSupported: c.SubjectTypesSupported,
		IdTokenSigningAlgValuesSupported: c.IDTokenSigningAlgValuesSupported, GrantTypesSupported: c.GrantTypesSupported,
		AcrValuesSupported: c.ACRValuesSupported, TokenEndpointAuthMethodsSupported: c.TokenEndpointAuthMethodsSupported,
		ScopesSupported: c.ScopesSupported, ClaimsSupported: c.ClaimsSupported,
		AuthorizationEndpoint: c.AuthorizationEndpoint, UserinfoEndpoint: c.UserinfoEndpoint,
		EndSessionEndpoint: c.EndSessionEndpoint, RevocationEndpoint: c.RevocationEndpoint,
		CodeChallengeMethodsSupported:              c.CodeChallengeMethodsSupported,
		RevocationEndpointAuthMethodsSupported:     c.RevocationEndpointAuthMethodsSupported,
		ResponseModesSupported:                     c.ResponseModesSupported,
		PromptValuesSupported:                      c.PromptValuesSupported,
		AuthorizationResponseIssParameterSupported: c.AuthorizationResponseIssParameterSupported,
		IntrospectionEndpoint:                      c.IntrospectionEndpoint,
		IntrospectionEndpointAuthMethodsSupported:  c.IntrospectionEndpointAuthMethodsSupported,
		PushedAuthorizationRequestEndpoint:         c.PushedAuthorizationRequestEndpoint,
		BackchannelLogoutSupported:                 c.BackchannelLogoutSupported,
		BackchannelLogoutSessionSupported:          c.BackchannelLogoutSessionSupported,
		TokenEndpointAuthSigningAlgValuesSupported: c.TokenEndpointAuthSigningAlgValuesSupported,
		ClaimsParameterSupported:                   c.ClaimsParameterSupported,
	}, nil
}

// GetJwks returns the verification keys.
func (g *grpcServer) GetJwks(ctx context.Context, _ *authv1.GetJwksRequest) (*authv1.Jwks, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) ([]JWK, error) {
		return g.svc.Jwks(ctx)
	}, func(keys []JWK) *authv1.Jwks {
		return &authv1.Jwks{Keys: grpcserver.Convert(keys, func(k JWK) *authv1.Jwk {
			return &authv1.Jwk{Kty: k.Kty, Crv: k.Crv, X: k.X, Y: k.Y, N: k.N, E: k.E, Kid: k.Kid, Use: k.Use, Alg: k.Alg}
		})}
	})
}

// StartUnlock sends an unlock code to a locked account's phone; the
// answer is the same whatever the national ID.
func (g *grpcServer) StartUnlock(ctx context.Context, in *authv1.StartUnlockRequest) (*authv1.UnlockChallenge, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (Challenge, error) {
		return g.svc.StartUnlock(ctx, in.GetNationalId())
	}, func(ch Challenge) *authv1.UnlockChallenge {
		return &authv1.UnlockChallenge{ChallengeId: ch.ID, ExpiresIn: seconds(ch.ExpiresIn)}
	})
}

// VerifyUnlock lifts an account's login locks with the SMS code.
func (g *grpcServer) VerifyUnlock(ctx context.Context, in *authv1.VerifyUnlockRequest) (*authv1.VerifyUnlockResponse, error) {
	if err := g.svc.VerifyUnlock(ctx, in.GetChallengeId(), in.GetCode()); err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &authv1.VerifyUnlockResponse{Unlocked: true}, nil
}

// ListSessions lists the calling citizen's sessions.
func (g *grpcServer) ListSessions(ctx context.Context, _ *authv1.ListSessionsRequest) (*authv1.ListSessionsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) ([]Session, error) {
		return g.svc.ListSessions(ctx, p)
	}, func(ss []Session) *authv1.ListSessionsResponse {
		out := &authv1.ListSessionsResponse{Sessions: make([]*authv1.Session, 0, len(ss))}
		for _, s := range ss {
			m := &authv1.Session{
				Id: s.ID, CreateTime: timestamppb.New(s.CreateTime), LastUseTime: timestamppb.New(s.LastUseTime),
				Acr: s.ACR, Current: s.Current,
			}
			for _, a := range s.Apps {
				m.Apps = append(m.Apps, &authv1.SessionApp{ClientId: a.ClientID, Organization: a.Organization})
			}
			out.Sessions = append(out.Sessions, m)
		}
		return out
	})
}

// DeleteSession ends one of the calling citizen's sessions.
func (g *grpcServer) DeleteSession(ctx context.Context, in *authv1.DeleteSessionRequest) (*authv1.DeleteSessionResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.requireCaller, func(p Principal) (struct{}, error) {
		return struct{}{}, g.svc.DeleteSession(ctx, p, in.GetSessionId())
	}, func(struct{}) *authv1.DeleteSessionResponse { return &authv1.DeleteSessionResponse{} })
}
