package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/scope"
)

const webhooksUsage = `Usage:
  tamkeen webhooks list   --client ID [--api URL] [-o json]
  tamkeen webhooks create --client ID --url https://… --events payment.succeeded,… [--api URL] [-o json]
  tamkeen webhooks delete --client ID --id whe_… [--api URL]
Manages a ministry client's webhook endpoints through the API, as the client
(client credentials with webhooks:manage; the secret from --client-secret or
TAMKEEN_CLIENT_SECRET). create prints the endpoint's signing secret: it is
shown this once. docs/guides/webhooks.md lists the event types.
`

// webhooksConfig is the command line of `tamkeen webhooks`.
type webhooksConfig struct {
	API          string   `flag:"api" default:"http://127.0.0.1:8080" usage:"the gateway's base URL"`
	Client       string   `flag:"client" required:"true" usage:"the ministry client's id"`
	ClientSecret string   `flag:"client-secret" secret:"true" usage:"the client's secret"`
	ID           string   `flag:"id" usage:"the endpoint to delete"`
	URL          string   `flag:"url" usage:"the endpoint's URL (create)"`
	Events       []string `flag:"events" usage:"event types the endpoint receives, comma-separated (create)"`
	outputFlag
}

// webhookEndpointJSON is an endpoint as the API answers it.
type webhookEndpointJSON struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Events     []string `json:"events"`
	Secret     string   `json:"secret,omitempty"`
	CreateTime string   `json:"create_time"`
}

// runWebhooks runs `tamkeen webhooks list|create|delete`.
func runWebhooks(ctx context.Context, sub string, cfg webhooksConfig, _ func(string) (string, bool), stdout, _ io.Writer) error {
	if cfg.ClientSecret == "" {
		return configProblem("client-secret", "required (or TAMKEEN_CLIENT_SECRET)")
	}
	switch {
	case sub == "create" && (cfg.URL == "" || len(cfg.Events) == 0):
		return configProblem("", "create needs --url and --events")
	case sub == "delete" && cfg.ID == "":
		return configProblem("id", "delete needs the endpoint's --id")
	}
	api := webhooksAPI{base: strings.TrimRight(cfg.API, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	var err error
	if api.token, err = api.clientToken(ctx, cfg.Client, cfg.ClientSecret); err != nil {
		return err
	}
	switch sub {
	case "list":
		var out struct {
			WebhookEndpoints []webhookEndpointJSON `json:"webhook_endpoints"`
		}
		if err := api.do(ctx, http.MethodGet, "/v1/webhook-endpoints", nil, &out); err != nil {
			return err
		}
		if out.WebhookEndpoints == nil {
			out.WebhookEndpoints = []webhookEndpointJSON{}
		}
		return webhooksListing.print(stdout, cfg.asJSON(), out.WebhookEndpoints)
	case "create":
		var e webhookEndpointJSON
		if err := api.do(ctx, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": cfg.URL, "events": cfg.Events}, &e); err != nil {
			return err
		}
		if cfg.asJSON() {
			return writeJSON(stdout, e)
		}
		fmt.Fprintf(stdout, "created %s for %s (%s)\nsecret: %s\nThe secret is shown this once: store it now.\n", e.ID, e.URL, strings.Join(e.Events, ","), e.Secret)
		return nil
	default: // delete
		if err := api.do(ctx, http.MethodDelete, "/v1/webhook-endpoints/"+url.PathEscape(cfg.ID), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s\n", cfg.ID)
		return nil
	}
}

// webhooksListing is how `tamkeen webhooks list` prints endpoints.
var webhooksListing = listing[webhookEndpointJSON]{
	header: []string{"ID", "URL", "EVENTS", "CREATED"},
	row: func(e webhookEndpointJSON) []string {
		return []string{e.ID, e.URL, strings.Join(e.Events, ","), e.CreateTime}
	},
	json: func(e webhookEndpointJSON) any { return e },
}

// webhooksAPI calls the gateway as one client.
type webhooksAPI struct {
	base, token string
	http        *http.Client
}

// clientToken gets a client-credentials token with webhooks:manage.
func (a webhooksAPI) clientToken(ctx context.Context, client, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope.WebhooksManage}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.send(req, &tok); err != nil {
		return "", fmt.Errorf("client token for %s: %w", client, err)
	}
	return tok.AccessToken, nil
}

// do sends a JSON request and decodes the answer into out (when not nil).
func (a webhooksAPI) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	return a.send(req, out)
}

// send runs req; an answer that is not 2xx is an error with the problem's
// detail.
func (a webhooksAPI) send(req *http.Request, out any) error {
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var p struct {
			Detail string `json:"detail"`
			Error  string `json:"error_description"`
		}
		_ = json.Unmarshal(raw, &p)
		msg := p.Detail
		if msg == "" {
			msg = p.Error
		}
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return errors.New("the API's answer is not the JSON expected")
	}
	return nil
}
