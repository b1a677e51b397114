package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// jwksFromAuth is the transport of the gateway's own token verifier when
// the JWKS URL is the one the gateway serves: every fetch is auth's
// GetJwks over the backend connection, written as the public route
// /.well-known/jwks.json writes it.
type jwksFromAuth struct{ auth authv1.AuthServiceClient }

// RoundTrip answers any request with the key set auth has now.
func (t jwksFromAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	keys, err := t.auth.GetJwks(r.Context(), &authv1.GetJwksRequest{})
	if err != nil {
		return nil, fmt.Errorf("gateway: keys from auth: %w", err)
	}
	body, err := jsonMarshaler.Marshal(keys)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}, nil
}
