package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
)

// testIssuer is the iss of the test tokens and the gateway's Config.Issuer.
const testIssuer = "https://id.tamkeen.test"

// tokenKey is an ES256 signing key published in a test JWKS.
type tokenKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func newTokenKey(t testing.TB, kid string) *tokenKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenKey{kid: kid, priv: k}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public key as a JWK.
func (k *tokenKey) jwk(t testing.TB) map[string]any {
	t.Helper()
	pt, err := k.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": k.kid, "use": "sig", "alg": "ES256",
		"x": b64u(pt[1:33]), "y": b64u(pt[33:])}
}

// encode builds header.payload for a JWT.
func encode(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64u(h) + "." + b64u(c)
}

// sign signs claims with ES256 under the header {alg, typ: at+jwt, kid}
// with edits (a nil value removes a header).
func (k *tokenKey) sign(t testing.TB, claims map[string]any, edits map[string]any) string {
	t.Helper()
	header := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": k.kid}
	for name, v := range edits {
		if v == nil {
			delete(header, name)
		} else {
			header[name] = v
		}
	}
	input := encode(t, header, claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64u(sig)
}

// noneToken is an unsigned token (alg none) naming k's kid.
func (k *tokenKey) noneToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	return encode(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": k.kid}, claims) + "."
}

// hs256Token is the algorithm-confusion attack: an HMAC whose secret is
// k's public key, as a verifier that trusted "alg" would check it.
func (k *tokenKey) hs256Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	pt, err := k.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	input := encode(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": k.kid}, claims)
	mac := hmac.New(sha256.New, pt)
	mac.Write([]byte(input))
	return input + "." + b64u(mac.Sum(nil))
}

var jtiSeq atomic.Int64

// baseClaims are the registered claims of a token issued at now.
func baseClaims(now time.Time, sub string) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": "tamkeen", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"jti": "jti-" + strconv.FormatInt(jtiSeq.Add(1), 10),
	}
}

// clientClaims are a client_credentials token's claims.
func clientClaims(now time.Time, clientID string, scopes ...string) map[string]any {
	c := baseClaims(now, clientID)
	c["client_id"] = clientID
	c["scope"] = strings.Join(scopes, " ")
	return c
}

// citizenClaims are a login token's claims.
func citizenClaims(now time.Time, sub, acr string, authTime time.Time) map[string]any {
	c := baseClaims(now, sub)
	c["acr"] = acr
	c["amr"] = []string{"pwd"}
	if acr == "loa2" {
		c["amr"] = []string{"pwd", "otp", "sms"}
	}
	c["auth_time"] = authTime.Unix()
	c["azp"] = "citizen-app"
	return c
}

// with returns a copy of c with edits (a nil value removes a claim).
func with(c map[string]any, edits map[string]any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range edits {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// allScopes are every client scope (the demo ministry's grant).
var allScopes = []string{
	"citizens:read", "citizens:proof", "notifications:send", "notifications:read",
	"templates:write", "templates:read", "signatures:verify", "payments:write",
	"payments:read", "ledger:read", "content:write", "content:read", "content:roles",
}

// startJWKS serves keys as a JWK set.
func startJWKS(t testing.TB, keys ...map[string]any) *httptest.Server {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// bearer is the Authorization value for tok.
func bearer(tok string) string { return "Bearer " + tok }

// TestGatewayReadsItsOwnKeysFromAuth: with the JWKS URL the gateway
// publishes itself (the issuer's /.well-known/jwks.json, the default), the
// gateway reads the keys from auth over its backend connection, not over
// HTTP through its own front door (where the public routes' per-address
// rate limit or the Ingress could refuse it). The issuer's host here does
// not resolve: an HTTP fetch could only fail.
func TestGatewayReadsItsOwnKeysFromAuth(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{JWKSURL: testIssuer + "/.well-known/jwks.json"}})
	resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, map[string]string{"Authorization": s.defaultAuth})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticated call = %d %s; want 200 with the keys from auth", resp.StatusCode, body)
	}
	s.rec.mu.Lock()
	calls := s.rec.jwksCalls
	s.rec.mu.Unlock()
	if calls == 0 {
		t.Error("auth's GetJwks was not called; want the gateway to read its keys from auth")
	}
}
