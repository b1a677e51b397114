package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
)

// The principals of the authorization matrix (issue 12 must-show).
const (
	pNone       = "none"
	pLoa1       = "citizen-loa1"
	pLoa2       = "citizen-loa2"
	pWith       = "client-with-scope"     // moh's client, the route's scopes only
	pWithout    = "client-without-scope"  // moh's client, every scope but the route's
	pOtherMinis = "client-other-ministry" // mof's client, the route's scopes
)

// gatewayRefusals are the problem types with which the gateway itself
// refuses a call before any service sees it.
var gatewayRefusals = []string{"missing-token", "invalid-token", "wrong-principal", "insufficient-scope",
	"insufficient-user-authentication", "missing-right", "no-route-policy", "rights-unavailable", "jwks-unavailable"}

// matrixRoute is one HTTP route of /openapi.json with its gRPC method.
type matrixRoute struct {
	verb, path, op, method string
	policy                 gateway.Policy
}

// expected is what one cell must answer: an exact status and problem
// type, or (admitted) anything but a refusal by the gateway.
type expected struct {
	status   int
	ptype    string
	admitted bool
	// lacks, for admitted list and ledger cells, is a resource of the
	// other ministry the answer must not name.
	lacks string
	// has is a resource of the caller's own ministry the answer must name.
	has string
}

func (e expected) String() string {
	if e.admitted {
		return "admitted by the gateway"
	}
	return fmt.Sprintf("%d %s", e.status, e.ptype)
}

// acrRank orders levels of assurance as the gateway does.
func acrRank(acr string) int {
	return map[string]int{gateway.ACRLoa1: 1, gateway.ACRLoa2: 2}[acr]
}

// jwtSID is the sid claim of a citizen's access token.
func jwtSID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20s…", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.SID == "" {
		t.Fatalf("token has no sid: %v", err)
	}
	return c.SID
}

// policyCell is what the gateway's policy table alone says principal
// gets on a route.
func policyCell(pol gateway.Policy, principal string) expected {
	if pol.Public {
		return expected{admitted: true}
	}
	switch principal {
	case pNone:
		return expected{status: http.StatusUnauthorized, ptype: "missing-token"}
	case pLoa1, pLoa2:
		if pol.Callers&gateway.Citizen == 0 {
			return expected{status: http.StatusForbidden, ptype: "wrong-principal"}
		}
		acr := gateway.ACRLoa1
		if principal == pLoa2 {
			acr = gateway.ACRLoa2
		}
		if acrRank(acr) < acrRank(pol.ACR) {
			return expected{status: http.StatusUnauthorized, ptype: "insufficient-user-authentication"}
		}
	case pWith, pOtherMinis:
		if pol.Callers&gateway.Client == 0 {
			return expected{status: http.StatusForbidden, ptype: "wrong-principal"}
		}
	case pWithout:
		if pol.Callers&gateway.Client == 0 {
			return expected{status: http.StatusForbidden, ptype: "wrong-principal"}
		}
		if len(pol.Scopes) > 0 {
			return expected{status: http.StatusForbidden, ptype: "insufficient-scope"}
		}
	}
	return expected{admitted: true}
}

// methodOf maps an OpenAPI operationId ("ContentService_GetItem") to its
// full gRPC method name.
func methodOf(op string) string {
	svc, name, ok := strings.Cut(op, "_")
	if !ok {
		return ""
	}
	pkg := strings.ToLower(strings.TrimSuffix(svc, "Service"))
	return "/tamkeen." + pkg + ".v1." + svc + "/" + name
}

// matrixRoutes reads the served /openapi.json: every route the gateway
// exposes, each with its policy (a route without one is an error).
func matrixRoutes(t *testing.T, base string) []matrixRoute {
	t.Helper()
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	policies := gateway.Policies()
	var out []matrixRoute
	seen := map[string]bool{}
	for path, item := range doc.Paths {
		for verb, op := range item {
			if slices.Contains(op.Tags, "Operations") {
				continue // the gateway's own routes
			}
			m := methodOf(op.OperationID)
			pol, ok := policies[m]
			if !ok {
				t.Errorf("%s %s (%s): no policy for %s", verb, path, op.OperationID, m)
				continue
			}
			seen[m] = true
			out = append(out, matrixRoute{verb: strings.ToUpper(verb), path: path, op: op.OperationID[strings.IndexByte(op.OperationID, '_')+1:], method: m, policy: pol})
		}
	}
	for m := range policies {
		if !seen[m] {
			t.Errorf("%s has a policy but no route in /openapi.json", m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].verb+out[i].path < out[j].verb+out[j].path })
	return out
}

// matrixClient is a registered client and its secret.
type matrixClient struct{ id, secret string }

// createMatrixClient registers id of ministry with scopes and grants it
// every right at the gateway, as an operator would.
func createMatrixClient(t *testing.T, dir, id, ministry string, scopes []string) matrixClient {
	t.Helper()
	code, out, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", id, "--name", id, "--ministry", ministry,
		"--scopes", strings.Join(scopes, ","))
	m := secretOut.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("clients create %s = %d\n%s\n%s", id, code, out, errOut)
	}
	if code, out, errOut := runTool(t, "clients", "grant", "--data-dir", dir, "--id", id, "--right", "*"); code != 0 {
		t.Fatalf("clients grant %s = %d\n%s\n%s", id, code, out, errOut)
	}
	return matrixClient{id: id, secret: m[1]}
}

// token gets c an access token with exactly scopes.
func (c matrixClient) token(t *testing.T, base string, scopes []string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}, "scope": {strings.Join(scopes, " ")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token for %s %v: %d %v", c.id, scopes, resp.StatusCode, err)
	}
	return body.AccessToken
}

// TestAuthorizationMatrix is issue 12's authorization matrix, generated
// from the gateway's policy table and run through the real gateway of
// `tamkeen dev`: every route of /openapi.json × every principal (no
// token, a citizen at loa1, at loa2, moh's client with the route's scopes,
// without them, and mof's client with them) gets the answer the policy
// says — the gateway's exact refusal, or admission. Where a route names a
// resource of moh (its content item, roles, payment, template,
// notification, ledger), the tenant cells are exact too: mof's client gets
// 403 or 404 and nothing of moh's changes (checked in the stores after),
// its lists and ledger lack moh's resources, and moh's own client sees
// them; citizens without a role in moh get 403 on moh's content.
func TestAuthorizationMatrix(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	dir := t.TempDir()
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevIn(t, dir, clock, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	platform := clientToken(t, base, secret) // demo-ministry: every scope, content:admin and ledger:admin included
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}

	// Two ministries' clients with every scope but the platform's
	// content:admin and ledger:admin. They hold auth:password-login too,
	// which operators grant to first-party apps only, so that the matrix
	// exercises POST /v1/auth/login with and without it.
	var ministryScopes []string
	for _, s := range scope.All() {
		if s != scope.ContentAdmin && s != scope.LedgerAdmin {
			ministryScopes = append(ministryScopes, s)
		}
	}
	moh := createMatrixClient(t, dir, "moh-app", "moh", ministryScopes)
	mof := createMatrixClient(t, dir, "mof-app", "mof", ministryScopes)
	mohAll := moh.token(t, base, ministryScopes)
	// The gateway reloads access rights every 2 s of its clock.
	clock.Advance(3 * time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, _ := call("GET", "/v1/payments", mohAll, nil).do(nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moh-app's rights not applied after 10 s: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// moh's resources. The platform operator grants moh-app its roles in
	// moh — and mof-app too, as a stale grant from before ministries were
	// checked (only content:admin can make it now): mof-app must still be
	// refused on moh's content.
	for _, g := range []struct{ subject, role string }{
		{"moh-app", "author"}, {"moh-app", "editor"}, {"moh-app", "publisher"},
		{"mof-app", "author"}, {"mof-app", "editor"}, {"mof-app", "publisher"},
		{"cit_matrix_publisher", "publisher"},
	} {
		if resp, raw := call("POST", "/v1/content/ministries/moh/roles", platform, map[string]string{"subject": g.subject, "role": g.role}).do(nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("grant %s %s in moh = %d %s", g.role, g.subject, resp.StatusCode, raw)
		}
	}
	var item struct {
		ID string `json:"id"`
	}
	if resp, raw := call("POST", "/v1/content/items", mohAll, map[string]any{"type": "page", "ministry": "moh",
		"translations": map[string]any{"en": map[string]any{"slug": "matrix-item", "title": "Matrix", "body": "Text"}}}).do(&item); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create moh's item = %d %s", resp.StatusCode, raw)
	}
	var pay struct {
		ID      string `json:"id"`
		NextURL string `json:"next_url"`
	}
	if resp, raw := call("POST", "/v1/payments", mohAll, map[string]any{"amount": "25000", "currency": "ILS", "reference": "MOH-MATRIX",
		"description": "Clinic fee", "return_url": "https://moh.example.ps/done",
		"splits": []map[string]any{{"account": "dept:moh-clinics", "amount": "25000"}}}).do(&pay); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create moh's payment = %d %s", resp.StatusCode, raw)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.PostForm(pay.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pay moh's payment: %v %v", resp, err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		var got struct {
			State string `json:"state"`
		}
		call("GET", "/v1/payments/"+pay.ID, mohAll, nil).do(&got)
		if got.State == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moh's payment = %q after 15 s; want succeeded", got.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var tpl, notif struct {
		ID string `json:"id"`
	}
	if resp, raw := call("POST", "/v1/templates", mohAll, map[string]any{"name": "matrix", "channel": "sms", "language": "en",
		"body": "Hello ((name))"}).do(&tpl); resp.StatusCode >= 300 {
		t.Fatalf("create moh's template = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/notifications/sms", mohAll, map[string]any{"phone_number": "+970599100200", "template_id": tpl.ID,
		"personalisation": map[string]string{"name": "Huda"}}).do(&notif); resp.StatusCode >= 300 {
		t.Fatalf("send moh's SMS = %d %s", resp.StatusCode, raw)
	}

	var hook struct {
		ID string `json:"id"`
	}
	if resp, raw := call("POST", "/v1/webhook-endpoints", mohAll, map[string]any{"url": "https://moh.example.ps/hooks",
		"events": []string{"payment.succeeded"}}).do(&hook); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create moh's webhook endpoint = %d %s", resp.StatusCode, raw)
	}

	// A citizen (no role in moh) at loa1 and at loa2.
	loa2 := citizenAtLoa2(t, base, clock, secret, "40999111", "+970599999111", "matrix-pass-2026")
	var login tokenResponse
	if resp, raw := call("POST", "/v1/auth/login", platform, map[string]string{"national_id": nationalID("40999111"), "password": "matrix-pass-2026"}).do(&login); resp.StatusCode != http.StatusOK {
		t.Fatalf("login = %d %s", resp.StatusCode, raw)
	}
	loa1 := login.AccessToken
	citizenID := jwtSubject(t, loa1)
	// Another citizen's session: the citizens' DELETE /v1/auth/sessions/{id}
	// of it must be a 404 that ends nothing, and their list must lack it.
	other := citizenAtLoa2(t, base, clock, secret, "40999222", "+970599999222", "matrix-pass-2026")
	otherSID := jwtSID(t, other)

	routes := matrixRoutes(t, base)
	today := clock.Now().UTC().Format(time.DateOnly)
	n := 0
	// request builds the call of route r: moh's resources in the path,
	// the query and body each route needs to get past field validation
	// to the owner check.
	request := func(r matrixRoute) (string, any) {
		n++
		p := r.path
		switch {
		case strings.HasPrefix(p, "/v1/content/items/{id}"):
			p = strings.Replace(p, "{id}", item.ID, 1)
		case strings.HasPrefix(p, "/v1/payments/{"):
			p = strings.NewReplacer("{id}", pay.ID, "{payment_id}", pay.ID).Replace(p)
		case strings.HasPrefix(p, "/v1/templates/{id}"):
			p = strings.Replace(p, "{id}", tpl.ID, 1)
		case strings.HasPrefix(p, "/v1/notifications/bulk/{id}"):
			p = strings.Replace(p, "{id}", "bulk_matrix", 1)
		case strings.HasPrefix(p, "/v1/notifications/{id}"):
			p = strings.Replace(p, "{id}", notif.ID, 1)
		case strings.HasPrefix(p, "/v1/webhook-endpoints/{"):
			p = strings.NewReplacer("{endpoint_id}", hook.ID, "{id}:replay", "whd_matrix:replay", "{id}", hook.ID).Replace(p)
		}
		p = strings.NewReplacer("{ministry}", "moh", "{subject}", "cit_matrix_publisher", "{role}", "publisher", "{version}", "1",
			"{slug}", "matrix-item", "{provider}", "sandbox", "{challenge_id}", "otp_matrix", "{citizen_id}", citizenID,
			"{credential_id}", "cred_matrix", "{session_id}", otherSID).Replace(p)
		switch r.op {
		case "ListItems":
			p += "?ministry=moh"
		case "DiffItemVersions":
			p += "?from_version=1&to_version=1"
		case "GetPublicContent":
			p += "?lang=en"
		case "SearchPublicContent":
			p += "?q=matrix&lang=en"
		}
		if r.verb == "GET" || r.verb == "DELETE" {
			return p, nil
		}
		body := map[string]any{}
		switch r.op {
		case "CreateItem":
			body = map[string]any{"type": "page", "ministry": "moh", "translations": map[string]any{"en": map[string]any{
				"slug": fmt.Sprintf("matrix-new-%d", n), "title": "Matrix", "body": "Text"}}}
		case "SaveDraft":
			body = map[string]any{"base_version": 1, "translations": map[string]any{"en": map[string]any{"slug": "matrix-item", "title": "Matrix", "body": "Edited"}}}
		case "RejectItem":
			body = map[string]any{"comment": "no"}
		case "RollbackItem":
			body = map[string]any{"version": 1}
		case "GrantRole":
			body = map[string]any{"subject": "cit_matrix_new", "role": "author"}
		case "Login":
			body = map[string]any{"national_id": nationalID("40999111"), "password": "matrix-pass-2026"}
		case "CreateRefund":
			body = map[string]any{"amount": "100", "reason": "matrix"}
		case "Reconcile":
			body = map[string]any{"provider": "sandbox", "date": today}
		case "UpdateTemplate":
			body = map[string]any{"base_version": 1, "name": "matrix", "body": "Changed ((name))"}
		case "PreviewTemplate":
			body = map[string]any{"personalisation": map[string]string{"name": "x"}}
		}
		return p, body
	}
	// tenantCell is the exact answer of a route on moh's resources, for
	// the principals where the owner check decides; ok false elsewhere.
	tenantCell := func(r matrixRoute, principal string, gw expected) (expected, bool) {
		if !gw.admitted {
			return gw, false
		}
		contentOps := []string{"GetItem", "ListItems", "SaveDraft", "SubmitItem", "ApproveItem", "RejectItem", "PublishItem",
			"UnpublishItem", "ArchiveItem", "RollbackItem", "ListItemVersions", "GetItemVersion", "DiffItemVersions", "ListTransitions", "CreateItem"}
		citizen := principal == pLoa1 || principal == pLoa2
		switch {
		case r.op == "Login" && (principal == pWith || principal == pOtherMinis):
			// The first-party JSON login with the right password: a
			// client token with auth:password-login gets the tokens.
			return expected{status: http.StatusOK}, true
		case r.op == "DeleteSession" && citizen:
			return expected{status: http.StatusNotFound}, true
		case r.op == "ListSessions" && citizen:
			own := jwtSID(t, loa1)
			if principal == pLoa2 {
				own = jwtSID(t, loa2)
			}
			return expected{admitted: true, lacks: otherSID, has: own}, true
		case slices.Contains(contentOps, r.op) && (principal == pOtherMinis || citizen):
			return expected{status: http.StatusForbidden}, true
		case principal != pOtherMinis:
			switch r.op {
			case "GetTrialBalance", "ListLedgerAccounts":
				return expected{admitted: true, has: "dept:moh-clinics"}, principal == pWith
			case "ListPayments":
				return expected{admitted: true, has: pay.ID}, principal == pWith
			case "ListTemplates":
				return expected{admitted: true, has: tpl.ID}, principal == pWith
			case "ListNotifications":
				return expected{admitted: true, has: notif.ID}, principal == pWith
			}
			return gw, false
		}
		switch r.op {
		case "GrantRole", "RevokeRole":
			return expected{status: http.StatusForbidden}, true
		case "GetPayment", "CancelPayment", "CreateRefund", "GetTemplate", "UpdateTemplate", "PreviewTemplate", "GetNotification",
			"GetWebhookEndpoint", "DeleteWebhookEndpoint", "RotateWebhookSecret", "ListWebhookDeliveries", "ReplayWebhookDelivery":
			return expected{status: http.StatusNotFound}, true
		case "ListWebhookEndpoints":
			return expected{admitted: true, lacks: hook.ID}, true
		case "GetTrialBalance", "ListLedgerAccounts":
			return expected{admitted: true, lacks: "dept:moh-clinics"}, true
		case "Reconcile", "ListPayments":
			return expected{admitted: true, lacks: pay.ID}, true
		case "ListTemplates":
			return expected{admitted: true, lacks: tpl.ID}, true
		case "ListNotifications":
			return expected{admitted: true, lacks: notif.ID}, true
		}
		return gw, false
	}
	// Client tokens are minted once per client and scope set (each costs
	// an argon2id check of the secret).
	minted := map[string]string{}
	mint := func(c matrixClient, scopes []string) string {
		key := c.id + " " + strings.Join(scopes, " ")
		if tok, ok := minted[key]; ok {
			return tok
		}
		tok := c.token(t, base, scopes)
		minted[key] = tok
		return tok
	}
	tokenOf := func(r matrixRoute, principal string) string {
		switch principal {
		case pLoa1:
			return loa1
		case pLoa2:
			return loa2
		case pWith:
			return mint(moh, r.policy.Scopes)
		case pOtherMinis:
			return mint(mof, r.policy.Scopes)
		case pWithout:
			return mint(moh, slices.DeleteFunc(slices.Clone(ministryScopes), func(s string) bool { return slices.Contains(r.policy.Scopes, s) }))
		}
		return ""
	}
	cells, tenantCells := 0, 0
	runRow := func(principal string) {
		t.Helper()
		for _, r := range routes {
			want := policyCell(r.policy, principal)
			exact, tenant := tenantCell(r, principal, want)
			if tenant {
				want = exact
				tenantCells++
			}
			cells++
			path, body := request(r)
			tok := ""
			if principal != pNone {
				tok = tokenOf(r, principal)
			}
			resp, raw := call(r.verb, path, tok, body).do(nil)
			var prob gateway.Problem
			if strings.HasPrefix(resp.Header.Get("Content-Type"), gateway.ProblemContentType) {
				_ = json.Unmarshal(raw, &prob)
			}
			ptype := strings.TrimPrefix(prob.Type, "urn:tamkeen:problem:")
			cell := fmt.Sprintf("%s %s × %s", r.verb, r.path, principal)
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				t.Errorf("%s = 429: the matrix outran the dev rate limits", cell)
			case !want.admitted && (resp.StatusCode != want.status || (want.ptype != "" && ptype != want.ptype)):
				t.Errorf("%s = %d %s; want %s (%s)", cell, resp.StatusCode, ptype, want, raw)
			case !want.admitted && want.ptype == "" && slices.Contains(gatewayRefusals, ptype):
				t.Errorf("%s = %d %s, a refusal by the gateway; want the service's %d", cell, resp.StatusCode, ptype, want.status)
			case want.admitted && slices.Contains(gatewayRefusals, ptype):
				t.Errorf("%s = %d %s; want it admitted by the gateway", cell, resp.StatusCode, ptype)
			case want.admitted && resp.StatusCode >= 500:
				t.Errorf("%s = %d %s; want no server error", cell, resp.StatusCode, raw)
			case want.lacks != "" && (resp.StatusCode != http.StatusOK || strings.Contains(string(raw), want.lacks)):
				t.Errorf("%s = %d %s; want 200 without moh's %s", cell, resp.StatusCode, raw, want.lacks)
			case want.has != "" && (resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), want.has)):
				t.Errorf("%s = %d %s; want 200 with moh's own %s", cell, resp.StatusCode, raw, want.has)
			}
		}
		// Token buckets refill with the dev clock; the loa2 token stays
		// within its 300 s max_age.
		clock.Advance(2 * time.Second)
	}

	// snapshot is what moh owns, as moh's client and moh's stores see it.
	contentDB, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, DSN: filepath.Join(dir, "content.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer contentDB.Close()
	snapshot := func() string {
		t.Helper()
		var b strings.Builder
		for _, p := range []string{"/v1/content/items/" + item.ID, "/v1/content/items/" + item.ID + "/transitions",
			"/v1/payments/" + pay.ID, "/v1/templates/" + tpl.ID, "/v1/notifications/" + notif.ID, "/v1/webhook-endpoints/" + hook.ID} {
			resp, raw := call("GET", p, mohAll, nil).do(nil)
			fmt.Fprintf(&b, "%s %d %s\n", p, resp.StatusCode, raw)
		}
		rows, err := contentDB.QueryContext(context.Background(), `SELECT ministry, subject, role FROM content_roles ORDER BY ministry, subject, role`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var m, s, r string
			if err := rows.Scan(&m, &s, &r); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "role %s/%s/%s\n", m, s, r)
		}
		var items int
		if err := contentDB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM content_items WHERE ministry = 'moh'`).Scan(&items); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "moh items %d\n", items)
		return b.String()
	}

	// The other ministry first, so that its refused calls meet moh's
	// resources as they were set up, and nothing of moh's may change.
	before := snapshot()
	runRow(pOtherMinis)
	if after := snapshot(); after != before {
		t.Errorf("mof's client changed moh's resources:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Then the others; moh's own client last, as its calls may change
	// moh's resources.
	for _, p := range []string{pNone, pLoa1, pLoa2, pWithout, pWith} {
		runRow(p)
	}
	want := len(routes) * 6
	if cells != want || len(routes) < 60 {
		t.Errorf("matrix has %d cells over %d routes; want %d (every route × 6 principals)", cells, len(routes), want)
	}
	t.Logf("authorization matrix: %d routes × 6 principals = %d cells, %d of them decided by the owner check", len(routes), cells, tenantCells)

	// The other citizen's session survived the citizens' DELETEs of it.
	if resp, raw := call("GET", "/v1/auth/sessions", other, nil).do(nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), otherSID) {
		t.Errorf("other citizen's sessions after the matrix = %d %s; want 200 with %s", resp.StatusCode, raw, otherSID)
	}

	// The platform-wide operator sees what no ministry does alone.
	resp, raw := call("GET", "/v1/ledger/trial-balance", platform, nil).do(nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "dept:moh-clinics") {
		t.Errorf("ledger:admin's trial balance = %d %s; want moh's department in the platform-wide view", resp.StatusCode, raw)
	}
}
