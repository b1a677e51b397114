// Package jwks verifies JWT access tokens against the signing keys an issuer
// publishes as a JSON Web Key Set (RFC 7517), as the gateway and every
// service do for tokens from the auth service (defence in depth).
//
// Accepted algorithms are ES256 and ES384 (EC P-256/P-384 keys), RS256/384/512
// and PS256/384/512 (RSA keys of at least 2048 bits) and EdDSA (Ed25519 OKP
// keys). "none" and HMAC algorithms are never accepted, and a key is only
// used for the algorithm family of its type (and its "alg", when the JWK
// names one), so a public key can never double as an HMAC secret.
//
// Tokens must carry a "kid" header naming a key of the set, an exact "iss",
// an "aud" containing one of the configured audiences and an "exp"; "nbf" and
// "iat" are checked when present. With Options.Type set, the "typ" header
// must name that type (access tokens: "at+jwt", RFC 9068). Clock skew up to Options.Leeway is
// tolerated.
//
// Use one Verifier per issuer for the life of the process:
//
//	v, err := jwks.New(jwks.Options{
//		JWKSURL:   cfg.JWKSURL, // e.g. http://auth:8080/.well-known/jwks.json
//		Issuer:    cfg.Issuer,
//		Audiences: []string{"tamkeen-payment"},
//	})
//	if err != nil { … }
//	_ = v.Refresh(ctx) // optional warm-up; Verify fetches on demand
//	…
//	claims, err := v.Verify(ctx, token) // token from authn.Token(authz)
//	if err != nil {
//		// 401, WWW-Authenticate: Bearer error="invalid_token",
//		// error_description=jwks.Description(err)
//	}
//	if !claims.HasScope("payments:write") { … 403 insufficient_scope … }
//
// # Key cache
//
// The key set is fetched on first use and cached. After Options.RefreshInterval
// (or the response's Cache-Control max-age, when shorter) the next Verify
// starts a refresh in the background and keeps using the cached keys
// meanwhile. A token with an unknown kid waits for a refresh — this is how
// rotated keys are picked up — but such on-demand refreshes happen at most once
// per Options.MinRefreshInterval, so tokens with made-up kids cannot make the
// verifier hammer the issuer. Concurrent callers share one fetch. When a
// refresh fails (issuer down, bad document) the previous keys stay in use.
//
// # Verified-token cache
//
// The gateway verifies a caller's token and the enabler behind it verifies
// the same token again (defence in depth); a client calls many times with
// one token. So a Verifier remembers the tokens that verified, and a token
// seen again in the same process costs a SHA-256 and a map lookup (a few µs,
// some 70 times less than an ES256 verification; see docs/benchmarks.md). The rules that
// keep this as safe as verifying every time:
//
//   - The key is the SHA-256 of the whole token string. The raw token is
//     never kept as a key, so a memory dump does not hand out bearer
//     tokens from the cache's index, and a token differing in any byte (a
//     tampered payload, another signature) is another key: a miss, verified
//     in full.
//   - Only successes are cached. A forged or malformed token costs a full
//     verification every time it is presented; the limit on JWKS refreshes
//     (MinRefreshInterval) and the gateway's rate limits are what bound
//     that cost, not the cache.
//   - Every hit re-applies the time rules with the current clock, the same
//     ones a full verification applies (exp, nbf and iat with the leeway,
//     then MaxLifetime and auth_time), and issuer and audience too: the
//     cache skips only parsing and the signature check.
//   - An entry lives until the token's exp (not exp plus the leeway: a
//     token inside the leeway window is verified in full, as without the
//     cache, and not cached again) and at most Options.CacheTTL (default
//     DefaultCacheTTL, one minute) after it verified.
//   - Each entry remembers the kid and the key it was verified with. A
//     refresh of the key set drops the entries whose kid the new set no
//     longer lists, or lists with another key, in the same step that
//     installs the new keys; a token verified with a key that a refresh
//     withdrew while the verification ran is not cached. So a withdrawn key
//     stops being accepted from the cache exactly when it stops being
//     accepted at all. Hits trigger the background refresh of a stale key
//     set as full verifications do. CacheTTL is a second bound, for
//     whatever these rules miss: no token is answered from the cache for
//     longer than CacheTTL without its signature being checked again
//     against the key set of that moment.
//   - Callers get a deep copy of the cached claims, so one caller changing
//     its claims (an AMR appended, a scope edited) cannot change another's.
//   - The cache holds at most Options.CacheSize entries (default
//     DefaultCacheSize; negative disables the cache). When it is full, an
//     insert looks at a few entries in Go's randomised map order and drops
//     the expired ones, or else the one that expires first: no list to
//     maintain on hits as an LRU would, and since every entry dies within
//     the TTL, which one goes matters only for speed. A flood of distinct
//     valid tokens can only push others out, costing their holders one
//     full verification each.
//
// The cache shares the Verifier's mutex with the key set; a hit holds it for
// a map lookup only.
//
// # Errors
//
// Verify's errors wrap exactly one of the sentinel errors (ErrMalformed,
// ErrExpired, ErrNotYetValid, ErrBadSignature, ErrUnknownKey, ErrIssuer,
// ErrAudience, ErrJWKSUnavailable). Callers answer all of them but
// ErrJWKSUnavailable with HTTP 401 (gRPC Unauthenticated) and a
// WWW-Authenticate error_description taken from Description(err), which
// never contains internals. ErrJWKSUnavailable is the verifier's own trouble:
// the token may be fine, so callers answer 503 (gRPC Unavailable) and log it
// (err.Error() then says why). Enablers do all this through package
// libs/authn, the gateway in its authn.go.
package jwks
