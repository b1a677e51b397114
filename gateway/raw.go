package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Media types of the raw routes.
const (
	MediaTimestampQuery = "application/timestamp-query"
	MediaTimestampReply = "application/timestamp-reply"
	MediaPEMChain       = "application/pem-certificate-chain"
	MediaPKIXCRL        = "application/pkix-crl"
	MediaOCSPRequest    = "application/ocsp-request"
	MediaOCSPResponse   = "application/ocsp-response"
	MediaForm           = "application/x-www-form-urlencoded"
	MediaPDF            = "application/pdf"
)

// SignatureHeader carries a provider's signature over the exact body bytes
// of webhooks and delivery receipts.
const SignatureHeader = "Tamkeen-Signature"

// rawRoute is one route whose wire format is not JSON. Registered after
// the generated handlers, it wins over them (grpc-gateway tries the newest
// registration first).
type rawRoute struct {
	method, path string
	// rpc is the gRPC method the handler calls, whose policy applies; ""
	// for the gateway's own routes.
	rpc string
	h   runtime.HandlerFunc
}

// registerRaw registers the raw routes.
func (g *Gateway) registerRaw(b conns) error {
	auth := authv1.NewAuthServiceClient(b.Auth)
	sig := signaturev1.NewSignatureServiceClient(b.Signature)
	pay := paymentv1.NewPaymentServiceClient(b.Payment)
	notif := notificationv1.NewNotificationServiceClient(b.Notification)
	limit := g.cfg.RawBodyBytes

	routes := []rawRoute{
		{http.MethodPost, "/tsa", signaturev1.SignatureService_Timestamp_FullMethodName, g.rawPost(MediaTimestampQuery, limit, MediaTimestampReply, func(ctx context.Context, body []byte, _ *http.Request, _ map[string]string) ([]byte, error) {
			resp, err := sig.Timestamp(ctx, &signaturev1.TimestampRequest{Query: body})
			return resp.GetReply(), err
		})},
		{http.MethodGet, "/v1/signing/ca", signaturev1.SignatureService_GetCaCertificates_FullMethodName, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			resp, err := sig.GetCaCertificates(g.callContext(r), &signaturev1.GetCaCertificatesRequest{})
			g.writeRaw(w, r, err, MediaPEMChain, []byte(resp.GetPem()))
		}},
		{http.MethodGet, "/v1/signing/crl", signaturev1.SignatureService_GetCrl_FullMethodName, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			resp, err := sig.GetCrl(g.callContext(r), &signaturev1.GetCrlRequest{})
			g.writeRaw(w, r, err, MediaPKIXCRL, resp.GetCrl())
		}},
		// The printable stamp is its holder's: private, never cached by a
		// shared cache (the serial is the paper stamp's bearer secret).
		{http.MethodGet, "/v1/stamps/{serial}:print", paymentv1.PaymentService_PrintStamp_FullMethodName, func(w http.ResponseWriter, r *http.Request, p map[string]string) {
			resp, err := pay.PrintStamp(g.callContext(r), &paymentv1.PrintStampRequest{Serial: p["serial"]})
			if err == nil {
				w.Header().Set("Cache-Control", "private, no-store")
				w.Header().Set("Content-Disposition", `inline; filename="stamp.pdf"`)
			}
			g.writeRaw(w, r, err, MediaPDF, resp.GetPdf())
		}},
		{http.MethodPost, "/v1/signing/ocsp", signaturev1.SignatureService_CheckOcsp_FullMethodName, g.rawPost(MediaOCSPRequest, limit, MediaOCSPResponse, func(ctx context.Context, body []byte, _ *http.Request, _ map[string]string) ([]byte, error) {
			resp, err := sig.CheckOcsp(ctx, &signaturev1.CheckOcspRequest{Request: body})
			return resp.GetResponse(), err
		})},
		{http.MethodPost, "/v1/payments/providers/{provider}/webhook", paymentv1.PaymentService_HandleProviderWebhook_FullMethodName, g.rawPost("", limit, "application/json", func(ctx context.Context, body []byte, r *http.Request, p map[string]string) ([]byte, error) {
			_, err := pay.HandleProviderWebhook(ctx, &paymentv1.HandleProviderWebhookRequest{
				Provider: p["provider"], Payload: body, Signature: r.Header.Get(SignatureHeader),
			})
			return []byte("{}"), err
		})},
		{http.MethodPost, "/v1/notifications/providers/{provider}/receipts", notificationv1.NotificationService_ReceiveDeliveryReceipt_FullMethodName, g.rawPost("", limit, "application/json", func(ctx context.Context, body []byte, r *http.Request, p map[string]string) ([]byte, error) {
			_, err := notif.ReceiveDeliveryReceipt(ctx, &notificationv1.ReceiveDeliveryReceiptRequest{
				Provider: p["provider"], Payload: body, Signature: r.Header.Get(SignatureHeader),
			})
			return []byte("{}"), err
		})},
		{http.MethodPost, BulkUploadPath, notificationv1.NotificationService_UploadBulkJob_FullMethodName, g.bulkUpload(notif)},
		{http.MethodPost, "/oauth2/token", authv1.AuthService_IssueToken_FullMethodName, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			g.token(w, r, auth, limit)
		}},
		// RFC 8414's name for the discovery document: the same document
		// as /.well-known/openid-configuration.
		{http.MethodGet, "/.well-known/oauth-authorization-server", authv1.AuthService_GetOpenIdConfiguration_FullMethodName, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			resp, err := auth.GetOpenIdConfiguration(g.callContext(r), &authv1.GetOpenIdConfigurationRequest{})
			var body []byte
			if err == nil {
				body, err = tokenMarshal.Marshal(resp)
			}
			g.writeRaw(w, r, err, "application/json", body)
		}},
	}
	routes = append(routes, g.feedRoutes(b)...)
	for _, rt := range routes {
		if err := g.handlePath(rt.method, rt.path, rt.rpc, rt.h); err != nil {
			return fmt.Errorf("gateway: raw route %s %s: %w", rt.method, rt.path, err)
		}
	}
	return nil
}

// callContext is the outgoing context of a raw route: the request's (with
// its span) plus the same metadata the generated handlers forward.
func (g *Gateway) callContext(r *http.Request) context.Context {
	ctx := r.Context()
	md := metadata.MD{}
	if st := stateFrom(ctx); st != nil && st.id != "" {
		md.Set("x-request-id", st.id)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		md.Set("authorization", a)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// rawPost is the handler of a raw route with a body: it reads the body
// (of type want, when set) within limit, calls the service through call
// with the outgoing context, and answers call's bytes as reply, or the
// error as a problem.
func (g *Gateway) rawPost(want string, limit int64, reply string,
	call func(ctx context.Context, body []byte, r *http.Request, p map[string]string) ([]byte, error)) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		body, ok := g.rawBody(w, r, want, limit)
		if !ok {
			return
		}
		out, err := call(g.callContext(r), body, r, p)
		g.writeRaw(w, r, err, reply, out)
	}
}

// rawBody checks the content type (when want is set) and reads the body
// within limit, writing the problem itself when it fails.
func (g *Gateway) rawBody(w http.ResponseWriter, r *http.Request, want string, limit int64) ([]byte, bool) {
	if want != "" {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !strings.EqualFold(mt, want) {
			writeUnsupportedMediaType(w, r, want)
			return nil, false
		}
	}
	body, err := readLimited(r, limit)
	if err != nil {
		writeError(w, r, status.Error(codes.InvalidArgument, "could not read request body"))
		return nil, false
	}
	return body, true
}

// writeRaw writes a raw success body, or err as a problem.
func (g *Gateway) writeRaw(w http.ResponseWriter, r *http.Request, err error, contentType string, body []byte) {
	if err != nil {
		g.errorHandler(r.Context(), nil, nil, w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// tokenMarshal renders the RFC 6749 section 5.1 token response.
var tokenMarshal = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

// token serves POST /oauth2/token: an RFC 6749 form, client credentials in
// the form or by HTTP Basic (section 2.3.1, not both), the answer as JSON
// with Cache-Control: no-store. Errors are problems that also carry the
// RFC 6749 "error" code, so that standard OAuth clients understand them.
func (g *Gateway) token(w http.ResponseWriter, r *http.Request, auth authv1.AuthServiceClient, limit int64) {
	body, ok := g.rawBody(w, r, MediaForm, limit)
	if !ok {
		return
	}
	oauthFail := func(httpStatus int, code, detail string, field string) {
		p := Problem{Type: problemTypePrefix + "oauth-" + strings.ReplaceAll(code, "_", "-"), Status: httpStatus, Detail: detail, OAuthError: code}
		if field != "" {
			p.Errors = []FieldError{{Field: field, Reason: detail}}
		}
		writeProblem(w, r, p, nil)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthFail(http.StatusBadRequest, "invalid_request", "the body is not a valid form", "")
		return
	}
	if bad := formViolations(form); len(bad) > 0 {
		writeProblem(w, r, Problem{Type: problemTypePrefix + "oauth-invalid-request", Status: http.StatusBadRequest,
			Detail: "form field " + bad[0].Field + " " + bad[0].Reason, OAuthError: "invalid_request", Errors: bad}, nil)
		return
	}
	for k, vs := range form {
		// RFC 6749 section 3.2: parameters must not be repeated.
		if len(vs) > 1 {
			oauthFail(http.StatusBadRequest, "invalid_request", "parameter "+k+" is repeated", k)
			return
		}
	}
	// The citizen grants of the authorization code flow, and any grant a
	// client authenticates with a private_key_jwt assertion (RFC 7523),
	// belong to auth's OpenID Provider, which answers RFC 6749 section 5.2
	// JSON errors; the gRPC path below knows only client secrets.
	if gt := form.Get("grant_type"); g.oidc != nil && (gt == "authorization_code" || gt == "refresh_token" || form.Has("client_assertion")) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		g.oidc.ServeHTTP(w, r)
		return
	}
	req := &authv1.IssueTokenRequest{
		GrantType:    form.Get("grant_type"),
		ClientId:     form.Get("client_id"),
		ClientSecret: form.Get("client_secret"),
		Scope:        form.Get("scope"),
	}
	basic := false
	if user, pass, ok := r.BasicAuth(); ok {
		if req.ClientSecret != "" {
			oauthFail(http.StatusBadRequest, "invalid_request", "use one client authentication method, not both", "client_secret")
			return
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (req.ClientId != "" && req.ClientId != id) {
			oauthFail(http.StatusBadRequest, "invalid_request", "malformed client credentials", "")
			return
		}
		if !utf8.ValidString(id) || !utf8.ValidString(secret) {
			oauthFail(http.StatusBadRequest, "invalid_request", "the Basic credentials "+reasonNotUTF8, "header.Authorization")
			return
		}
		req.ClientId, req.ClientSecret, basic = id, secret, true
	}
	if req.GrantType == "" {
		oauthFail(http.StatusBadRequest, "invalid_request", "grant_type is required", "grant_type")
		return
	}
	// The client authenticates with its own credentials here, not with a
	// bearer token, so Authorization is not forwarded.
	ctx := r.Context()
	md := metadata.MD{}
	if st := stateFrom(ctx); st != nil {
		md.Set("x-request-id", st.id)
	}
	// The caller's address, as grpc-gateway forwards it for the JSON
	// routes (the caller's own X-Forwarded-For was dropped by requestID):
	// auth throttles failed client authentications per client id and
	// source.
	md.Set("x-forwarded-for", sourceAddr(r))
	resp, err := auth.IssueToken(metadata.NewOutgoingContext(ctx, md), req)
	if err != nil {
		p, hdr := problemFromError(r, err)
		switch status.Code(err) {
		case codes.Unauthenticated:
			p.OAuthError = "invalid_client"
			hdr.Del("WWW-Authenticate")
			if basic {
				hdr.Set("WWW-Authenticate", `Basic realm="tamkeen"`)
			}
		case codes.PermissionDenied:
			p.OAuthError = "unauthorized_client"
		case codes.ResourceExhausted:
			// Throttled after failed client authentications (or argon2id
			// slots busy); Retry-After says when to come back.
			p.OAuthError = "temporarily_unavailable"
		case codes.InvalidArgument, codes.FailedPrecondition:
			p.OAuthError = "invalid_request"
			for _, v := range rpcerr.FieldViolations(err) {
				switch v.Field {
				case "grant_type":
					p.OAuthError = "unsupported_grant_type"
				case "scope":
					p.OAuthError = "invalid_scope"
				}
			}
		}
		hdr.Set("Pragma", "no-cache")
		writeProblem(w, r, p, hdr)
		return
	}
	out, err := tokenMarshal.Marshal(resp)
	if err != nil {
		writeError(w, r, status.Error(codes.Internal, "marshal token response"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
