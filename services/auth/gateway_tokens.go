package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// Tokens for calls relayed by the X-Road / UXP provider security server
// (docs/gateway.md, "X-Road"): the security server authenticated the
// X-Road member, the gateway mapped the member to a registered client,
// and the gateway asks auth for that client's token over the internal
// GatewayTokenService. The service has no HTTP route; it answers only a
// caller presenting Config.GatewaySecret, and refuses every call while
// that is not configured.

// GatewaySecretMetadata is the gRPC metadata key the gateway presents
// its secret in.
const GatewaySecretMetadata = "tamkeen-gateway-secret"

// MinGatewaySecretLen is the shortest accepted gateway secret.
const MinGatewaySecretLen = 32

// ErrClientDisabled is returned by GatewayClientToken for a disabled
// client.
var ErrClientDisabled = errors.New("auth: the client is disabled")

// GatewayClientToken issues the access token of the enabled client id
// with every API scope it holds: what the client would get from
// client_credentials without a scope parameter. The caller must have
// authenticated the gateway.
func (s *Service) GatewayClientToken(ctx context.Context, id string) (TokenPair, error) {
	c, err := s.Client(ctx, id)
	if err != nil {
		return TokenPair{}, err
	}
	if c.Disabled {
		return TokenPair{}, ErrClientDisabled
	}
	return s.clientCredentials(ctx, c, nil)
}

// gatewayTokenServer is the internal GatewayTokenService.
type gatewayTokenServer struct {
	authv1.UnimplementedGatewayTokenServiceServer
	svc *Service
	// secret is SHA-256 of Config.GatewaySecret; nil refuses every call.
	secret []byte
}

// newGatewayTokenServer keeps a digest of secret ("" turns it off).
func newGatewayTokenServer(svc *Service, secret string) *gatewayTokenServer {
	g := &gatewayTokenServer{svc: svc}
	if secret != "" {
		sum := sha256.Sum256([]byte(secret))
		g.secret = sum[:]
	}
	return g
}

// authorized reports whether ctx carries the gateway secret. Both sides
// are hashed first, so the comparison takes the same time whatever the
// length of what was sent.
func (g *gatewayTokenServer) authorized(ctx context.Context) bool {
	if g.secret == nil {
		return false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(GatewaySecretMetadata)
	if len(vals) != 1 {
		return false
	}
	sum := sha256.Sum256([]byte(vals[0]))
	return subtle.ConstantTimeCompare(sum[:], g.secret) == 1
}

// IssueClientToken answers the client's token to the gateway.
func (g *gatewayTokenServer) IssueClientToken(ctx context.Context, req *authv1.IssueClientTokenRequest) (*authv1.IssueClientTokenResponse, error) {
	if !g.authorized(ctx) {
		// Never say whether the service is configured or the secret wrong.
		g.svc.Logger.WarnContext(ctx, "auth: gateway token refused: no or wrong gateway secret")
		return nil, status.Error(codes.PermissionDenied, "only the gateway may call this service")
	}
	if req.GetClientId() == "" {
		return nil, rpcerr.Invalid(rpcerr.FieldError{Field: "client_id", Reason: "required", Code: "client_id.required"})
	}
	pair, err := g.svc.GatewayClientToken(ctx, req.GetClientId())
	switch {
	case errors.Is(err, ErrClientDisabled):
		return nil, status.Error(codes.FailedPrecondition, "the client is disabled")
	case err != nil:
		return nil, rpcerr.FromDomain(fmt.Errorf("gateway token: %w", err), g.svc.Logger, ctx)
	}
	g.svc.Logger.InfoContext(ctx, "auth: client token issued to the gateway (X-Road)", slog.String("client_id", req.GetClientId()))
	return &authv1.IssueClientTokenResponse{AccessToken: pair.AccessToken, ExpiresIn: int64(pair.ExpiresIn.Seconds()), Scope: pair.Scope}, nil
}
