package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

const (
	testIssuer   = "https://auth.tamkeen.test"
	testAudience = "tamkeen-gateway"
)

// newClock is the test clock, standing still at this package's start time.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// signer is a key pair that signs test tokens and describes itself as a JWK.
type signer struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    map[string]any
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newSigner(t testing.TB, kid string, method jwt.SigningMethod) *signer {
	t.Helper()
	s := &signer{kid: kid, method: method}
	switch method {
	case jwt.SigningMethodES256, jwt.SigningMethodES384:
		curve, crv, size := elliptic.P256(), "P-256", 32
		if method == jwt.SigningMethodES384 {
			curve, crv, size = elliptic.P384(), "P-384", 48
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		s.priv = k
		s.jwk = map[string]any{"kty": "EC", "crv": crv, "x": b64u(pt[1 : 1+size]), "y": b64u(pt[1+size:])}
	case jwt.SigningMethodRS256, jwt.SigningMethodPS256:
		k := testRSAKey(t)
		s.priv = k
		s.jwk = map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
	case jwt.SigningMethodEdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s.priv = priv
		s.jwk = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(pub)}
	default:
		t.Fatalf("no test signer for %s", method.Alg())
	}
	s.jwk["kid"] = kid
	s.jwk["use"] = "sig"
	return s
}

// rsaKey generates one RSA key per test binary: generating them is slow.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (s *signer) sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	return s.signWithHeader(t, claims, nil)
}

func (s *signer) signWithHeader(t testing.TB, claims jwt.Claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["kid"] = s.kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	raw, err := tok.SignedString(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// validClaims are claims the test verifier accepts at now.
func validClaims(now time.Time) *Claims {
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "cit_123",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
		},
		Scope:    "payments:read payments:write",
		ACR:      "loa2",
		AMR:      []string{"pwd", "otp"},
		AuthTime: jwt.NewNumericDate(now.Add(-time.Minute)),
		AZP:      "citizen-app",
	}
}

// jwksServer serves a JWK set that tests can change, and counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu           sync.Mutex
	keys         []map[string]any
	status       int
	cacheControl string
	body         string        // served verbatim when set
	gate         chan struct{} // when set, requests wait until it is closed
}

func newJWKSServer(t testing.TB, signers ...*signer) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setSigners(signers...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	gate, status, cc, body := s.gate, s.status, s.cacheControl, s.body
	doc, _ := json.Marshal(map[string]any{"keys": s.keys})
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if body != "" {
		doc = []byte(body)
	}
	w.Header().Set("Content-Type", "application/json")
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.WriteHeader(status)
	_, _ = w.Write(doc)
}

func (s *jwksServer) setSigners(signers ...*signer) {
	keys := make([]map[string]any, len(signers))
	for i, sg := range signers {
		keys[i] = sg.jwk
	}
	s.setKeys(keys...)
}

func (s *jwksServer) setKeys(keys ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func newTestVerifier(t testing.TB, url string, clk *clocktest.Clock, edit func(*Options)) *Verifier {
	t.Helper()
	opts := Options{
		JWKSURL:   url,
		Issuer:    testIssuer,
		Audiences: []string{testAudience, "tamkeen-payment"},
		Now:       clk.Now,
	}
	if edit != nil {
		edit(&opts)
	}
	v, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// waitFor polls cond for up to 5 s: background refreshes finish on their own time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
