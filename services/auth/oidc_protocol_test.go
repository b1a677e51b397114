package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// rsaJWKS is the JWK Set of a key the test generated (as a ministry
// would register it).
func rsaJWKS(t *testing.T, kid string, k *rsa.PrivateKey) string {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// clientAssertion is an RFC 7523 assertion built with golang-jwt.
func clientAssertion(t *testing.T, k *rsa.PrivateKey, kid, clientID, aud, jti string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": jti, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksKeyfunc verifies with the provider's JWKS (as a relying party
// would: from the published JWKs, not the service's own keys).
func jwksKeyfunc(t *testing.T, e *testEnv) jwt.Keyfunc {
	keys, err := e.svc.Jwks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range keys {
			if k.Kid != kid {
				continue
			}
			raw, _ := json.Marshal(map[string]string{"kty": k.Kty, "crv": k.Crv, "x": k.X, "y": k.Y, "n": k.N, "e": k.E, "kid": k.Kid, "alg": k.Alg})
			var j jose.JSONWebKey
			if err := j.UnmarshalJSON(raw); err != nil {
				return nil, err
			}
			return j.Key, nil
		}
		return nil, errNoKey
	}
}

// signInLoa1 runs the sign-in of a loa1 request in b and returns the code.
func signInLoa1(t *testing.T, b *oidcBrowser, authorize url.Values, nid string) string {
	t.Helper()
	st, loc, body := b.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil)
	if st == http.StatusFound && strings.Contains(loc, "code=") {
		return mustQuery(t, loc, "code")
	}
	if st != http.StatusFound || !strings.Contains(loc, "/oauth2/login?ar=") {
		t.Fatalf("authorize = %d %q %s", st, loc, body)
	}
	_, _, body = b.do("GET", loc, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in page:\n%s", body)
	}
	st, loc, body = b.do("POST", "/oauth2/login", url.Values{"ar": {mustQuery(t, loc, "ar")}, "csrf": {m[1]}, "national_id": {nid}, "password": {testPassword}})
	if st != http.StatusSeeOther || !strings.Contains(loc, "code=") {
		t.Fatalf("sign-in = %d %q %s", st, loc, body)
	}
	return mustQuery(t, loc, "code")
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

func (b *oidcBrowser) token(form url.Values) (int, tokenAnswer) {
	b.t.Helper()
	st, _, body := b.do("POST", "/oauth2/token", form)
	var a tokenAnswer
	_ = json.Unmarshal([]byte(body), &a)
	return st, a
}

// TestPrivateKeyJWTAndRS256 is private_key_jwt (RFC 7523) for the code
// and refresh grants with a key the test generates, its refusals
// (replayed jti, wrong key, wrong audience, exp too far), RS256 ID
// tokens verified with golang-jwt against the JWKS, a new ID token on
// refresh, introspection of the client's own tokens only, and pushed
// authorization requests.
func TestPrivateKeyJWTAndRS256(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	citizenID, _ := e.citizen(t, "40000002")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	const callback = "https://moh.example/callback"
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moh-web", Name: "MoH", CodeFlow: CodeFlow{
		TokenAuthMethod: AuthMethodPrivateKeyJWT, JWKS: rsaJWKS(t, "k1", key), IDTokenAlg: AlgRS256, RedirectURIs: []string{callback},
	}}), "EnsureClient")
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "other", Name: "Other", Secret: "0123456789abcdef", CodeFlow: CodeFlow{RedirectURIs: []string{callback}, TokenAuthMethod: AuthMethodPost}}))
	tokenURL := e.svc.cfg.Issuer + "/oauth2/token"
	b := newOIDCBrowser(t, e)
	verifier, challenge := pkcePair()
	authorize := url.Values{"client_id": {"moh-web"}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid profile"},
		"nonce": {"n1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	code := signInLoa1(t, b, authorize, nationalID("40000002"))
	exchange := func(code, assertion string) (int, tokenAnswer) {
		return b.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}})
	}
	// Refusals first: they do not consume the code.
	for name, a := range map[string]string{
		"wrong key":      clientAssertion(t, wrong, "k1", "moh-web", tokenURL, "j-wrong"),
		"wrong audience": clientAssertion(t, key, "k1", "moh-web", "https://elsewhere.example/token", "j-aud"),
		"another client": clientAssertion(t, key, "k1", "other", tokenURL, "j-other"),
	} {
		if st, a := exchange(code, a); st != http.StatusUnauthorized || a.Error != "invalid_client" {
			t.Errorf("%s = %d %q; want 401 invalid_client", name, st, a.Error)
		}
	}
	good := clientAssertion(t, key, "k1", "moh-web", tokenURL, "j-1")
	st, tok := exchange(code, good)
	if st != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("exchange with private_key_jwt = %d %+v; want tokens", st, tok)
	}
	// The same assertion again (its jti): refused.
	code2 := signInLoa1(t, b, authorize, nationalID("40000002"))
	if st, a := exchange(code2, good); st != http.StatusUnauthorized || a.Error != "invalid_client" {
		t.Errorf("replayed assertion = %d %q; want 401 invalid_client", st, a.Error)
	}
	// The ID token is RS256 and verifies against the JWKS (golang-jwt).
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok.IDToken, claims, jwksKeyfunc(t, e), jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience("moh-web"), jwt.WithIssuer(e.svc.cfg.Issuer), jwt.WithTimeFunc(e.clock.Now))
	if err != nil || parsed.Header["alg"] != "RS256" || claims["sub"] != citizenID || claims["nonce"] != "n1" {
		t.Fatalf("RS256 ID token = %v, %v; want it valid for the citizen with the nonce", claims, err)
	}
	// The access token stays ES256.
	if h := jwtHeader(t, tok.AccessToken); h["alg"] != "ES256" || h["typ"] != "at+jwt" {
		t.Errorf("access token header = %v; want ES256 at+jwt", h)
	}

	// Refresh with a new assertion returns a new ID token.
	st, ref := b.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {clientAssertion(t, key, "k1", "moh-web", e.svc.cfg.Issuer, "j-2")}})
	if st != http.StatusOK || ref.IDToken == "" || ref.IDToken == tok.IDToken {
		t.Fatalf("refresh = %d %+v; want new tokens with an ID token", st, ref)
	}
	if _, err := jwt.Parse(ref.IDToken, jwksKeyfunc(t, e), jwt.WithAudience("moh-web"), jwt.WithTimeFunc(e.clock.Now)); err != nil {
		t.Errorf("refreshed ID token: %v", err)
	}

	// Introspection: the client's own tokens are active; another
	// client's view of them, unknown and used ones are not.
	introspect := func(token string, form url.Values) map[string]any {
		form.Set("token", token)
		st, _, body := b.do("POST", "/oauth2/introspect", form)
		var out map[string]any
		_ = json.Unmarshal([]byte(body), &out)
		if st != http.StatusOK {
			t.Fatalf("introspect = %d %s", st, body)
		}
		return out
	}
	asMoH := func(jti string) url.Values {
		return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {clientAssertion(t, key, "k1", "moh-web", e.svc.cfg.Issuer+"/oauth2/introspect", jti)}}
	}
	asOther := url.Values{"client_id": {"other"}, "client_secret": {"0123456789abcdef"}}
	// A confidential client's code grant with a wrong secret is
	// invalid_client before any code is looked at; with its secret, a
	// made-up code is invalid_grant.
	for _, c := range []struct {
		secret, want string
		status       int
	}{
		{"0123456789abcdeX", "invalid_client", http.StatusUnauthorized},
		{"0123456789abcdef", "invalid_grant", http.StatusBadRequest},
	} {
		st, _, body := b.do("POST", "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"ac_made-up"},
			"redirect_uri": {callback}, "code_verifier": {strings.Repeat("v", 43)}, "client_id": {"other"}, "client_secret": {c.secret}})
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(body), &e); st != c.status || e.Error != c.want {
			t.Errorf("code grant with secret %q = %d %s; want %d %s", c.secret, st, body, c.status, c.want)
		}
	}
	if got := introspect(ref.AccessToken, asMoH("j-3")); got["active"] != true || got["sub"] != citizenID || got["client_id"] != "moh-web" {
		t.Errorf("introspect own access token = %v; want active", got)
	}
	if got := introspect(ref.RefreshToken, asMoH("j-4")); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Errorf("introspect own refresh token = %v; want active", got)
	}
	for name, c := range map[string]struct {
		token string
		form  url.Values
	}{
		"another client's":   {ref.AccessToken, asOther},
		"a used refresh":     {tok.RefreshToken, asMoH("j-5")},
		"an unknown token":   {"rt_unknown", asMoH("j-6")},
		"a malformed string": {"not-a-token", asMoH("j-7")},
	} {
		if got := introspect(c.token, c.form); got["active"] != false || len(got) != 1 {
			t.Errorf("introspect %s = %v; want only active false", name, got)
		}
	}

	// PAR: the client pushes the request, the browser brings request_uri
	// once.
	push := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {clientAssertion(t, key, "k1", "moh-web", e.svc.cfg.Issuer, "j-8")}}
	for k, v := range authorize {
		push[k] = v
	}
	push.Set("state", "par-state")
	st, _, body := b.do("POST", "/oauth2/par", push)
	var par struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	_ = json.Unmarshal([]byte(body), &par)
	if st != http.StatusCreated || !strings.HasPrefix(par.RequestURI, "urn:ietf:params:oauth:request_uri:") || par.ExpiresIn != 60 {
		t.Fatalf("PAR = %d %s", st, body)
	}
	byRef := "/oauth2/authorize?" + url.Values{"client_id": {"moh-web"}, "request_uri": {par.RequestURI}}.Encode()
	st, loc, _ := b.do("GET", byRef, nil)
	if st != http.StatusFound || !strings.HasPrefix(loc, callback+"?") || mustQuery(t, loc, "state") != "par-state" || mustQuery(t, loc, "code") == "" {
		t.Errorf("authorize by request_uri = %d %q; want the callback with a code and the pushed state", st, loc)
	}
	if st, loc, _ := b.do("GET", byRef, nil); st != http.StatusBadRequest || loc != "" {
		t.Errorf("request_uri used twice = %d %q; want the error page", st, loc)
	}
	// A public client may not push; nor may a client without credentials.
	if st, _, body := b.do("POST", "/oauth2/par", url.Values{"client_id": {"moh-web"}, "response_type": {"code"}}); st != http.StatusUnauthorized {
		t.Errorf("PAR without client authentication = %d %s; want 401", st, body)
	}
}

// TestBackchannelLogoutAndConfirmation: logout without id_token_hint asks
// first (a GET ends nothing); the confirmed logout ends the session, and
// the client's registered back-channel URI receives a logout token
// through the outbox that verifies against the JWKS (golang-jwt). Userinfo
// answers a bad token with WWW-Authenticate.
func TestBackchannelLogoutAndConfirmation(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	citizenID, _ := e.citizen(t, "40000003")
	var (
		mu  sync.Mutex
		got []string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm.Get("logout_token"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "portal", Name: "Portal", CodeFlow: CodeFlow{
		Public: true, RedirectURIs: []string{"http://127.0.0.1/callback"}, BackchannelLogoutURI: receiver.URL + "/bye",
	}}))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	b := newOIDCBrowser(t, e)
	verifier, challenge := pkcePair()
	code := signInLoa1(t, b, url.Values{"client_id": {"portal"}, "redirect_uri": {"http://127.0.0.1/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, nationalID("40000003"))
	st, tok := b.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1/callback"},
		"client_id": {"portal"}, "code_verifier": {verifier}})
	if st != http.StatusOK {
		t.Fatalf("exchange = %d %+v", st, tok)
	}
	sid := e.principal(t, tok.AccessToken).SessionID

	// Userinfo with a bad token: 401 and the RFC 6750 challenge.
	req, _ := http.NewRequest("GET", b.base+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Errorf("userinfo with a bad token = %d %q; want 401 Bearer error=\"invalid_token\"", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// A GET without id_token_hint: a confirmation page, the session lives.
	st, loc, body := b.do("GET", "/oauth2/logout", nil)
	m := csrfField.FindStringSubmatch(body)
	if st != http.StatusOK || loc != "" || m == nil || !strings.Contains(body, `method="post"`) {
		t.Fatalf("logout without hint = %d %q:\n%s; want the confirmation page", st, loc, body)
	}
	if alive, _ := sessionAlive(ctx, e.db, sid); !alive {
		t.Fatal("a GET of /oauth2/logout ended the session")
	}
	// A POST without the CSRF token: the page again.
	if st, _, _ := b.do("POST", "/oauth2/logout", url.Values{}); st != http.StatusOK {
		t.Errorf("logout POST without CSRF = %d; want the confirmation page", st)
	}
	if alive, _ := sessionAlive(ctx, e.db, sid); !alive {
		t.Fatal("a POST without the CSRF token ended the session")
	}
	st, loc, _ = b.do("POST", "/oauth2/logout", url.Values{"csrf": {m[1]}})
	if st != http.StatusFound || !strings.Contains(loc, "/oauth2/logged-out") {
		t.Errorf("confirmed logout = %d %q; want the signed-out page", st, loc)
	}
	if alive, _ := sessionAlive(ctx, e.db, sid); alive {
		t.Fatal("the confirmed logout left the session alive")
	}

	// The outbox carries the notice; the consumer POSTs the logout token.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.svc.Relay.PublishPending(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("back-channel logout deliveries = %d; want 1", len(got))
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(got[0], claims, jwksKeyfunc(t, e), jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithAudience("portal"), jwt.WithIssuer(e.svc.cfg.Issuer), jwt.WithTimeFunc(e.clock.Now))
	if err != nil {
		t.Fatalf("logout token does not verify against the JWKS: %v", err)
	}
	events, _ := claims["events"].(map[string]any)
	if parsed.Header["typ"] != "logout+jwt" || claims["sid"] != sid || claims["sub"] != citizenID || claims["jti"] == nil ||
		claims["iat"] == nil || claims["nonce"] != nil || events == nil || events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		t.Errorf("logout token header %v claims %v", parsed.Header, claims)
	}
}
