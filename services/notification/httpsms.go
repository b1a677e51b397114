package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// HTTPSMSConfig configures the generic HTTP SMS provider (flags
// --http-sms-…, variables TAMKEEN_HTTP_SMS_…).
//
// Each SMS is POSTed to URL as JSON
//
//	{"to": "+970599000001", "text": "…", "reference": "ntf_…", "encoding": "ucs2", "segments": 2}
//
// with the configured Authorization header and Idempotency-Key: the
// reference, which stays the same on every attempt of one message. The
// gateway must accept a repeated key as the same message (send it once,
// answer the first id): the provider is an IdempotentSMSProvider, so a
// submit interrupted after the request went out (the connection cut, the
// answer timed out, a restart between sending and recording) is sent
// again, not failed. A 2xx answer {"id": "<provider id>"} accepts it; 4xx
// (but 408 and 429) refuses it for good; anything else is retried. Receipts come
// back as POST /v1/notifications/providers/http/receipts with the body
// {"id": "<provider id>", "status": "delivered|undeliverable|expired|rejected"}
// and the header Tamkeen-Signature: t=<unix>,v1=<hex HMAC-SHA256(receipt
// secret, "<t>.<body>")> (the status callback recipe).
type HTTPSMSConfig struct {
	URL           string        `flag:"url" usage:"HTTP SMS gateway endpoint (https://…)"`
	Authorization string        `flag:"authorization" secret:"true" usage:"Authorization header value sent to the gateway, e.g. Bearer …"`
	ReceiptSecret string        `flag:"receipt-secret" secret:"true" usage:"shared secret the gateway signs delivery receipts with (16 bytes or more)"`
	Timeout       time.Duration `flag:"timeout" default:"10s" usage:"HTTP SMS request timeout"`
}

func (c HTTPSMSConfig) validate(p *config.Problems) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.Add("http-sms-url", "required with --sms-provider=http: the gateway's http(s) URL")
	}
	if len(c.ReceiptSecret) < 16 {
		p.Add("http-sms-receipt-secret", "at least 16 bytes are required to verify receipts")
	}
	if c.Timeout <= 0 {
		p.Add("http-sms-timeout", "must be positive")
	}
}

// HTTPSMSProvider sends SMS through a generic HTTP gateway.
type HTTPSMSProvider struct {
	cfg    HTTPSMSConfig
	client *http.Client
}

// NewHTTPSMSProvider returns the provider; client may be nil.
func NewHTTPSMSProvider(cfg HTTPSMSConfig, client *http.Client) *HTTPSMSProvider {
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPSMSProvider{cfg: cfg, client: client}
}

// Name is "http".
func (p *HTTPSMSProvider) Name() string { return ProviderHTTP }

// IdempotentByReference is true: every call carries the message's
// reference as its Idempotency-Key, which the gateway deduplicates by (see
// HTTPSMSConfig), so the lanes retry a submit whose answer was lost.
func (p *HTTPSMSProvider) IdempotentByReference() bool { return true }

// SendSMS posts m.
func (p *HTTPSMSProvider) SendSMS(ctx context.Context, m SMS) (string, error) {
	body, err := json.Marshal(map[string]any{"to": m.To, "text": m.Body, "reference": m.Reference,
		"encoding": string(m.Encoding), "segments": m.Segments})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPermanentSend, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Reference)
	if p.cfg.Authorization != "" {
		req.Header.Set("Authorization", p.cfg.Authorization)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if mayHaveBeenSent(err) {
			// Sent, perhaps, and no answer: the lanes send it again with
			// the same Idempotency-Key (IdempotentByReference).
			return "", fmt.Errorf("%w: HTTP SMS gateway: %w", ErrOutcomeUnknown, err)
		}
		return "", fmt.Errorf("notification: HTTP SMS gateway: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		var out struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || !validReceiptID(out.ID) {
			return "", fmt.Errorf("%w: HTTP SMS gateway accepted without a usable id", ErrOutcomeUnknown)
		}
		return out.ID, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return "", fmt.Errorf("%w: HTTP SMS gateway answered %d", ErrPermanentSend, resp.StatusCode)
	}
	return "", fmt.Errorf("notification: HTTP SMS gateway answered %d", resp.StatusCode)
}

// mayHaveBeenSent reports whether a failed HTTP call may have reached the
// gateway: anything but a failure to connect (the request went out, and
// the connection was cut or the answer timed out) or a cancelled context.
func mayHaveBeenSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return !errors.Is(err, context.Canceled)
}

// httpReceiptStates maps the receipt body's status to receipt states.
func httpReceiptState(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "delivered", "delivrd":
		return ReceiptDelivered, true
	case "undeliverable", "undeliv", "failed":
		return ReceiptUndeliverable, true
	case "expired":
		return ReceiptExpired, true
	case "rejected", "rejectd":
		return ReceiptRejected, true
	case "enroute", "accepted", "sent":
		return ReceiptEnroute, true
	}
	return "", false
}

// ReceiveHTTPReceipt verifies and applies a receipt the HTTP SMS gateway
// posted to the gateway's receipt route.
func (s *Service) ReceiveHTTPReceipt(ctx context.Context, provider string, payload []byte, signature string) error {
	if provider != ProviderHTTP || s.cfg.SMSProvider != ProviderHTTP {
		return fmt.Errorf("provider %q: %w", provider, rpcerr.ErrNotFound)
	}
	if len(payload) > 64<<10 {
		return &rpcerr.FieldError{Field: "payload", Reason: "larger than 64 KiB", Code: "payload.too_large", Args: rpcerr.ArgList("64")}
	}
	if err := VerifyCallback(s.cfg.HTTPSMS.ReceiptSecret, signature, payload, s.Now(), 0); err != nil {
		return err
	}
	var body struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return &rpcerr.FieldError{Field: "payload", Reason: "not a JSON receipt", Code: "payload.format"}
	}
	state, ok := httpReceiptState(body.Status)
	if !validReceiptID(body.ID) || !ok {
		return &rpcerr.FieldError{Field: "payload", Reason: "needs an id and a known status", Code: "payload.incomplete"}
	}
	return s.applyReceipt(ctx, ProviderHTTP, Receipt{MessageID: body.ID, State: state})
}
