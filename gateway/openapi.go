package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/gateway/problems"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/proto"
)

// opsTag groups the operational routes in the OpenAPI document and docs.
const opsTag = "Operations"

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json
// (buildOpenAPI says how it is made).
func (g *Gateway) OpenAPI() []byte { return g.openapi }

// OpenAPIYAML returns the same document in YAML, served at /openapi.yaml.
func (g *Gateway) OpenAPIYAML() []byte { return g.openapiYAML }

// buildSwagger completes the generated Swagger 2.0 document
// (proto.OpenAPI) with what protoc-gen-openapiv2 cannot know: the gateway's
// own routes, the raw routes' real media types, the Idempotency-Key header,
// 201 statuses and each operation's security from its route policy.
// buildOpenAPI converts the result to OpenAPI 3.1 and completes that.
func buildSwagger(version, tokenURL string, policies map[string]Policy) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(proto.OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("gateway: parse generated OpenAPI: %w", err)
	}
	doc["info"] = map[string]any{
		"title": apiTitle,
		"description": "The public HTTP/JSON API of Tamkeen's common e-service enablers: " +
			"authentication, notification, e-signature, e-payment and content. " +
			"JSON bodies use snake_case field names; every error is an RFC 9457 " +
			"application/problem+json document (schema Problem) with request_id and trace_id.",
		"version": version,
	}
	defs, _ := doc["definitions"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
		doc["definitions"] = defs
	}
	defs["Problem"] = problemSchema()
	defs["FieldError"] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"field":  map[string]any{"type": "string", "description": "snake_case field path, e.g. splits[1].amount"},
			"reason": map[string]any{"type": "string"},
		},
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return nil, fmt.Errorf("gateway: generated OpenAPI has no paths")
	}
	createdOps := map[string]bool{}
	for m := range createdMethods {
		// "/tamkeen.payment.v1.PaymentService/CreatePayment" →
		// "PaymentService_CreatePayment".
		parts := strings.Split(strings.TrimPrefix(m, "/"), "/")
		svc := parts[0][strings.LastIndexByte(parts[0], '.')+1:]
		createdOps[svc+"_"+parts[1]] = true
	}
	for _, item := range paths {
		for _, op := range operations(item) {
			responses, _ := op["responses"].(map[string]any)
			if responses == nil {
				continue
			}
			responses["default"] = problemResponse("An error, as RFC 9457 problem details.")
			if id, _ := op["operationId"].(string); createdOps[id] {
				if ok, has := responses["200"]; has {
					delete(responses, "200")
					if m, isMap := ok.(map[string]any); isMap {
						m["description"] = "Created."
					}
					responses["201"] = ok
				}
			}
		}
	}
	delete(defs, "Status")
	delete(defs, "Any")

	idem := map[string]any{
		"name": "Idempotency-Key", "in": "header", "type": "string", "required": false,
		"description": "Makes the creation safe to retry: the same key returns the first result. Copied into idempotency_key.",
	}
	addParam(paths, "/v1/payments", "post", idem)
	addParam(paths, "/v1/payments/{payment_id}/refunds", "post", idem)
	addParam(paths, "/v1/mandates", "post", idem)
	for _, p := range []string{"/v1/notifications/sms", "/v1/notifications/email", "/v1/notifications/bulk"} {
		addParam(paths, p, "post", idem)
	}

	binaryBody := func(desc string) map[string]any {
		return map[string]any{"name": "body", "in": "body", "required": true, "description": desc,
			"schema": map[string]any{"type": "string", "format": "binary"}}
	}
	binaryOK := func(desc string) map[string]any {
		return map[string]any{"description": desc, "schema": map[string]any{"type": "string", "format": "binary"}}
	}
	sigHeader := map[string]any{"name": SignatureHeader, "in": "header", "type": "string", "required": true,
		"description": "The provider's signature over the exact body bytes."}
	rawOps := []struct {
		path, method string
		consumes     []string
		produces     []string
		params       []any
		ok           map[string]any
	}{
		{"/tsa", "post", []string{MediaTimestampQuery}, []string{MediaTimestampReply},
			[]any{binaryBody("DER TimeStampReq (RFC 3161).")}, binaryOK("DER TimeStampResp.")},
		{"/v1/signing/ca", "get", nil, []string{MediaPEMChain}, []any{}, binaryOK("The CA chain in PEM, issuing CA first.")},
		{"/v1/signing/crl", "get", nil, []string{MediaPKIXCRL}, []any{}, binaryOK("The DER CRL.")},
		{"/v1/stamps/{serial}:print", "get", nil, []string{MediaPDF},
			[]any{map[string]any{"name": "serial", "in": "path", "required": true, "type": "string", "description": "The stamp's serial, e.g. PS-7K2QD-M9X4T-0B8ZN-W3RJF."}},
			binaryOK("The printable stamp: a one-page A5 PDF in Arabic and English whose QR code holds the sealed stamp (compact JWS). " +
				"Only its buyer and its issuing ministry get it; anyone else gets 404.")},
		{"/v1/signing/ocsp", "post", []string{MediaOCSPRequest}, []string{MediaOCSPResponse},
			[]any{binaryBody("DER OCSPRequest (RFC 6960).")}, binaryOK("DER OCSPResponse.")},
		{"/v1/payments/providers/{provider}/webhook", "post", []string{"*/*"}, []string{"application/json"},
			[]any{map[string]any{"name": "provider", "in": "path", "required": true, "type": "string"}, sigHeader,
				binaryBody("The provider's notification; the signature covers these exact bytes.")},
			map[string]any{"description": "Accepted.", "schema": map[string]any{"type": "object"}}},
		{"/v1/notifications/providers/{provider}/receipts", "post", []string{"*/*"}, []string{"application/json"},
			[]any{map[string]any{"name": "provider", "in": "path", "required": true, "type": "string"}, sigHeader,
				binaryBody("The provider's delivery receipt; the signature covers these exact bytes.")},
			map[string]any{"description": "Accepted.", "schema": map[string]any{"type": "object"}}},
		{FeedPath, "get", nil, []string{MediaAtom},
			[]any{map[string]any{"name": "ministry", "in": "path", "required": true, "type": "string", "description": "Ministry code, e.g. moh."},
				queryParam("type", "Only items of this type: service, guide, faq, news or page."),
				queryParam("tag", "Only items with this tag."),
				queryParam("lang", "ar (default) or en; an item without it appears in the other language.")},
			map[string]any{"description": "An Atom feed (RFC 4287) of the ministry's latest 50 published items, newest first; " +
				"ETag and Cache-Control as on the public content, 304 on a matching If-None-Match.",
				"schema": map[string]any{"type": "string"}}},
		{BulkUploadPath, "post", []string{MediaCSV}, []string{"application/json"},
			[]any{queryParam("template_id", "The client template every row is sent with (required)."),
				queryParam("channel", "sms or email (required)."),
				queryParam("reference", "The job's reference; a row's reference column wins for its message."),
				idem,
				map[string]any{"name": "body", "in": "body", "required": true, "description": "The CSV, UTF-8: a header row naming the recipient column " +
					"(phone_number or email_address), an optional reference column and the template's placeholders; then up to 1,000,000 rows. " +
					"It is streamed and validated row by row: bad rows are reported by GET /v1/notifications/bulk/{id}/errors, the good ones sent. " +
					"A body that is not CSV, larger than the service's limit (256 MiB by default) or with too many rows is refused whole.",
					"schema": map[string]any{"type": "string"}}},
			map[string]any{"description": "The job, validated: validated and invalid count the rows.", "schema": map[string]any{"$ref": "#/definitions/BulkJob"}}},
		{"/oauth2/token", "post", []string{MediaForm}, []string{"application/json"},
			[]any{
				formParam("grant_type", true, "client_credentials"),
				formParam("client_id", false, "Client ID, unless sent with HTTP Basic authentication."),
				formParam("client_secret", false, "Client secret, unless sent with HTTP Basic authentication."),
				formParam("scope", false, "Space-separated scopes; empty asks for every granted scope."),
			},
			map[string]any{"description": "RFC 6749 token response; Cache-Control: no-store.",
				"schema": map[string]any{"$ref": "#/definitions/TokenResponse"}}},
	}
	for _, ro := range rawOps {
		op := operation(paths, ro.path, ro.method)
		if op == nil {
			return nil, fmt.Errorf("gateway: generated OpenAPI lacks %s %s", strings.ToUpper(ro.method), ro.path)
		}
		if ro.consumes != nil {
			op["consumes"] = ro.consumes
		}
		op["produces"] = ro.produces
		op["parameters"] = ro.params
		op["responses"].(map[string]any)["200"] = ro.ok
	}

	// The upload creates a job: 201, as the JSON bulk create.
	if resp, _ := operation(paths, BulkUploadPath, "post")["responses"].(map[string]any); resp != nil {
		resp["201"] = resp["200"]
		delete(resp, "200")
	}

	text := func(desc string) map[string]any {
		return map[string]any{"description": desc, "schema": map[string]any{"type": "object"}}
	}
	ops := []struct {
		path, summary string
		produces      string
		ok            map[string]any
		unavailable   bool
		params        []any
	}{
		{"/openapi.json", "This OpenAPI 3.1 document, in JSON.", "application/json", text("The document."), false, nil},
		{"/openapi.yaml", "This OpenAPI 3.1 document, in YAML.", "application/yaml", map[string]any{"description": "The document.", "schema": map[string]any{"type": "string"}}, false, nil},
		{"/docs", "The API reference (HTML; Redoc, served by the gateway itself).", "text/html", map[string]any{"description": "HTML page.", "schema": map[string]any{"type": "string"}}, false, nil},
		{docsScriptPath, "The Redoc viewer script /docs loads.", "text/javascript", map[string]any{"description": "JavaScript.", "schema": map[string]any{"type": "string"}}, false, nil},
		{serviceDocPath, "One enabler's part of this document (auth, notification, signature, payment or content): the OpenAPI description an X-Road security server registers as that enabler's REST service.", "application/json", text("The enabler's OpenAPI 3.1 document."), false,
			[]any{map[string]any{"name": "service", "in": "path", "required": true, "type": "string", "description": "The enabler.",
				"enum": []any{"auth", "content", "notification", "payment", "signature"}}}},
	}
	for _, o := range ops {
		responses := map[string]any{"200": o.ok, "default": problemResponse("An error, as RFC 9457 problem details.")}
		if o.unavailable {
			responses["503"] = problemResponse("Not ready; errors names each failing dependency.")
		}
		get := map[string]any{
			"summary":     o.summary,
			"description": o.summary + " Public, no token needed.",
			"operationId": opsTag + "_" + strings.NewReplacer(".", "_", "/", "_", "{", "", "}", "").Replace(strings.TrimPrefix(o.path, "/")),
			"produces":    []string{o.produces},
			"responses":   responses,
			"tags":        []string{opsTag},
		}
		if o.params != nil {
			get["parameters"] = o.params
		}
		paths[o.path] = map[string]any{"get": get}
	}
	if err := addSecurity(doc, paths, tokenURL, policies); err != nil {
		return nil, err
	}
	tags, _ := doc["tags"].([]any)
	for _, t := range tags {
		if m, _ := t.(map[string]any); m != nil {
			if codes := problems.EnablerCodes(serviceTag(fmt.Sprint(m["name"]))); codes != nil {
				m["x-error-codes"] = codes
			}
		}
	}
	doc["tags"] = append(tags, map[string]any{"name": opsTag, "description": "Documentation of the gateway. Health, readiness and metrics are on the operations listener, not the API."})
	return doc, nil
}

// Names of the OpenAPI security schemes.
const (
	securityClient  = "client"
	securityCitizen = "citizen"
)

// addSecurity declares the two kinds of token as security schemes and
// gives every operation the security of its route policy: public ones an
// empty list, the others the client scheme with the scopes it needs and/or
// the citizen scheme. The policy is also spelled out in each description
// and as x-tamkeen-policy, because OpenAPI 2.0 cannot express acr and
// max_age.
func addSecurity(doc, paths map[string]any, tokenURL string, policies map[string]Policy) error {
	scopes := map[string]any{}
	for _, p := range policies {
		for _, s := range p.Scopes {
			scopes[s] = "Lets a ministry client call the routes that need " + s + "."
			if s == scope.PasswordLogin {
				scopes[s] = "Lets one of the platform's own first-party apps post a citizen's national ID and password " +
					"to POST /v1/auth/login; never granted to a ministry client (ministry portals use the authorization code flow)."
			}
		}
		if p.AdminScope != "" {
			scopes[p.AdminScope] = "Lets the platform operator's client call, across every ministry, the routes that admit " + p.AdminScope + "."
		}
	}
	doc["securityDefinitions"] = map[string]any{
		securityClient: map[string]any{
			"type": "oauth2", "flow": "application", "tokenUrl": tokenURL, "scopes": scopes,
			"description": "A ministry application's access token from POST /oauth2/token (client_credentials), sent as Authorization: Bearer.",
		},
		securityCitizen: map[string]any{
			"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "\"Bearer \" and a citizen's access token from the authorization code flow at /oauth2/authorize or a " +
				"first-party app's POST /v1/auth/login (acr loa1), or an OTP step-up " +
				"(acr loa2). A token too weak or too old for the route gets 401 with an RFC 9470 " +
				"WWW-Authenticate challenge naming acr_values and max_age.",
		},
	}
	byOp := operationMethods()
	for path, item := range paths {
		for _, op := range operations(item) {
			id, _ := op["operationId"].(string)
			if tags, _ := op["tags"].([]string); len(tags) == 1 && tags[0] == opsTag {
				op["security"] = []any{}
				continue
			}
			method, ok := byOp[id]
			if !ok {
				return fmt.Errorf("gateway: OpenAPI operation %s at %s names no gRPC method", id, path)
			}
			pol, ok := policies[method]
			if !ok {
				return fmt.Errorf("gateway: %s has no policy", method)
			}
			security := []any{}
			ext := map[string]any{"public": pol.Public}
			if !pol.Public {
				ext["callers"] = pol.Callers.String()
				if pol.Callers&Client != 0 {
					security = append(security, map[string]any{securityClient: append([]string{}, pol.Scopes...)})
					ext["scopes"] = append([]string{}, pol.Scopes...)
					if pol.AdminScope != "" {
						// Security requirements are alternatives: either scope.
						security = append(security, map[string]any{securityClient: []string{pol.AdminScope}})
						ext["admin_scope"] = pol.AdminScope
					}
				}
				if pol.Callers&Citizen != 0 {
					security = append(security, map[string]any{securityCitizen: []string{}})
					ext["acr"] = pol.ACR
					if pol.MaxAge > 0 {
						ext["max_age"] = int64(pol.MaxAge / time.Second)
					}
				}
			}
			op["security"] = security
			op["x-tamkeen-policy"] = ext
			desc, _ := op["description"].(string)
			op["description"] = strings.TrimSpace(desc + "\n\nAccess: " + pol.String() + ".")
		}
	}
	return nil
}

// problemSchema is the JSON schema of Problem.
func problemSchema() map[string]any {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return map[string]any{
		"type":        "object",
		"description": "RFC 9457 problem details, served as application/problem+json.",
		"required":    []string{"type", "title", "status"},
		"properties": map[string]any{
			"type":       str("URN naming the kind of problem, e.g. urn:tamkeen:problem:invalid-argument."),
			"title":      str("HTTP status text."),
			"status":     map[string]any{"type": "integer", "format": "int32"},
			"detail":     str("What went wrong in this occurrence."),
			"instance":   str("The request path."),
			"request_id": str("The X-Request-Id of the request."),
			"trace_id":   str("The W3C trace ID of the request."),
			"errors":     map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/FieldError"}},
			"error":      str("RFC 6749 error code; only on /oauth2/token."),
		},
	}
}

// problemResponse is a response whose schema is Problem.
func problemResponse(desc string) map[string]any {
	return map[string]any{"description": desc, "schema": map[string]any{"$ref": "#/definitions/Problem"}}
}

// queryParam is an optional Swagger 2.0 query parameter.
func queryParam(name, desc string) map[string]any {
	return map[string]any{"name": name, "in": "query", "type": "string", "required": false, "description": desc}
}

// formParam is a Swagger 2.0 formData parameter.
func formParam(name string, required bool, desc string) map[string]any {
	return map[string]any{"name": name, "in": "formData", "type": "string", "required": required, "description": desc}
}

// httpMethods are the operation keys of a Swagger path item, in order.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch"}

// operations returns the operations of a path item.
func operations(item any) []map[string]any {
	m, _ := item.(map[string]any)
	var out []map[string]any
	for _, k := range httpMethods {
		if op, ok := m[k].(map[string]any); ok {
			out = append(out, op)
		}
	}
	return out
}

// operation returns paths[path][method] or nil.
func operation(paths map[string]any, path, method string) map[string]any {
	item, _ := paths[path].(map[string]any)
	op, _ := item[method].(map[string]any)
	return op
}

// addParam appends a parameter to an operation, if it exists.
func addParam(paths map[string]any, path, method string, p map[string]any) {
	if op := operation(paths, path, method); op != nil {
		params, _ := op["parameters"].([]any)
		op["parameters"] = append(params, p)
	}
}

// OpenAPIDocument returns the document a gateway with this API version
// and issuer serves at /openapi.json and /openapi.yaml, without starting
// one: the linters and the TypeScript check run on it.
func OpenAPIDocument(version, issuer string) (jsonDoc, yamlDoc []byte, err error) {
	tokenURL := "/oauth2/token"
	if issuer != "" {
		tokenURL = strings.TrimSuffix(issuer, "/") + tokenURL
	}
	return buildOpenAPI(version, issuer, tokenURL, Policies())
}
