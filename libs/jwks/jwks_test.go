package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sentinels are every error Verify may wrap.
var sentinels = []error{ErrMalformed, ErrExpired, ErrNotYetValid, ErrLifetime, ErrBadSignature, ErrUnknownKey, ErrIssuer, ErrAudience, ErrJWKSUnavailable}

// checkErr fails unless err wraps exactly want (nil meaning success).
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: %v; want success", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify error = %v; want %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Fatalf("Verify error %v wraps %v as well as %v", err, s, want)
		}
	}
}

func TestVerify(t *testing.T) {
	es256 := newSigner(t, "es256", jwt.SigningMethodES256)
	es384 := newSigner(t, "es384", jwt.SigningMethodES384)
	rs256 := newSigner(t, "rsa", jwt.SigningMethodRS256)
	ps256 := &signer{kid: "rsa", method: jwt.SigningMethodPS256, priv: rs256.priv}
	ed := newSigner(t, "ed", jwt.SigningMethodEdDSA)
	encKey := newSigner(t, "enc", jwt.SigningMethodES256)
	encKey.jwk["use"] = "enc"
	pinned := newSigner(t, "pinned", jwt.SigningMethodES256)
	pinned.jwk["alg"] = "ES256"
	pinnedRSA := newSigner(t, "pinned-rsa", jwt.SigningMethodRS256)
	pinnedRSA.jwk["alg"] = "RS256"
	pinnedPS := &signer{kid: "pinned-rsa", method: jwt.SigningMethodPS256, priv: pinnedRSA.priv}
	impostor := newSigner(t, "es256", jwt.SigningMethodES256) // same kid, other key
	wrongFamily := &signer{kid: "es256", method: jwt.SigningMethodEdDSA, priv: ed.priv}
	wrongCurve := &signer{kid: "es256", method: jwt.SigningMethodES384, priv: es384.priv}
	hmacKey := map[string]any{"kty": "oct", "kid": "hmac", "k": b64u([]byte("shared-secret-shared-secret-1234"))}

	srv := newJWKSServer(t, es256, es384, rs256, ed, encKey, pinned, pinnedRSA)
	srv.setKeys(append(srv.keys, hmacKey)...)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	now := clk.Now()

	claims := func(edit func(c *Claims)) *Claims {
		c := validClaims(now)
		edit(c)
		return c
	}
	noneToken := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(now))
		tok.Header["kid"] = "es256"
		raw, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	hmacToken := func(kid string, secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(now))
		tok.Header["kid"] = kid
		raw, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	es256PubJWK, err := json.Marshal(es256.jwk)
	if err != nil {
		t.Fatal(err)
	}
	tampered := func() string {
		parts := strings.Split(es256.sign(t, validClaims(now)), ".")
		other := strings.Split(es256.sign(t, claims(func(c *Claims) { c.Subject = "cit_admin" })), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"ES256", es256.sign(t, validClaims(now)), nil},
		{"ES384", es384.sign(t, validClaims(now)), nil},
		{"RS256", rs256.sign(t, validClaims(now)), nil},
		{"PS256 with an RSA key without alg", ps256.sign(t, validClaims(now)), nil},
		{"EdDSA", ed.sign(t, validClaims(now)), nil},
		{"key pinned to its alg", pinned.sign(t, validClaims(now)), nil},
		{"RSA key pinned to RS256 refuses PS256", pinnedPS.sign(t, validClaims(now)), ErrBadSignature},
		{"second audience accepted", es256.sign(t, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other", "tamkeen-payment"} })), nil},
		{"expired within leeway", es256.sign(t, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-29 * time.Second)) })), nil},
		{"expired beyond leeway", es256.sign(t, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-31 * time.Second)) })), ErrExpired},
		{"nbf within leeway", es256.sign(t, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(29 * time.Second)) })), nil},
		{"nbf beyond leeway", es256.sign(t, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) })), ErrNotYetValid},
		{"iat in the future", es256.sign(t, claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) })), ErrNotYetValid},
		{"no exp", es256.sign(t, claims(func(c *Claims) { c.ExpiresAt = nil })), ErrMalformed},
		{"wrong issuer", es256.sign(t, claims(func(c *Claims) { c.Issuer = "https://evil.test" })), ErrIssuer},
		{"issuer prefix", es256.sign(t, claims(func(c *Claims) { c.Issuer = testIssuer + "/" })), ErrIssuer},
		{"no issuer", es256.sign(t, claims(func(c *Claims) { c.Issuer = "" })), ErrIssuer},
		{"wrong audience", es256.sign(t, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"tamkeen-content"} })), ErrAudience},
		{"no audience", es256.sign(t, claims(func(c *Claims) { c.Audience = nil })), ErrAudience},
		{"alg none", noneToken(), ErrBadSignature},
		{"HS256 keyed with the public JWK", hmacToken("es256", es256PubJWK), ErrBadSignature},
		{"HS256 with an oct key in the set", hmacToken("hmac", []byte("shared-secret-shared-secret-1234")), ErrBadSignature},
		{"signed by another key under a known kid", impostor.sign(t, validClaims(now)), ErrBadSignature},
		{"EdDSA token naming an EC key", wrongFamily.sign(t, validClaims(now)), ErrBadSignature},
		{"ES384 token naming a P-256 key", wrongCurve.sign(t, validClaims(now)), ErrBadSignature},
		{"tampered payload", tampered(), ErrBadSignature},
		{"signature stripped", strings.Join(strings.Split(es256.sign(t, validClaims(now)), ".")[:2], ".") + ".", ErrBadSignature},
		{"no kid", es256.signWithHeader(t, validClaims(now), map[string]any{"kid": nil}), ErrUnknownKey},
		{"unknown kid", es256.signWithHeader(t, validClaims(now), map[string]any{"kid": "nope"}), ErrUnknownKey},
		{"key for encryption only", encKey.sign(t, validClaims(now)), ErrUnknownKey},
		{"crit header", es256.signWithHeader(t, validClaims(now), map[string]any{"crit": []string{"exp"}}), ErrMalformed},
		{"empty", "", ErrMalformed},
		{"garbage", "not a token", ErrMalformed},
		{"two segments", "eyJhbGciOiJFUzI1NiJ9.e30", ErrMalformed},
		{"bad base64", "!!!.???.###", ErrMalformed},
		{"oversized", strings.Repeat("a", maxTokenBytes+1), ErrMalformed},
		{"claims of the wrong type", es256.sign(t, jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "exp": "tomorrow"}), ErrMalformed},
		{"unknown alg", "eyJhbGciOiJYWVoiLCJraWQiOiJlczI1NiJ9.e30.c2ln", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), tt.token)
			checkErr(t, err, tt.want)
			if tt.want != nil {
				if got != nil {
					t.Errorf("Verify returned claims with an error")
				}
				if d := Description(err); d != tt.want.Error() {
					t.Errorf("Description = %q; want %q", d, tt.want.Error())
				}
				return
			}
			if got.Subject != "cit_123" || got.ACR != "loa2" || got.AZP != "citizen-app" || len(got.AMR) != 2 ||
				got.AuthTime == nil || !got.HasScope("payments:write") {
				t.Errorf("claims = %+v; want those signed", got)
			}
		})
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times; want 1 (cached, and unknown kids rate-limited)", n)
	}
}

func TestRotationPicksUpNewKey(t *testing.T) {
	oldKey := newSigner(t, "2026-01", jwt.SigningMethodES256)
	newKey := newSigner(t, "2026-02", jwt.SigningMethodES256)
	srv := newJWKSServer(t, oldKey)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)

	_, err := v.Verify(t.Context(), oldKey.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)

	// The issuer publishes the new key next to the old one and starts using it.
	srv.setSigners(oldKey, newKey)
	clk.Advance(DefaultMinRefreshInterval)
	_, err = v.Verify(t.Context(), newKey.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)
	_, err = v.Verify(t.Context(), oldKey.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil) // tokens in flight still verify
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d; want 2", n)
	}

	// The old key is retired after its tokens expired.
	srv.setSigners(newKey)
	clk.Advance(DefaultRefreshInterval)
	_, err = v.Verify(t.Context(), newKey.sign(t, validClaims(clk.Now()))) // stale: background refresh
	checkErr(t, err, nil)
	waitFor(t, "background refresh", func() bool { return srv.fetches.Load() == 3 })
	waitFor(t, "old key dropped", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		_, ok := v.keys["2026-01"]
		return !ok
	})
	_, err = v.Verify(t.Context(), oldKey.sign(t, validClaims(clk.Now())))
	checkErr(t, err, ErrUnknownKey)
}

func TestUnknownKidsCannotCauseFetchStorm(t *testing.T) {
	good := newSigner(t, "good", jwt.SigningMethodES256)
	attacker := newSigner(t, "x", jwt.SigningMethodES256)
	srv := newJWKSServer(t, good)
	clk := newClock()
	const minRefresh = 30 * time.Second
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.MinRefreshInterval = minRefresh })

	_, err := v.Verify(t.Context(), good.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)

	attack := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				raw := attacker.signWithHeader(t, validClaims(clk.Now()), map[string]any{"kid": fmt.Sprintf("rand-%d-%d", i, time.Now().UnixNano())})
				if _, err := v.Verify(context.Background(), raw); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("Verify of an unknown kid: %v; want ErrUnknownKey", err)
				}
			})
		}
		wg.Wait()
	}
	tests := []struct {
		advance     time.Duration
		wantFetches int64
	}{
		{0, 1},                           // just fetched: no refresh at all
		{minRefresh - time.Second, 1},    // still too soon
		{time.Second, 2},                 // one refresh for the whole burst
		{minRefresh / 2, 2},              // too soon again
		{minRefresh / 2, 3},              // next window
		{DefaultRefreshInterval * 10, 4}, // long quiet: one refresh
	}
	for i, tt := range tests {
		clk.Advance(tt.advance)
		attack(40)
		if n := srv.fetches.Load(); n != tt.wantFetches {
			t.Fatalf("step %d: fetches = %d; want %d", i, n, tt.wantFetches)
		}
	}
	// The real key still works throughout.
	_, err = v.Verify(t.Context(), good.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)
}

func TestJWKSDownKeepsOldKeys(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	failures := []struct {
		name   string
		break_ func(s *jwksServer)
	}{
		{"HTTP 500", func(s *jwksServer) { s.status = http.StatusInternalServerError }},
		{"not JSON", func(s *jwksServer) { s.body = "<html>maintenance</html>" }},
		{"no usable keys", func(s *jwksServer) { s.body = `{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0"}]}` }},
		{"empty set", func(s *jwksServer) { s.body = `{"keys":[]}` }},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			srv.set(f.break_)
			t.Cleanup(func() { srv.set(func(s *jwksServer) { s.status, s.body = http.StatusOK, "" }) })
			before := srv.fetches.Load()
			clk.Advance(DefaultRefreshInterval + time.Second)
			_, err := v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
			checkErr(t, err, nil)
			waitFor(t, "background refresh", func() bool { return srv.fetches.Load() == before+1 })
			waitFor(t, "refresh to finish", func() bool {
				v.mu.Lock()
				defer v.mu.Unlock()
				return v.inflight == nil
			})
			if err := v.Refresh(t.Context()); err == nil {
				t.Errorf("Refresh against a broken JWKS succeeded")
			}
			_, err = v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
			checkErr(t, err, nil)
		})
	}

	// Server gone entirely.
	srv.Close()
	clk.Advance(DefaultRefreshInterval + time.Second)
	if err := v.Refresh(t.Context()); err == nil {
		t.Errorf("Refresh against a closed server succeeded")
	}
	_, err := v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)
}

func TestJWKSUnavailableAtStart(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	srv.set(func(s *jwksServer) { s.status = http.StatusServiceUnavailable })
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)

	for range 3 {
		_, err := v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
		checkErr(t, err, ErrJWKSUnavailable)
		if !strings.Contains(err.Error(), "HTTP 503") {
			t.Errorf("error %q does not say why", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d; want 1 (retries are rate-limited)", n)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	clk.Advance(DefaultMinRefreshInterval)
	_, err := v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)
}

func TestCacheControlMaxAge(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	srv.set(func(s *jwksServer) { s.cacheControl = "public, max-age=60" })
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	raw := key.sign(t, validClaims(clk.Now()))

	_, err := v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	clk.Advance(59 * time.Second)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d before max-age passed; want 1", n)
	}
	clk.Advance(2 * time.Second)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	waitFor(t, "refresh after max-age", func() bool { return srv.fetches.Load() == 2 })
}

func TestCacheMaxAge(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"public", 0, false},
		{"max-age=300", 5 * time.Minute, true},
		{"public, max-age=60, must-revalidate", time.Minute, true},
		{`MAX-AGE="90"`, 90 * time.Second, true},
		{"max-age=-1", 0, false},
		{"max-age=abc", 0, false},
		{"no-store", 0, true},
		{"no-cache, max-age=60", 0, true},
		{"max-age=999999999999", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := cacheMaxAge(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cacheMaxAge(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestConcurrentVerifyShareOneFetch(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	gate := make(chan struct{})
	srv.set(func(s *jwksServer) { s.gate = gate })
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	raw := key.sign(t, validClaims(clk.Now()))

	const n = 32
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(context.Background(), raw)
			errs <- err
		}()
	}
	waitFor(t, "the fetch to start", func() bool { return srv.fetches.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // let the rest pile up behind it
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("fetches = %d; want 1 shared by %d callers", got, n)
	}

	// And many verifications on the cached set, in parallel.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := v.Verify(context.Background(), raw); err != nil {
					t.Errorf("Verify: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestVerifyHonoursContextWhileWaiting(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	gate := make(chan struct{})
	srv.set(func(s *jwksServer) { s.gate = gate })
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	raw := key.sign(t, validClaims(clk.Now()))

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, raw)
	checkErr(t, err, ErrJWKSUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v; want it to wrap context.DeadlineExceeded", err)
	}
	// The shared fetch was not cancelled with the caller: it completes for others.
	close(gate)
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	if n := srv.fetches.Load(); n > 2 {
		t.Errorf("fetches = %d; want at most 2", n)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	valid := func() Options {
		return Options{JWKSURL: "http://auth:8080/.well-known/jwks.json", Issuer: testIssuer, Audiences: []string{testAudience}}
	}
	tests := []struct {
		name string
		edit func(*Options)
		ok   bool
	}{
		{"valid", func(*Options) {}, true},
		{"https", func(o *Options) { o.JWKSURL = "https://auth/jwks" }, true},
		{"no URL", func(o *Options) { o.JWKSURL = "" }, false},
		{"relative URL", func(o *Options) { o.JWKSURL = "/jwks.json" }, false},
		{"file URL", func(o *Options) { o.JWKSURL = "file:///etc/jwks.json" }, false},
		{"no issuer", func(o *Options) { o.Issuer = "" }, false},
		{"no audience", func(o *Options) { o.Audiences = nil }, false},
		{"empty audience", func(o *Options) { o.Audiences = []string{""} }, false},
		{"negative leeway", func(o *Options) { o.Leeway = -time.Second }, false},
		{"min refresh above refresh", func(o *Options) { o.RefreshInterval, o.MinRefreshInterval = time.Minute, time.Hour }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.edit(&o)
			v, err := New(o)
			if (err == nil) != tt.ok {
				t.Fatalf("New error = %v; want ok=%v", err, tt.ok)
			}
			if tt.ok && (v.opts.Leeway != DefaultLeeway || v.opts.HTTPClient.Timeout != DefaultHTTPTimeout ||
				v.opts.RefreshInterval != DefaultRefreshInterval || v.opts.MinRefreshInterval != DefaultMinRefreshInterval) {
				t.Errorf("defaults not applied: %+v", v.opts)
			}
		})
	}
}

func TestLeewayOption(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.Leeway = 5 * time.Second })
	c := validClaims(clk.Now())
	c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(-10 * time.Second))
	_, err := v.Verify(t.Context(), key.sign(t, c))
	checkErr(t, err, ErrExpired)
	if !strings.Contains(err.Error(), "2026-03-01T11:59:50Z") {
		t.Errorf("error %q does not say when the token expired", err)
	}
}

func TestTypeOption(t *testing.T) {
	t.Parallel()
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	strict := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.Type = "at+jwt" })
	lax := newTestVerifier(t, srv.URL, clk, nil)
	tests := []struct {
		name string
		typ  any // nil: no typ header
		want error
	}{
		{"at+jwt", "at+jwt", nil},
		{"with application prefix and other case", "application/AT+JWT", nil},
		{"plain JWT", "JWT", ErrMalformed},
		{"no typ", nil, ErrMalformed},
		{"empty typ", "", ErrMalformed},
		{"not a string", 7, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := key.signWithHeader(t, validClaims(clk.Now()), map[string]any{"typ": tt.typ})
			_, err := strict.Verify(t.Context(), raw)
			checkErr(t, err, tt.want)
			if _, err := lax.Verify(t.Context(), raw); err != nil {
				t.Errorf("verifier without Type: %v; want any typ accepted", err)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		scope string
		want  []string
		has   map[string]bool
	}{
		{"", nil, map[string]bool{"": false, "a": false}},
		{"a", []string{"a"}, map[string]bool{"a": true, "b": false}},
		{" payments:read  payments:write ", []string{"payments:read", "payments:write"},
			map[string]bool{"payments:read": true, "payments:write": true, "payments": false, "payments:read payments:write": false}},
	}
	for _, tt := range tests {
		c := &Claims{Scope: tt.scope}
		if got := c.Scopes(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Scopes(%q) = %q; want %q", tt.scope, got, tt.want)
		}
		for s, want := range tt.has {
			if got := c.HasScope(s); got != want {
				t.Errorf("HasScope(%q) on %q = %v; want %v", s, tt.scope, got, want)
			}
		}
	}
}

func TestDescription(t *testing.T) {
	for _, s := range sentinels {
		wrapped := fmt.Errorf("%w: internal detail http://auth:8080", s)
		if got := Description(wrapped); got != s.Error() {
			t.Errorf("Description(%v) = %q; want %q", wrapped, got, s.Error())
		}
	}
	if got := Description(errors.New("boom")); got != "invalid token" {
		t.Errorf("Description(other) = %q; want %q", got, "invalid token")
	}
}

func TestServiceConfig(t *testing.T) {
	c := ServiceConfig{Issuer: "https://api.tamkeen.ps/", Audience: "tamkeen"}
	if got, want := c.KeySetURL(), "https://api.tamkeen.ps/.well-known/jwks.json"; got != want {
		t.Errorf("KeySetURL() = %q; want %q", got, want)
	}
	c.JWKSURL = "http://gateway.internal/.well-known/jwks.json"
	if got := c.KeySetURL(); got != c.JWKSURL {
		t.Errorf("KeySetURL() with jwks-url = %q; want %q", got, c.JWKSURL)
	}
	if _, err := c.NewVerifier(nil); err != nil {
		t.Errorf("NewVerifier = %v", err)
	}
	if _, err := (ServiceConfig{Issuer: "https://api.tamkeen.ps"}).NewVerifier(nil); err == nil {
		t.Error("NewVerifier without an audience = nil error; want one")
	}
}

// TestLifetimeAndAuthTime: a token living longer than MaxLifetime (exp -
// iat, or exp - now without iat) and a token whose auth_time lies in the
// future beyond the leeway are refused; both were accepted before.
func TestLifetimeAndAuthTime(t *testing.T) {
	t.Parallel()
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	now := clk.Now()
	byDefault := newTestVerifier(t, srv.URL, clk, nil)
	short := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.MaxLifetime = 10 * time.Minute })
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	tests := []struct {
		name          string
		edit          func(c *Claims)
		want, wantMax error // with the default (1 h) and with 10 min
	}{
		{"10 minutes", func(c *Claims) { c.IssuedAt, c.ExpiresAt = at(0), at(10*time.Minute) }, nil, nil},
		{"exactly 1 h", func(c *Claims) { c.IssuedAt, c.ExpiresAt = at(0), at(time.Hour) }, nil, ErrLifetime},
		{"1 h 1 s", func(c *Claims) { c.IssuedAt, c.ExpiresAt = at(0), at(time.Hour+time.Second) }, ErrLifetime, ErrLifetime},
		{"a year", func(c *Claims) { c.IssuedAt, c.ExpiresAt = at(0), at(365*24*time.Hour) }, ErrLifetime, ErrLifetime},
		{"back-dated iat, near exp", func(c *Claims) { c.IssuedAt, c.ExpiresAt = at(-48*time.Hour), at(time.Minute) }, ErrLifetime, ErrLifetime},
		{"no iat, near exp", func(c *Claims) { c.IssuedAt, c.ExpiresAt = nil, at(5*time.Minute) }, nil, nil},
		{"no iat, far exp", func(c *Claims) { c.IssuedAt, c.ExpiresAt = nil, at(2*time.Hour) }, ErrLifetime, ErrLifetime},
		{"auth_time now", func(c *Claims) { c.AuthTime = at(0) }, nil, nil},
		{"auth_time in the past", func(c *Claims) { c.AuthTime = at(-time.Hour) }, nil, nil},
		{"auth_time within leeway", func(c *Claims) { c.AuthTime = at(20 * time.Second) }, nil, nil},
		{"auth_time in the future", func(c *Claims) { c.AuthTime = at(5 * time.Minute) }, ErrNotYetValid, ErrNotYetValid},
		{"auth_time far in the future", func(c *Claims) { c.AuthTime = at(100 * 24 * time.Hour) }, ErrNotYetValid, ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims(now)
			tt.edit(c)
			raw := key.sign(t, c)
			_, err := byDefault.Verify(t.Context(), raw)
			checkErr(t, err, tt.want)
			_, err = short.Verify(t.Context(), raw)
			checkErr(t, err, tt.wantMax)
		})
	}
	if _, err := New(Options{JWKSURL: srv.URL, Issuer: testIssuer, Audiences: []string{testAudience}, MaxLifetime: -time.Second}); err == nil {
		t.Error("New with a negative MaxLifetime = nil error; want one")
	}
}
