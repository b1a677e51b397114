package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/gateway"
)

func TestRawRoutesPassBytesThrough(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	// Every byte value, including ones invalid in UTF-8 and JSON.
	der := make([]byte, 256)
	for i := range der {
		der[i] = byte(i)
	}
	tests := []struct {
		name, method, path, ct string
		body                   []byte
		wantCT                 string
		want                   []byte
	}{
		{name: "tsa echo", method: http.MethodPost, path: "/tsa", ct: gateway.MediaTimestampQuery, body: der, wantCT: gateway.MediaTimestampReply, want: der},
		{name: "ocsp echo", method: http.MethodPost, path: "/v1/signing/ocsp", ct: gateway.MediaOCSPRequest, body: der, wantCT: gateway.MediaOCSPResponse, want: der},
		{name: "ca chain", method: http.MethodGet, path: "/v1/signing/ca", wantCT: gateway.MediaPEMChain, want: []byte(testPEM)},
		{name: "crl", method: http.MethodGet, path: "/v1/signing/crl", wantCT: gateway.MediaPKIXCRL, want: testCRL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.ct != "" {
				hdr["Content-Type"] = tt.ct
			}
			resp, body := s.do(t, tt.method, tt.path, bytes.NewReader(tt.body), hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d; want 200 (body %q)", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type = %q; want %q", got, tt.wantCT)
			}
			if !bytes.Equal(body, tt.want) {
				t.Errorf("body = %x; want %x", body, tt.want)
			}
		})
	}
}

func TestRawRoutesCheckMediaType(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	resp, body := s.do(t, http.MethodPost, "/tsa", strings.NewReader(`{"query":"AA=="}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status = %d; want 415", resp.StatusCode)
	}
	problem(t, resp, body)
}

func TestSignedCallbacksKeepExactBytes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	// Whitespace and key order matter to an HMAC: they must survive.
	payload := []byte("{ \"b\":1,\n  \"a\" : \"\u00e9\" }\r\n")
	for _, path := range []string{"/v1/payments/providers/sandbox/webhook", "/v1/notifications/providers/httpsms/receipts"} {
		resp, body := s.do(t, http.MethodPost, path, bytes.NewReader(payload),
			map[string]string{"Content-Type": "application/json", gateway.SignatureHeader: "t=1,v1=abc"})
		if resp.StatusCode != 200 {
			t.Fatalf("%s status = %d; want 200 (body %s)", path, resp.StatusCode, body)
		}
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if w := s.rec.webhook; w.GetProvider() != "sandbox" || !bytes.Equal(w.GetPayload(), payload) || w.GetSignature() != "t=1,v1=abc" {
		t.Errorf("webhook = provider %q payload %q signature %q; want sandbox, the exact bytes, t=1,v1=abc", w.GetProvider(), w.GetPayload(), w.GetSignature())
	}
	if r := s.rec.receipt; r.GetProvider() != "httpsms" || !bytes.Equal(r.GetPayload(), payload) || r.GetSignature() != "t=1,v1=abc" {
		t.Errorf("receipt = provider %q payload %q signature %q; want httpsms, the exact bytes, t=1,v1=abc", r.GetProvider(), r.GetPayload(), r.GetSignature())
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		ct         string
		basic      [2]string
		serviceErr error
		want       int
		wantReq    [4]string // grant_type, client_id, client_secret, scope
		wantOAuth  string
	}{
		{name: "form credentials", body: "grant_type=client_credentials&client_id=moh-app&client_secret=s%26cret&scope=notify+pay",
			want: 200, wantReq: [4]string{"client_credentials", "moh-app", "s&cret", "notify pay"}},
		{name: "basic credentials", body: "grant_type=client_credentials", basic: [2]string{"moh%3Aapp", "p%40ss"},
			want: 200, wantReq: [4]string{"client_credentials", "moh:app", "p@ss", ""}},
		{name: "both methods", body: "grant_type=client_credentials&client_secret=x", basic: [2]string{"a", "b"}, want: 400, wantOAuth: "invalid_request"},
		{name: "missing grant type", body: "client_id=a", want: 400, wantOAuth: "invalid_request"},
		{name: "repeated parameter", body: "grant_type=a&grant_type=b", want: 400, wantOAuth: "invalid_request"},
		{name: "JSON is refused", body: `{"grant_type":"client_credentials"}`, ct: "application/json", want: 415},
		{name: "bad client", body: "grant_type=client_credentials&client_id=a&client_secret=b",
			serviceErr: status.Error(codes.Unauthenticated, "unknown client"), want: 401, wantOAuth: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, stackOpts{noNATS: true})
			s.rec.tokenErr = tt.serviceErr
			ct := tt.ct
			if ct == "" {
				ct = gateway.MediaForm
			}
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/oauth2/token", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer must-not-be-forwarded")
			if tt.basic[0] != "" {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, buf.Bytes())
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if tt.want != 200 {
				p := problem(t, resp, buf.Bytes())
				if p.OAuthError != tt.wantOAuth {
					t.Errorf("error = %q; want %q", p.OAuthError, tt.wantOAuth)
				}
				return
			}
			var tok map[string]any
			if err := json.Unmarshal(buf.Bytes(), &tok); err != nil {
				t.Fatalf("token body %s: %v", buf.Bytes(), err)
			}
			if tok["access_token"] != "at" || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(300) {
				t.Errorf("token = %v; want access_token, token_type and numeric expires_in", tok)
			}
			s.rec.mu.Lock()
			defer s.rec.mu.Unlock()
			r := s.rec.issueToken
			got := [4]string{r.GetGrantType(), r.GetClientId(), r.GetClientSecret(), r.GetScope()}
			if got != tt.wantReq {
				t.Errorf("IssueToken got %q; want %q", got, tt.wantReq)
			}
			if a := s.rec.issueTokMD.Get("authorization"); len(a) != 0 {
				t.Errorf("Authorization forwarded to IssueToken: %v", a)
			}
		})
	}
}
