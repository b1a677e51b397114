package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3conv"
	"go.yaml.in/yaml/v4"

	"github.com/tamkeen/tamkeen/gateway/problems"
)

// openAPIVersion is the OpenAPI version of the served document.
const openAPIVersion = "3.1.0"

// buildOpenAPI makes the document served at /openapi.json and
// /openapi.yaml, at start-up, from the protos' Swagger 2.0 output:
//
//  1. buildSwagger completes the Swagger 2.0 document protoc-gen-openapiv2
//     generated (routes, media types, 201s, security per route policy);
//  2. kin-openapi's openapi2conv converts it to OpenAPI 3.0 and
//     openapi3conv.Upgrade rewrites the 3.0-only forms to 3.1 (nullable →
//     type arrays, boolean exclusive bounds → numbers, example →
//     examples); Upgrade stamps the newest 3.x it knows, the document
//     declares 3.1.0, which is all it uses;
//  3. complete31 adds what 2.0 cannot say: servers, OAuth 2.0
//     client-credentials and authorization-code flows and bearer tokens,
//     application/problem+json responses per status with the shared Problem
//     schema, enums of the closed sets, examples for every JSON request and
//     response, and the webhooks a ministry receives.
//
// The field requirements come from the protos' (google.api.field_behavior)
// = REQUIRED annotations, which protoc-gen-openapiv2 turns into required.
func buildOpenAPI(version, issuer, tokenURL string, policies map[string]Policy) (jsonDoc, yamlDoc []byte, err error) {
	swagger, err := buildSwagger(version, tokenURL, policies)
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(swagger)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: marshal Swagger 2.0: %w", err)
	}
	var v2 openapi2.T
	if err := json.Unmarshal(raw, &v2); err != nil {
		return nil, nil, fmt.Errorf("gateway: read Swagger 2.0: %w", err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: convert to OpenAPI 3: %w", err)
	}
	openapi3conv.Upgrade(v3)
	v3.OpenAPI = openAPIVersion
	raw, err = json.Marshal(v3)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: marshal OpenAPI 3: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("gateway: read OpenAPI 3: %w", err)
	}
	if err := complete31(doc, issuer, tokenURL); err != nil {
		return nil, nil, err
	}
	return marshalOrdered(doc)
}

// topLevelOrder is the order of the document's top-level keys, the one
// the specification lists them in; any other key follows, sorted.
var topLevelOrder = []string{"openapi", "info", "jsonSchemaDialect", "servers", "security", "tags", "paths", "webhooks", "components"}

// marshalOrdered writes doc as indented JSON and as YAML, the top-level
// keys in topLevelOrder and every map below sorted.
func marshalOrdered(doc map[string]any) (jsonDoc, yamlDoc []byte, err error) {
	keys := []string{}
	for _, k := range topLevelOrder {
		if _, ok := doc[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keysOf(doc) {
		if !slices.Contains(topLevelOrder, k) {
			keys = append(keys, k)
		}
	}
	var jbuf, ybuf bytes.Buffer
	jbuf.WriteString("{\n")
	for i, k := range keys {
		var v bytes.Buffer
		enc := json.NewEncoder(&v)
		enc.SetEscapeHTML(false)
		enc.SetIndent("  ", "  ")
		if err := enc.Encode(doc[k]); err != nil {
			return nil, nil, fmt.Errorf("gateway: marshal OpenAPI %s: %w", k, err)
		}
		name, _ := json.Marshal(k)
		jbuf.WriteString("  " + string(name) + ": ")
		jbuf.Write(bytes.TrimRight(v.Bytes(), "\n"))
		if i < len(keys)-1 {
			jbuf.WriteByte(',')
		}
		jbuf.WriteByte('\n')

		// A mapping of one key per document, concatenated, is the
		// mapping of them all. The value goes through JSON first so that
		// YAML sees the same generic values.
		var generic any
		if err := json.Unmarshal(v.Bytes(), &generic); err != nil {
			return nil, nil, err
		}
		yenc := yaml.NewEncoder(&ybuf)
		yenc.SetIndent(2)
		if err := yenc.Encode(map[string]any{k: generic}); err != nil {
			return nil, nil, fmt.Errorf("gateway: marshal OpenAPI YAML %s: %w", k, err)
		}
		if err := yenc.Close(); err != nil {
			return nil, nil, err
		}
	}
	jbuf.WriteString("}\n")
	return jbuf.Bytes(), ybuf.Bytes(), nil
}

// complete31 completes the converted document in place.
func complete31(doc map[string]any, issuer, tokenURL string) error {
	components := child(doc, "components")
	schemas := child(components, "schemas")
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return fmt.Errorf("gateway: converted OpenAPI has no paths")
	}

	base := strings.TrimSuffix(issuer, "/")
	if base == "" {
		doc["servers"] = []any{map[string]any{"url": "/", "description": "This gateway."}}
	} else {
		doc["servers"] = []any{map[string]any{"url": base, "description": "This gateway (its public URL, the token issuer)."}}
	}
	// The platform team hands out clients, callback secrets and access
	// rights; no licence is named (the repository has none).
	doc["info"].(map[string]any)["contact"] = map[string]any{"name": "Tamkeen platform team"}
	doc["info"].(map[string]any)["summary"] = "تمكين: الواجهة البرمجية لممكّنات الخدمات الإلكترونية الحكومية — Tamkeen: the e-service enablers API"

	if err := securitySchemes(components, base, tokenURL); err != nil {
		return err
	}
	schemas["Problem"] = problemSchema31()
	schemas["FieldError"] = fieldErrorSchema31()
	components["responses"] = problemResponses()
	components["headers"] = map[string]any{
		"Retry-After": map[string]any{
			"description": "Seconds to wait before retrying.",
			"schema":      map[string]any{"type": "integer", "minimum": 0},
			"example":     30,
		},
	}
	for name, values := range openAPIEnums {
		schemaName, field, _ := strings.Cut(name, ".")
		s, _ := schemas[schemaName].(map[string]any)
		props, _ := s["properties"].(map[string]any)
		p, _ := props[field].(map[string]any)
		if p == nil {
			return fmt.Errorf("gateway: enum for %s: no such schema property", name)
		}
		p["enum"] = append([]string{}, values...)
	}
	for name, ex := range schemaExamples {
		s, _ := schemas[name].(map[string]any)
		if s == nil {
			return fmt.Errorf("gateway: example for %s: no such schema", name)
		}
		s["examples"] = []any{ex}
	}
	doc["webhooks"] = webhooks(schemas)
	addEndpointWebhooks(doc["webhooks"].(map[string]any), schemas) // openapi_webhooks.go

	pruneSchemas(doc, schemas)
	ex := exampler{schemas: schemas}
	for _, path := range keysOf(paths) {
		item, _ := paths[path].(map[string]any)
		for _, method := range httpMethods {
			op, _ := item[method].(map[string]any)
			if op == nil {
				continue
			}
			if err := completeOperation(&ex, path, method, op); err != nil {
				return err
			}
		}
	}
	return nil
}

// securitySchemes declares the three ways a caller authenticates: a
// ministry application's OAuth 2.0 client-credentials token, a citizen's
// token from the authorization code flow, and (the same citizen token
// from a first-party app's login or OTP step-up) a plain bearer token.
func securitySchemes(components map[string]any, base, tokenURL string) error {
	schemes := child(components, "securitySchemes")
	client, _ := schemes[securityClient].(map[string]any)
	if client == nil {
		return fmt.Errorf("gateway: converted OpenAPI lacks the %s security scheme", securityClient)
	}
	flows, _ := client["flows"].(map[string]any)
	cc, _ := flows["clientCredentials"].(map[string]any)
	if cc == nil {
		return fmt.Errorf("gateway: the %s security scheme has no clientCredentials flow", securityClient)
	}
	cc["tokenUrl"] = tokenURL
	authorize := base + "/oauth2/authorize"
	schemes[securityCitizen] = map[string]any{
		"type": "oauth2",
		"description": "A citizen's access token from the OpenID Connect authorization code flow (with PKCE) at " +
			"/oauth2/authorize, sent as Authorization: Bearer. A token too weak (acr) or too old (max_age) for the route " +
			"gets 401 with an RFC 9470 WWW-Authenticate challenge naming acr_values and max_age.",
		"flows": map[string]any{"authorizationCode": map[string]any{
			"authorizationUrl": authorize,
			"tokenUrl":         tokenURL,
			"scopes": map[string]any{
				"openid":  "Sign the citizen in (OpenID Connect).",
				"profile": "The citizen's name.",
				"phone":   "The citizen's verified phone number.",
			},
		}},
	}
	schemes[securityBearer] = map[string]any{
		"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": "A citizen's access token from a first-party app's POST /v1/auth/login (acr loa1) or an OTP " +
			"step-up (acr loa2); the same token the authorization code flow gives.",
	}
	return nil
}

// securityBearer names the plain bearer-token scheme.
const securityBearer = "bearer"

// completeOperation gives one operation its problem responses, examples
// and the bearer alternative of the citizen scheme.
func completeOperation(ex *exampler, path, method string, op map[string]any) error {
	id, _ := op["operationId"].(string)
	tags, _ := op["tags"].([]any)
	opsRoute := len(tags) == 1 && tags[0] == opsTag
	if sec, ok := op["security"].([]any); ok {
		for _, req := range sec {
			if m, _ := req.(map[string]any); m != nil {
				if _, citizen := m[securityCitizen]; citizen {
					sec = append(sec, map[string]any{securityBearer: []any{}})
					break
				}
			}
		}
		op["security"] = sec
	}
	responses, _ := op["responses"].(map[string]any)
	if responses == nil {
		return fmt.Errorf("gateway: %s %s has no responses", method, path)
	}
	delete(responses, "default")
	params, _ := op["parameters"].([]any)
	body, _ := op["requestBody"].(map[string]any)
	hasPathParam := strings.Contains(path, "{")
	idempotent := false
	for _, p := range params {
		if m, _ := p.(map[string]any); m != nil && m["name"] == "Idempotency-Key" {
			idempotent = true
			m["schema"] = map[string]any{"type": "string", "minLength": 1, "maxLength": 255}
			m["example"] = "3f1c9a52-8d47-4e0b-9c1e-7a2d5b6e8f10"
		}
	}
	public := len(asSlice(op["security"])) == 0
	statuses := []int{}
	if !opsRoute {
		if len(params) > 0 || body != nil {
			statuses = append(statuses, http.StatusBadRequest)
		}
		if !public {
			statuses = append(statuses, http.StatusUnauthorized, http.StatusForbidden)
		}
		if hasPathParam || strings.HasPrefix(path, "/v1/public/content/") {
			statuses = append(statuses, http.StatusNotFound)
		}
		if method != "get" {
			statuses = append(statuses, http.StatusConflict)
			if hasPathParam {
				statuses = append(statuses, http.StatusPreconditionFailed)
			}
		}
		if idempotent {
			statuses = append(statuses, http.StatusUnprocessableEntity)
		}
		statuses = append(statuses, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	} else {
		statuses = append(statuses, http.StatusTooManyRequests)
	}
	for _, s := range statuses {
		responses[strconv.Itoa(s)] = map[string]any{"$ref": "#/components/responses/" + problemResponseName[s]}
	}
	responses["default"] = map[string]any{"$ref": "#/components/responses/" + problemResponseName[0]}

	if body != nil {
		ex.fill(body, requestExamples[id], method+" "+path+" request")
	}
	for code, r := range responses {
		if m, _ := r.(map[string]any); m != nil && strings.HasPrefix(code, "2") {
			ex.fill(m, responseExamples[id], method+" "+path+" "+code)
		}
	}
	return nil
}

// fill gives each media type of a request body or response its example:
// the operation's own (fixed, when not nil), else one built from the
// schema, else the text example named textKey.
func (ex *exampler) fill(bodyOrResponse map[string]any, fixed any, textKey string) {
	content, _ := bodyOrResponse["content"].(map[string]any)
	for media, mt := range content {
		m, _ := mt.(map[string]any)
		if fixed != nil {
			m["example"] = fixed
		} else if v, ok := ex.example(m["schema"], media); ok {
			m["example"] = v
		} else if v, ok := textExamples[textKey]; ok {
			m["example"] = v
		}
	}
}

// problemResponseName names the shared problem response of each status
// (0: the default, any other error).
var problemResponseName = map[int]string{
	0:                              "Error",
	http.StatusBadRequest:          "BadRequest",
	http.StatusUnauthorized:        "Unauthorized",
	http.StatusForbidden:           "Forbidden",
	http.StatusNotFound:            "NotFound",
	http.StatusConflict:            "Conflict",
	http.StatusPreconditionFailed:  "PreconditionFailed",
	http.StatusUnprocessableEntity: "UnprocessableEntity",
	http.StatusTooManyRequests:     "TooManyRequests",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
}

// problemResponses are components.responses: one problem+json response
// per status, each with an example as the gateway writes it.
func problemResponses() map[string]any {
	type pr struct {
		status      int
		kind        string
		description string
		detail      string
		extra       map[string]any
	}
	list := []pr{
		{http.StatusBadRequest, "invalid-argument", "The request is malformed or a field is invalid; errors names each bad field.",
			"invalid argument: amount: must be a positive number of minor units",
			map[string]any{"errors": []any{map[string]any{"field": "amount", "reason": "must be a positive number of minor units", "code": "amount.range"}}}},
		{http.StatusUnauthorized, "unauthenticated", "No access token, or one that is invalid, expired, revoked, or too weak or too old for the route (see WWW-Authenticate).",
			"missing or invalid access token", nil},
		{http.StatusForbidden, "permission-denied", "The token lacks the scope, or the client the access right (missing_right), to call this.",
			"the client lacks this right", map[string]any{"missing_right": "payment/CreatePayment"}},
		{http.StatusNotFound, "not-found", "No such resource, or not one of the caller's.", "payment not found", nil},
		{http.StatusConflict, "failed-precondition", "The resource is not in a state that allows this, or it already exists.",
			"illegal transition: payment is succeeded, not created", nil},
		{http.StatusPreconditionFailed, "failed-precondition", "The request's own precondition (If-Match, If-Unmodified-Since) does not hold.",
			"the item changed since the ETag given in If-Match", nil},
		{http.StatusUnprocessableEntity, "idempotency-key-reused", "The Idempotency-Key was used before with a different request body.",
			"Idempotency-Key reused with a different request", nil},
		{http.StatusTooManyRequests, "resource-exhausted", "Too many requests from this client or source; retry after Retry-After seconds.",
			"rate limit exceeded", nil},
		{http.StatusServiceUnavailable, "unavailable", "The enabler behind this route is unavailable; retry later.",
			"the service is temporarily unavailable; retry later", nil},
		{0, "internal", "Another error (500 internal error, 504 the service did not answer in time).", "internal error", nil},
	}
	out := map[string]any{}
	for _, p := range list {
		status := p.status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		example := map[string]any{
			"type": problemTypePrefix + p.kind, "code": p.kind, "title": problemTitle(status), "status": status,
			"detail": p.detail, "instance": "/v1/payments",
			"request_id": "01JEQ6Z8Y3K4N5P6Q7R8S9T0VW", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		}
		for k, v := range p.extra {
			example[k] = v
		}
		r := map[string]any{
			"description": p.description,
			"content": map[string]any{MediaProblem: map[string]any{
				"schema":  map[string]any{"$ref": "#/components/schemas/Problem"},
				"example": example,
			}},
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			r["headers"] = map[string]any{"Retry-After": map[string]any{"$ref": "#/components/headers/Retry-After"}}
		}
		out[problemResponseName[p.status]] = r
	}
	return out
}

// problemSchema31 is the shared Problem schema.
func problemSchema31() map[string]any {
	s := problemSchema()
	props := s["properties"].(map[string]any)
	props["type"].(map[string]any)["format"] = "uri"
	props["status"] = map[string]any{"type": "integer", "format": "int32", "minimum": 400, "maximum": 599}
	props["errors"] = map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/FieldError"},
		"description": "The bad fields (400), or the backends that are not ready (503)."}
	props["missing_right"] = map[string]any{"type": "string", "description": "The access right a 403 lacks, e.g. payment/CreatePayment."}
	props["code"] = map[string]any{"type": "string",
		"description": "The problem's stable machine code: the last segment of type (e.g. invalid-argument, not-found, idempotency-key-reused), " +
			"the same in every language. x-error-codes lists them, with their texts in docs/errors.md; " +
			"/oauth2/token adds oauth-* codes that follow RFC 6749's error.",
		"x-error-codes": problemCodes()}
	props["detail"] = map[string]any{"type": "string",
		"description": "What went wrong in this occurrence, in the language of the Content-Language header: Arabic when Accept-Language prefers ar, English otherwise."}
	s["required"] = []string{"type", "code", "title", "status"}
	return s
}

// problemCodes are the problem codes of the catalogue (gateway/problems),
// sorted.
func problemCodes() []string {
	var out []string
	for _, c := range problems.Codes() {
		if !strings.ContainsAny(c, ".*") {
			out = append(out, c)
		}
	}
	return out
}

// gatewayViolationCodes are the codes decodeViolations gives a request
// the generated handlers cannot decode.
var gatewayViolationCodes = []string{"*.invalid", "*.required", "*.unknown_field", "body.format"}

// violationCodes are every enabler's violation codes and the gateway's
// own, sorted and once each.
func violationCodes() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range problems.Enablers {
		for _, c := range append(append([]string{}, e.Codes...), gatewayViolationCodes...) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// fieldErrorSchema31 is one bad field of a Problem.
func fieldErrorSchema31() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"field", "reason", "code"},
		"properties": map[string]any{
			"field":  map[string]any{"type": "string", "description": "snake_case field path, e.g. splits[1].amount"},
			"reason": map[string]any{"type": "string", "description": "Why the field is refused, for people, in the language of the Content-Language header."},
			"code": map[string]any{"type": "string",
				"description": "The refusal's stable machine code, <field>.<what> without indexes (e.g. national_id.check_digit, " +
					"phone_number.not_mobile, splits.sum_mismatch), one per rule and the same in every language. " +
					"x-error-codes lists them (each enabler's are on its tag); *.<what> is the rule on any text field, " +
					"<field>.unknown_field, <field>.invalid and <field>.required are the gateway's own for a body or parameter it cannot decode. " +
					"New codes may appear: treat an unknown one like <field>.invalid and show its reason. Texts in docs/errors.md.",
				"x-error-codes": violationCodes()},
		},
	}
}

// webhooks are the requests Tamkeen makes to a ministry's own server.
func webhooks(schemas map[string]any) map[string]any {
	schemas["NotificationStatusCallback"] = map[string]any{
		"type":        "object",
		"description": "A status change of one of the client's notifications.",
		"required":    []string{"id", "reference", "to", "notification_type", "status", "created_at", "updated_at"},
		"properties": map[string]any{
			"id":                map[string]any{"type": "string", "description": "The notification's id."},
			"reference":         map[string]any{"type": "string", "description": "The client's own reference, as sent."},
			"to":                map[string]any{"type": "string", "description": "The recipient: E.164 phone number or e-mail address."},
			"notification_type": map[string]any{"type": "string", "enum": append([]string{}, openAPIEnums["Notification.channel"]...)},
			"status":            map[string]any{"type": "string", "enum": append([]string{}, openAPIEnums["Notification.status"]...)},
			"failure_reason":    map[string]any{"type": "string", "description": "Why it failed; only on failure statuses."},
			"segments":          map[string]any{"type": "integer", "minimum": 1, "description": "SMS segments billed; SMS only."},
			"created_at":        map[string]any{"type": "string", "format": "date-time"},
			"updated_at":        map[string]any{"type": "string", "format": "date-time"},
		},
	}
	return map[string]any{
		"notificationStatus": map[string]any{"post": map[string]any{
			"operationId": "Webhook_NotificationStatus",
			"summary":     "Notification status callback",
			"tags":        []string{"NotificationService"},
			"description": "Every status change of a client's notification (SMS or e-mail) is POSTed to the client's " +
				"callback URL, configured for the client by the platform team. The Tamkeen-Signature header is " +
				"t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>, with the client's callback secret " +
				"handed over by the platform team. To verify: split the header on \",\", compute the HMAC over the decimal t, " +
				"a \".\" and the raw body bytes, compare in constant time and refuse a t more than 5 minutes from now. " +
				"Answer 2xx; any other answer is retried with back-off (doubling, capped at an hour) up to 10 times, so " +
				"de-duplicate on id and status.",
			"parameters": []any{map[string]any{
				"name": "Tamkeen-Signature", "in": "header", "required": true,
				"schema":      map[string]any{"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"},
				"example":     "t=1765013400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
				"description": "Stripe-style signature of the body.",
			}},
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/NotificationStatusCallback"},
				"example": map[string]any{
					"id": "9d5e7c1a-2b3f-4a6d-8e9f-0a1b2c3d4e5f", "reference": "LR-2026-000123", "to": "+970599123456",
					"notification_type": "sms", "status": "delivered", "segments": 1,
					"created_at": "2026-12-06T09:30:00Z", "updated_at": "2026-12-06T09:30:04Z",
				},
			}}},
			"responses": map[string]any{"200": map[string]any{"description": "Received; any 2xx will do."}},
			"security":  []any{},
		}},
	}
}

// pruneSchemas drops the schemas nothing refers to: the empty gRPC
// responses of the routes that answer raw bytes (the DER, PEM and
// provider routes) and the token request the form body replaced.
func pruneSchemas(doc, schemas map[string]any) {
	for {
		used := map[string]bool{}
		var walk func(v any, skip string)
		walk = func(v any, skip string) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					if k == "$ref" {
						if ref, _ := c.(string); ref != "" && ref != "#/components/schemas/"+skip {
							used[strings.TrimPrefix(ref, "#/components/schemas/")] = true
						}
						continue
					}
					walk(c, skip)
				}
			case []any:
				for _, c := range x {
					walk(c, skip)
				}
			}
		}
		for k, v := range doc {
			if k != "components" {
				walk(v, "")
			}
		}
		for k, v := range doc["components"].(map[string]any) {
			if k != "schemas" {
				walk(v, "")
			}
		}
		for name, v := range schemas {
			// A schema's reference to itself does not keep it.
			walk(v, name)
		}
		removed := false
		for name := range schemas {
			if !used[name] {
				delete(schemas, name)
				removed = true
			}
		}
		if !removed {
			return
		}
	}
}

// child returns m[key] as a map, creating it.
func child(m map[string]any, key string) map[string]any {
	c, _ := m[key].(map[string]any)
	if c == nil {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// asSlice returns v as a []any (nil if it is not one).
func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// keysOf returns m's keys in order.
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
