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
