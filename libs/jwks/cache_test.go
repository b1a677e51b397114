package jwks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// cacheState reads the cache's size and hit count.
func cacheState(v *Verifier) (entries int, hits uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.cache.entries), v.cache.hits
}

// checkHits fails unless the cache holds entries tokens and has answered
// hits times.
func checkHits(t *testing.T, v *Verifier, entries int, hits uint64) {
	t.Helper()
	if n, h := cacheState(v); n != entries || h != hits {
		t.Fatalf("cache: %d entries, %d hits; want %d entries, %d hits", n, h, entries, hits)
	}
}

func TestCacheOptions(t *testing.T) {
	srv := newJWKSServer(t, newSigner(t, "k1", jwt.SigningMethodES256))
	clk := newClock()
	tests := []struct {
		name     string
		size     int
		ttl      time.Duration
		wantSize int // 0: disabled
		wantTTL  time.Duration
	}{
		{"defaults", 0, 0, DefaultCacheSize, DefaultCacheTTL},
		{"set", 5, time.Second, 5, time.Second},
		{"disabled", -1, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheSize, o.CacheTTL = tt.size, tt.ttl })
			if tt.wantSize == 0 {
				if v.cache != nil {
					t.Fatalf("cache enabled with CacheSize %d; want none", tt.size)
				}
				return
			}
			if v.cache == nil || v.cache.size != tt.wantSize || v.cache.ttl != tt.wantTTL {
				t.Fatalf("cache = %+v; want size %d, ttl %v", v.cache, tt.wantSize, tt.wantTTL)
			}
		})
	}
	if _, err := New(Options{JWKSURL: srv.URL, Issuer: testIssuer, Audiences: []string{testAudience}, CacheTTL: -time.Second}); err == nil {
		t.Error("New with a negative CacheTTL = nil error; want one")
	}
}

// TestCacheHitEqualsFreshVerification: the second Verify of a token is a hit
// whose claims equal those of a verifier without a cache, and a caller
// changing the claims it got cannot change the next answer.
func TestCacheHitEqualsFreshVerification(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	cached := newTestVerifier(t, srv.URL, clk, nil)
	fresh := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheSize = -1 })
	c := validClaims(clk.Now())
	c.ID, c.ClientID, c.SessionID = "jti-1", "client-1", "sid-1"
	raw := key.sign(t, c)

	want, err := fresh.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	first, err := cached.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, cached, 1, 0)
	clk.Advance(10 * time.Second)
	for i := range 3 {
		got, err := cached.Verify(t.Context(), raw)
		checkErr(t, err, nil)
		checkHits(t, cached, 1, uint64(i+1))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("hit %d claims = %+v; want %+v", i+1, got, want)
		}
		if got == first {
			t.Fatal("a hit returned the claims of the first call; want a copy")
		}
		// A careless caller edits everything it can reach.
		got.Subject = "cit_admin"
		got.Scope += " admin"
		got.AMR[0] = "mfa"
		got.AMR = append(got.AMR, "hwk")
		got.Audience[0] = "other"
		got.ExpiresAt.Time = got.ExpiresAt.Add(time.Hour)
		got.AuthTime.Time = got.AuthTime.Add(time.Hour)
	}
	first.Subject, first.AMR[1] = "cit_other", "none"
	got, err := cached.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims after callers edited theirs = %+v; want %+v", got, want)
	}
}

// TestCacheExpiry: a cached token is refused exactly when a full
// verification would refuse it: after exp (plus the leeway, through a full
// verification, since the entry ends at exp), before nbf when the clock
// goes back, and on a hit whose entry outlived its claims.
func TestCacheExpiry(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	start := clk.Now()
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheTTL = time.Hour })
	raw := key.sign(t, validClaims(start)) // exp = start + 5 min

	_, err := v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	clk.Set(start.Add(5*time.Minute - time.Second))
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 1)

	// At exp the entry is gone; within the leeway a full verification
	// still accepts, as without the cache, but does not cache the token.
	clk.Set(start.Add(5*time.Minute + 10*time.Second))
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 0, 1)
	clk.Set(start.Add(5*time.Minute + DefaultLeeway + time.Second))
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, ErrExpired)
	checkHits(t, v, 0, 1)

	// The clock steps back before nbf (beyond the leeway): the hit is
	// refused by the same rule and the entry dropped.
	raw = key.sign(t, validClaims(start)) // nbf = iat = start
	clk.Set(start)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	clk.Set(start.Add(-DefaultLeeway - time.Second))
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, ErrNotYetValid)
	checkHits(t, v, 0, 2)

	// An entry that outlives its token (it cannot, but the rules are
	// re-checked on every hit regardless) answers ErrExpired.
	clk.Set(start)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	v.mu.Lock()
	for _, e := range v.cache.entries {
		e.expires = start.Add(24 * time.Hour)
	}
	v.mu.Unlock()
	clk.Set(start.Add(time.Hour))
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, ErrExpired)
	checkHits(t, v, 0, 3)
}

// TestCacheTTL: a token is answered from the cache for at most CacheTTL;
// then it is verified again in full (and cached again).
func TestCacheTTL(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	raw := key.sign(t, validClaims(clk.Now()))

	_, err := v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	clk.Advance(DefaultCacheTTL - time.Second)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 1)
	clk.Advance(time.Second)
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 1) // a miss, verified and cached again
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 2)
}

// TestCacheDropsWithdrawnKeys: a refresh that no longer lists a token's kid,
// or lists another key under it, ends that token's cache entry, and the
// token is refused as without the cache; tokens of other keys stay cached.
func TestCacheDropsWithdrawnKeys(t *testing.T) {
	k1 := newSigner(t, "k1", jwt.SigningMethodES256)
	k2 := newSigner(t, "k2", jwt.SigningMethodES256)
	k3 := newSigner(t, "k3", jwt.SigningMethodEdDSA)
	k3b := newSigner(t, "k3", jwt.SigningMethodEdDSA) // k3 re-keyed
	srv := newJWKSServer(t, k1, k2, k3)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheTTL = time.Hour })
	now := clk.Now()
	raw1, raw2, raw3 := k1.sign(t, validClaims(now)), k2.sign(t, validClaims(now)), k3.sign(t, validClaims(now))
	for _, raw := range []string{raw1, raw2, raw3, raw1, raw2, raw3} {
		_, err := v.Verify(t.Context(), raw)
		checkErr(t, err, nil)
	}
	checkHits(t, v, 3, 3)

	srv.setSigners(k2, k3b)
	clk.Advance(DefaultMinRefreshInterval)
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	checkHits(t, v, 1, 3)
	_, err := v.Verify(t.Context(), raw1)
	checkErr(t, err, ErrUnknownKey)
	_, err = v.Verify(t.Context(), raw3)
	checkErr(t, err, ErrBadSignature)
	_, err = v.Verify(t.Context(), raw2)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 4)
}

// TestCacheSkipsReplacedKey: a token verified with a key that a refresh
// replaced while the verification ran is not cached.
func TestCacheSkipsReplacedKey(t *testing.T) {
	k1 := newSigner(t, "k1", jwt.SigningMethodES256)
	other := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, k1)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	doc, err := json.Marshal(map[string]any{"keys": []any{other.jwk}})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := parseSet(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := validClaims(clk.Now())
	v.remember(tokenHash{1}, "k1", otherKey["k1"], c)
	v.remember(tokenHash{2}, "gone", otherKey["k1"], c)
	checkHits(t, v, 0, 0)
	v.mu.Lock()
	cur := v.keys["k1"]
	v.mu.Unlock()
	v.remember(tokenHash{3}, "k1", cur, c)
	checkHits(t, v, 1, 0)
}

// TestCacheBounded: however many tokens verify, the cache holds at most
// CacheSize of them, and every token still verifies.
func TestCacheBounded(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	const size = 8
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheSize = size })
	for i := range 60 {
		c := validClaims(clk.Now())
		c.Subject = fmt.Sprintf("cit_%d", i)
		got, err := v.Verify(t.Context(), key.sign(t, c))
		checkErr(t, err, nil)
		if got.Subject != c.Subject {
			t.Fatalf("subject = %q; want %q", got.Subject, c.Subject)
		}
		if n, _ := cacheState(v); n != min(i+1, size) {
			t.Fatalf("after %d tokens the cache holds %d; want %d", i+1, n, min(i+1, size))
		}
	}
	// Expired entries make room first.
	clk.Advance(DefaultCacheTTL)
	_, err := v.Verify(t.Context(), key.sign(t, validClaims(clk.Now())))
	checkErr(t, err, nil)
	if n, _ := cacheState(v); n < 1 || n > size {
		t.Fatalf("after the TTL passed the cache holds %d; want 1..%d", n, size)
	}
}

// TestCacheNeverHitsTamperedOrFailed: a token with any one character
// changed is never answered from the cache of the original, and tokens that
// fail are never cached, however often they are presented.
func TestCacheNeverHitsTamperedOrFailed(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	impostor := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	v := newTestVerifier(t, srv.URL, clk, nil)
	raw := key.sign(t, validClaims(clk.Now()))
	_, err := v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	checkHits(t, v, 1, 0)

	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(raw) {
		if raw[i] == '.' {
			continue
		}
		b := []byte(raw)
		b[i] = alphabet[(strings.IndexByte(alphabet, raw[i])+1)%len(alphabet)]
		_, err := v.Verify(t.Context(), string(b))
		// The last character of the signature carries 4 bits that base64
		// decoding ignores: changing only those leaves the same signature,
		// which a full verification rightly accepts. Anything else fails.
		if err == nil && i != len(raw)-1 {
			t.Fatalf("token with character %d changed verified", i)
		}
		if _, hits := cacheState(v); hits != 0 {
			t.Fatalf("token with character %d changed was a cache hit", i)
		}
	}
	for range 3 {
		_, err := v.Verify(t.Context(), impostor.sign(t, validClaims(clk.Now())))
		checkErr(t, err, ErrBadSignature)
	}
	_, err = v.Verify(t.Context(), raw)
	checkErr(t, err, nil)
	n, _ := cacheState(v)
	if want := 1; n > want+1 { // the original, and at most the last-character twin
		t.Fatalf("cache holds %d entries after failures; want at most %d", n, want+1)
	}
}

// TestCacheConcurrent: 16 goroutines verify a mix of good, tampered and
// expired tokens while the clock moves and the key set is refreshed; every
// answer is right and the cache stays within its size (run with -race).
func TestCacheConcurrent(t *testing.T) {
	key := newSigner(t, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(t, key)
	clk := newClock()
	const size = 6
	v := newTestVerifier(t, srv.URL, clk, func(o *Options) { o.CacheSize = size; o.MinRefreshInterval = time.Second })
	now := clk.Now()
	type token struct {
		raw     string
		subject string // "" when it must fail
	}
	var tokens []token
	for i := range 10 {
		c := validClaims(now)
		c.Subject = fmt.Sprintf("cit_%d", i)
		raw := key.sign(t, c)
		tokens = append(tokens, token{raw, c.Subject})
		parts := strings.Split(raw, ".")
		other := strings.Split(key.sign(t, validClaims(now)), ".")
		tokens = append(tokens, token{parts[0] + "." + other[1] + "." + parts[2], ""})
	}
	expired := validClaims(now.Add(-time.Hour))
	tokens = append(tokens, token{key.sign(t, expired), ""})

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 150 {
				tk := tokens[(g*7+i)%len(tokens)]
				got, err := v.Verify(t.Context(), tk.raw)
				switch {
				case tk.subject == "" && err == nil:
					t.Errorf("bad token %d verified", (g*7+i)%len(tokens))
					return
				case tk.subject != "" && err != nil:
					t.Errorf("Verify: %v", err)
					return
				case tk.subject != "" && got.Subject != tk.subject:
					t.Errorf("subject = %q; want %q", got.Subject, tk.subject)
					return
				}
				if g == 0 && i%25 == 0 {
					clk.Advance(time.Second)
					_ = v.Refresh(t.Context())
				}
				if n, _ := cacheState(v); n > size {
					t.Errorf("cache holds %d; want at most %d", n, size)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, hits := cacheState(v); hits == 0 {
		t.Error("no cache hits in 2,400 verifications of 10 good tokens")
	}
}

// BenchmarkVerify measures a full verification (cache off) against a hit
// (cache on) of the same ES256 token.
func BenchmarkVerify(b *testing.B) {
	key := newSigner(b, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(b, key)
	clk := newClock()
	for _, bc := range []struct {
		name string
		size int
	}{{"cache=off", -1}, {"cache=on", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			v := newTestVerifier(b, srv.URL, clk, func(o *Options) { o.CacheSize = bc.size })
			raw := key.sign(b, validClaims(clk.Now()))
			if _, err := v.Verify(b.Context(), raw); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
