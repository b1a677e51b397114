package jwks

import (
	"crypto"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the verified-token cache (see the package documentation).
const (
	DefaultCacheSize = 10_000
	DefaultCacheTTL  = time.Minute
)

// evictSample is how many entries a full cache looks at to choose the one
// to evict.
const evictSample = 8

// tokenHash names a token in the cache: its SHA-256, so the cache never
// holds a usable bearer token.
type tokenHash [sha256.Size]byte

// cacheEntry is one verified token.
type cacheEntry struct {
	claims  *Claims          // never handed out: callers get clones
	kid     string           // the key it was verified with …
	pub     crypto.PublicKey // … and that key, to notice it replaced
	expires time.Time        // min(exp, verified + TTL)
}

// tokenCache remembers tokens that verified, so that a token seen again
// costs a map lookup. It is guarded by Verifier.mu, which also guards the
// key set, so that a refresh drops entries and installs the new keys in one
// step.
type tokenCache struct {
	size    int
	ttl     time.Duration
	entries map[tokenHash]*cacheEntry
	hits    uint64 // for tests and the curious
}

func newTokenCache(size int, ttl time.Duration) *tokenCache {
	return &tokenCache{size: size, ttl: ttl, entries: make(map[tokenHash]*cacheEntry, min(size, 1024))}
}

// getLocked returns the live entry for h, deleting it if it has expired.
func (c *tokenCache) getLocked(h tokenHash, now time.Time) *cacheEntry {
	e, ok := c.entries[h]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(c.entries, h)
		return nil
	}
	c.hits++
	return e
}

// putLocked stores e under h, evicting an entry when the cache is full.
func (c *tokenCache) putLocked(h tokenHash, e *cacheEntry, now time.Time) {
	if _, ok := c.entries[h]; !ok && len(c.entries) >= c.size {
		c.evictLocked(now)
	}
	c.entries[h] = e
}

// evictLocked makes room for one entry: among a few entries taken in Go's
// randomised map order it drops the expired ones, or else the one that
// expires first. That costs O(evictSample), needs no bookkeeping on hits
// (unlike an LRU list), and stays close to "drop the least useful": every
// entry dies within the TTL anyway.
func (c *tokenCache) evictLocked(now time.Time) {
	var (
		victim  tokenHash
		soonest time.Time
		n       int
		freed   bool
	)
	for h, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, h)
			freed = true
		} else if n == 0 || e.expires.Before(soonest) {
			victim, soonest = h, e.expires
		}
		if n++; n == evictSample {
			break
		}
	}
	if !freed && n > 0 {
		delete(c.entries, victim)
	}
}

// dropUnlistedLocked deletes the entries whose key the new set no longer
// lists, or lists as another key under the same kid.
func (c *tokenCache) dropUnlistedLocked(keys map[string]publicKey) {
	for h, e := range c.entries {
		if k, ok := keys[e.kid]; !ok || !samePublicKey(k.pub, e.pub) {
			delete(c.entries, h)
		}
	}
}

// samePublicKey reports whether a and b are the same key. Every key type the
// package parses has an Equal method.
func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// clone returns a deep copy of c, so that a caller changing the claims it
// got (appending to AMR, moving a date) cannot change what the cache hands
// out next. The dates live in one allocation with the claims.
func (c *Claims) clone() *Claims {
	box := &struct {
		c     Claims
		dates [4]jwt.NumericDate
	}{c: *c}
	out := &box.c
	for i, p := range []**jwt.NumericDate{&out.ExpiresAt, &out.NotBefore, &out.IssuedAt, &out.AuthTime} {
		if *p != nil {
			box.dates[i] = **p
			*p = &box.dates[i]
		}
	}
	out.Audience = slices.Clone(out.Audience)
	out.AMR = slices.Clone(out.AMR)
	return out
}
