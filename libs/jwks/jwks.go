package jwks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors of Verify; each failure wraps exactly one of them. Their texts are
// fit for an OAuth error_description.
var (
	// ErrMalformed: the string is not a well-formed JWT (or lacks exp).
	ErrMalformed = errors.New("malformed token")
	// ErrExpired: exp is past, beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf, iat or auth_time is in the future, beyond the
	// leeway.
	ErrNotYetValid = errors.New("token not valid yet")
	// ErrLifetime: exp lies further after iat (or, without iat, after
	// now) than Options.MaxLifetime allows; such a token was not minted
	// by the issuer's rules, or outlives any revocation.
	ErrLifetime = errors.New("token lifetime exceeds the issuer's maximum")
	// ErrBadSignature: the signature does not verify, or the algorithm is
	// not accepted ("none", HMAC) or does not fit the key.
	ErrBadSignature = errors.New("invalid token signature")
	// ErrUnknownKey: the kid names no key of the issuer's current set.
	ErrUnknownKey = errors.New("token signed with an unknown key")
	// ErrIssuer: iss is missing or not the expected issuer.
	ErrIssuer = errors.New("token from an unexpected issuer")
	// ErrAudience: aud names none of the accepted audiences.
	ErrAudience = errors.New("token not issued for this audience")
	// ErrJWKSUnavailable: no key set could be fetched yet.
	ErrJWKSUnavailable = errors.New("token signing keys unavailable")
)

// Defaults of Options.
const (
	DefaultLeeway = 30 * time.Second
	// DefaultMaxLifetime bounds exp - iat. Tamkeen's auth issues access
	// tokens for 10 minutes; an hour leaves room for other issuers'
	// settings while refusing tokens that would outlive revocation.
	DefaultMaxLifetime        = time.Hour
	DefaultHTTPTimeout        = 5 * time.Second
	DefaultRefreshInterval    = 10 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
)

// Limits on what the verifier reads.
const (
	maxTokenBytes = 16 << 10 // a token larger than this is not ours
	maxJWKSBytes  = 1 << 20
	fetchTimeout  = 30 * time.Second // backstop when HTTPClient has no timeout
)

// Options configure a Verifier.
type Options struct {
	// JWKSURL is where the issuer publishes its keys, e.g.
	// http://auth:8080/.well-known/jwks.json. Required; http or https.
	JWKSURL string
	// Issuer must equal the token's iss exactly. Required.
	Issuer string
	// Audiences: the token's aud must contain at least one. Required.
	Audiences []string
	// Leeway is the clock skew tolerated for exp, nbf and iat; default
	// DefaultLeeway. Negative is an error.
	Leeway time.Duration
	// MaxLifetime is the longest exp - iat accepted (for a token without
	// iat, exp - now); default DefaultMaxLifetime. Negative is an error.
	MaxLifetime time.Duration
	// HTTPClient fetches the key set; default a client with a
	// DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// RefreshInterval is how long a fetched key set is used before it is
	// refreshed; a shorter Cache-Control max-age from the issuer wins.
	// Default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches not due to
	// RefreshInterval (unknown kid, retry after failure); default
	// DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// Now tells the time; default time.Now.
	Now func() time.Time
	// Type, when set, is the media type the token's "typ" header must name,
	// e.g. "at+jwt" for access tokens (RFC 9068 section 4), so that another
	// kind of JWT from the same issuer (an ID token) cannot pass for one.
	// It is compared case-insensitively, with or without the
	// "application/" prefix (RFC 7515 section 4.1.9). Empty accepts any
	// typ. A mismatch is ErrMalformed.
	Type string
	// CacheSize bounds the cache of verified tokens (see the package
	// documentation); 0 means DefaultCacheSize, negative disables the
	// cache.
	CacheSize int
	// CacheTTL is the longest a verified token is answered from the cache
	// (never beyond its exp); default DefaultCacheTTL. Negative is an
	// error.
	CacheTTL time.Duration
}

// Verifier verifies access tokens against a cached JWK set. It is safe for
// concurrent use.
type Verifier struct {
	opts      Options
	parser    *jwt.Parser
	validator *jwt.Validator // the parser's claim rules, for cache hits

	mu          sync.Mutex
	keys        map[string]publicKey // nil until the first successful fetch
	expires     time.Time            // when keys should be refreshed
	lastAttempt time.Time            // start of the latest fetch
	lastErr     error                // of the latest failed fetch
	inflight    *fetchCall
	cache       *tokenCache // nil when disabled
}

// fetchCall is one fetch that concurrent callers share.
type fetchCall struct {
	done chan struct{}
	err  error
}

// New checks opts and returns a Verifier. It does not fetch keys; the first
// Verify does (or call Refresh to warm up).
func New(opts Options) (*Verifier, error) {
	u, err := url.Parse(opts.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jwks: JWKSURL %q is not an http(s) URL", opts.JWKSURL)
	}
	if opts.Issuer == "" {
		return nil, errors.New("jwks: Issuer is required")
	}
	if len(opts.Audiences) == 0 {
		return nil, errors.New("jwks: at least one audience is required")
	}
	for _, a := range opts.Audiences {
		if a == "" {
			return nil, errors.New("jwks: empty audience")
		}
	}
	switch {
	case opts.Leeway < 0:
		return nil, errors.New("jwks: negative Leeway")
	case opts.Leeway == 0:
		opts.Leeway = DefaultLeeway
	}
	switch {
	case opts.MaxLifetime < 0:
		return nil, errors.New("jwks: negative MaxLifetime")
	case opts.MaxLifetime == 0:
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.MinRefreshInterval > opts.RefreshInterval {
		return nil, errors.New("jwks: MinRefreshInterval longer than RefreshInterval")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case opts.CacheTTL < 0:
		return nil, errors.New("jwks: negative CacheTTL")
	case opts.CacheTTL == 0:
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	opts.Audiences = append([]string(nil), opts.Audiences...)
	v := &Verifier{opts: opts}
	rules := []jwt.ParserOption{
		jwt.WithValidMethods(acceptedAlgs()),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audiences...),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(opts.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	v.parser = jwt.NewParser(rules...)
	v.validator = jwt.NewValidator(rules...)
	if opts.CacheSize > 0 {
		v.cache = newTokenCache(opts.CacheSize, opts.CacheTTL)
	}
	return v, nil
}

// Verify checks raw (the token, without "Bearer ") and returns its claims.
// Errors wrap one of the package's sentinel errors.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, fmt.Errorf("%w: empty or oversized", ErrMalformed)
	}
	var h tokenHash
	if v.cache != nil {
		h = sha256.Sum256([]byte(raw))
		if e := v.cached(ctx, h); e != nil {
			if err := v.recheck(h, e.claims); err != nil {
				return nil, err
			}
			return e.claims.clone(), nil
		}
	}
	claims := &Claims{}
	var (
		keyErr error
		kid    string
		used   publicKey
	)
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, used, keyErr = v.keyFor(ctx, t)
		if keyErr != nil {
			return nil, keyErr
		}
		return used.pub, nil
	})
	if err == nil {
		if err := v.checkTimes(claims); err != nil {
			return nil, err
		}
		if v.cache != nil {
			v.remember(h, kid, used, claims.clone())
		}
		return claims, nil
	}
	if keyErr != nil {
		return nil, keyErr
	}
	return nil, classify(err, claims)
}

// cached returns the cache's live entry for the token hashed h, or nil. A
// hit refreshes stale keys in the background as a lookup does, so that a
// process answering only from the cache still follows the issuer's set.
func (v *Verifier) cached(ctx context.Context, h tokenHash) *cacheEntry {
	now := v.opts.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.cache.getLocked(h, now)
	if e != nil {
		v.refreshIfStaleLocked(ctx, now)
	}
	return e
}

// recheck applies every time rule of a full verification (exp, nbf and iat
// with the leeway, then checkTimes) to a cached token's claims, and issuer
// and audience for good measure, so that the cache changes nothing but the
// cost. A token that fails leaves the cache.
func (v *Verifier) recheck(h tokenHash, c *Claims) error {
	err := v.validator.Validate(c)
	if err != nil {
		err = classify(err, c)
	} else {
		err = v.checkTimes(c)
	}
	if err != nil {
		v.mu.Lock()
		delete(v.cache.entries, h)
		v.mu.Unlock()
	}
	return err
}

// remember caches a token that has just verified with key (named kid), unless
// a refresh has meanwhile withdrawn or replaced that key, or the token is
// too close to its exp to be worth keeping.
func (v *Verifier) remember(h tokenHash, kid string, key publicKey, c *Claims) {
	now := v.opts.Now()
	expires := now.Add(v.cache.ttl)
	if exp := c.ExpiresAt.Time; exp.Before(expires) {
		expires = exp
	}
	if !now.Before(expires) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur, ok := v.keys[kid]; !ok || !samePublicKey(cur.pub, key.pub) {
		return
	}
	v.cache.putLocked(h, &cacheEntry{claims: c, kid: kid, pub: key.pub, expires: expires}, now)
}

// checkTimes applies the time rules the JWT library does not know: the
// lifetime bound and an auth_time that is not in the future (a citizen
// cannot have authenticated after now, and a future auth_time would
// satisfy every max_age for longer than it should).
func (v *Verifier) checkTimes(c *Claims) error {
	now := v.opts.Now()
	exp := c.ExpiresAt.Time // required by the parser
	if c.IssuedAt != nil {
		if life := exp.Sub(c.IssuedAt.Time); life > v.opts.MaxLifetime {
			return fmt.Errorf("%w: exp is %v after iat, more than %v", ErrLifetime, life, v.opts.MaxLifetime)
		}
	} else if left := exp.Sub(now); left > v.opts.MaxLifetime+v.opts.Leeway {
		return fmt.Errorf("%w: no iat and exp is %v away, more than %v", ErrLifetime, left.Truncate(time.Second), v.opts.MaxLifetime)
	}
	if c.AuthTime != nil && c.AuthTime.After(now.Add(v.opts.Leeway)) {
		return fmt.Errorf("%w: auth_time is in the future", ErrNotYetValid)
	}
	return nil
}

// keyFor finds the key that must have signed t, and its kid.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (string, publicKey, error) {
	if _, ok := t.Header["crit"]; ok {
		return "", publicKey{}, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	}
	if want := v.opts.Type; want != "" {
		typ, _ := t.Header["typ"].(string)
		if !sameMediaType(typ, want) {
			return "", publicKey{}, fmt.Errorf("%w: typ %q is not %q", ErrMalformed, typ, want)
		}
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return "", publicKey{}, fmt.Errorf("%w: no kid in header", ErrUnknownKey)
	}
	key, err := v.lookup(ctx, kid)
	if err != nil {
		return "", publicKey{}, err
	}
	if alg := t.Method.Alg(); !key.canVerify(alg) {
		return "", publicKey{}, fmt.Errorf("%w: key %q cannot verify %s", ErrBadSignature, kid, alg)
	}
	return kid, key, nil
}

// lookup returns the key named kid, refreshing the set when it is unknown
// (rate-limited) or stale (in the background).
func (v *Verifier) lookup(ctx context.Context, kid string) (publicKey, error) {
	now := v.opts.Now()
	v.mu.Lock()
	key, ok := v.keys[kid]
	if ok {
		v.refreshIfStaleLocked(ctx, now)
		v.mu.Unlock()
		return key, nil
	}
	if !v.mayFetchLocked(now) {
		err := v.missingLocked(kid)
		v.mu.Unlock()
		return publicKey{}, err
	}
	call := v.startLocked(ctx)
	v.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return publicKey{}, fmt.Errorf("%w: %w", ErrJWKSUnavailable, ctx.Err())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return publicKey{}, v.missingLocked(kid)
}

// mayFetchLocked reports whether a fetch not due to RefreshInterval may
// start now (or one is under way to join).
func (v *Verifier) mayFetchLocked(now time.Time) bool {
	return v.inflight != nil || v.lastAttempt.IsZero() || now.Sub(v.lastAttempt) >= v.opts.MinRefreshInterval
}

// refreshIfStaleLocked starts a background refresh when the key set is due
// for one; callers keep answering from the keys they have meanwhile.
func (v *Verifier) refreshIfStaleLocked(ctx context.Context, now time.Time) {
	if !now.Before(v.expires) && v.mayFetchLocked(now) {
		v.startLocked(ctx)
	}
}

// sameMediaType compares two JOSE typ values, which may leave out the
// "application/" prefix (RFC 7515 section 4.1.9).
func sameMediaType(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		return strings.TrimPrefix(s, "application/")
	}
	return norm(a) != "" && norm(a) == norm(b)
}

// missingLocked explains why kid has no key.
func (v *Verifier) missingLocked(kid string) error {
	if v.keys == nil {
		if v.lastErr != nil {
			return fmt.Errorf("%w: %w", ErrJWKSUnavailable, v.lastErr)
		}
		return ErrJWKSUnavailable
	}
	return fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// Refresh fetches the key set now (joining a fetch already under way) and
// reports whether it worked. Use it to warm the cache at start-up; Verify
// refreshes on its own.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	call := v.startLocked(ctx)
	v.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startLocked returns the fetch under way or starts one. The fetch is not
// cancelled with ctx: other callers may be waiting for it.
func (v *Verifier) startLocked(ctx context.Context) *fetchCall {
	if v.inflight != nil {
		return v.inflight
	}
	call := &fetchCall{done: make(chan struct{})}
	v.inflight = call
	v.lastAttempt = v.opts.Now()
	fctx := context.WithoutCancel(ctx)
	go func() {
		keys, ttl, err := v.fetch(fctx)
		v.mu.Lock()
		if err == nil {
			if v.cache != nil {
				v.cache.dropUnlistedLocked(keys)
			}
			v.keys, v.expires, v.lastErr = keys, v.opts.Now().Add(ttl), nil
		} else {
			v.lastErr = err
		}
		call.err = err
		v.inflight = nil
		v.mu.Unlock()
		close(call.done)
	}()
	return call
}

// fetch downloads and parses the key set and says how long to keep it.
func (v *Verifier) fetch(ctx context.Context) (map[string]publicKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.opts.JWKSURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, 0, fmt.Errorf("fetch JWKS %s: HTTP %d", v.opts.JWKSURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS %s: %w", v.opts.JWKSURL, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("fetch JWKS %s: larger than %d bytes", v.opts.JWKSURL, maxJWKSBytes)
	}
	keys, err := parseSet(body)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS %s: %w", v.opts.JWKSURL, err)
	}
	ttl := v.opts.RefreshInterval
	if maxAge, ok := cacheMaxAge(resp.Header.Get("Cache-Control")); ok && maxAge < ttl {
		ttl = max(maxAge, v.opts.MinRefreshInterval)
	}
	return keys, ttl, nil
}

// cacheMaxAge reads max-age from a Cache-Control header; no-cache and
// no-store count as zero.
func cacheMaxAge(h string) (time.Duration, bool) {
	for dir := range strings.SplitSeq(h, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return 0, true
		case "max-age":
			secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || secs < 0 {
				return 0, false
			}
			if secs > int64(365*24*time.Hour/time.Second) {
				secs = int64(365 * 24 * time.Hour / time.Second)
			}
			return time.Duration(secs) * time.Second, true
		}
	}
	return 0, false
}

// classify maps the parser's error to the package's sentinels.
func classify(err error, c *Claims) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrAudience
	case errors.Is(err, jwt.ErrTokenExpired):
		if c.ExpiresAt == nil {
			return ErrExpired
		}
		return fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.Issuer == "":
			return fmt.Errorf("%w: no iss", ErrIssuer)
		case len(c.Audience) == 0 || len(c.Audience) == 1 && c.Audience[0] == "":
			return fmt.Errorf("%w: no aud", ErrAudience)
		}
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// Claims of the wrong JSON type and the like.
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// Description returns the sentinel text for err, safe to send to the caller
// as an OAuth error_description, or "invalid token" for anything else.
func Description(err error) string {
	for _, s := range []error{ErrMalformed, ErrExpired, ErrNotYetValid, ErrLifetime, ErrBadSignature, ErrUnknownKey, ErrIssuer, ErrAudience, ErrJWKSUnavailable} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "invalid token"
}
