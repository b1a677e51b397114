package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamkeen/tamkeen/services/auth"
)

// loadScenario is one `tamkeen load` scenario: setup prepares what its
// operations need (tokens, citizens, a published page) through the same
// API and returns the operation, and what to undo afterwards.
type loadScenario struct {
	setup func(ctx context.Context, env *loadEnv) (op, func(), error)
	// needsSecret: the scenario authenticates as the ministry app.
	needsSecret bool
	// http: the scenario talks to --base-url.
	http bool
}

// loadScenarios are the scenarios by name (loadUsage describes them).
var loadScenarios = map[string]loadScenario{
	"token":             {setup: setupToken, needsSecret: true, http: true},
	"login":             {setup: setupLogin, needsSecret: true, http: true},
	"read":              {setup: setupRead, needsSecret: true, http: true},
	"payment":           {setup: setupPayment, needsSecret: true, http: true},
	"payment-confirm":   {setup: setupPaymentConfirm, needsSecret: true, http: true},
	"sms":               {setup: setupSMS, needsSecret: true, http: true},
	"bulk":              {setup: setupBulk, needsSecret: true, http: true},
	"public-read":       {setup: onPublishedPage(publicReadOp), needsSecret: true, http: true},
	"search":            {setup: onPublishedPage(searchOp), needsSecret: true, http: true},
	"mixed":             {setup: setupMixed, needsSecret: true, http: true},
	"ref-healthz":       {setup: setupRefHealthz, http: true},
	"ref-sqlite-commit": {setup: setupRefSQLiteCommit},
	"ref-argon2id":      {setup: setupRefArgon2id},
	"ref-grpc-read":     {setup: setupRefGRPCRead, needsSecret: true, http: true},
}

// loadScenarioNames are the scenarios, sorted (completion offers them).
func loadScenarioNames() []string {
	names := make([]string, 0, len(loadScenarios))
	for n := range loadScenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// loadEnv is what a scenario's setup works with: the settings, an HTTP
// client, and the app's token (fetched once, renewed before it expires).
type loadEnv struct {
	cfg    loadConfig
	client *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// apiError is an answer the setup did not expect.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s = %d: %.300s", e.method, e.path, e.status, e.body)
}

// appToken returns a client-credentials token of the ministry app, a
// new one when the last is a minute from expiring.
func (e *loadEnv) appToken(ctx context.Context, c *http.Client) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token != "" && time.Until(e.expires) > time.Minute {
		return e.token, nil
	}
	resp, raw, err := tokenRequest(ctx, c, e.cfg)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &apiError{"POST", "/oauth2/token", resp.StatusCode, string(raw)}
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token answer without access_token: %.200s", raw)
	}
	e.token, e.expires = body.AccessToken, time.Now().Add(time.Duration(body.ExpiresIn)*time.Second)
	return e.token, nil
}

// tokenRequest asks /oauth2/token for a client-credentials token.
func tokenRequest(ctx context.Context, c *http.Client, cfg loadConfig) (*http.Response, []byte, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.BaseURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(c, req)
}

// send does req and reads the whole answer (so that the connection is
// reused).
func send(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

// call sends a JSON request (body nil: none) with the bearer token and
// extra headers (name, value pairs).
func (e *loadEnv) call(ctx context.Context, c *http.Client, method, path, token string, body any, headers ...string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.cfg.BaseURL+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(c, req)
}

// must is call for the setup: an answer other than want (0: any 2xx) is
// an error, and the answer is decoded into out (when not nil).
func (e *loadEnv) must(ctx context.Context, want int, method, path, token string, body, out any) error {
	resp, raw, err := e.call(ctx, e.client, method, path, token, body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want && (want != 0 || resp.StatusCode/100 != 2) {
		return &apiError{method, path, resp.StatusCode, string(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return nil
}

// opCall is an operation's request: the outcome is the status, ok when
// it is one of want.
// appCall is opCall with the ministry app's token (a failure to get one
// is a transport failure, as the token endpoint is part of the call).
func (e *loadEnv) appCall(ctx context.Context, w *worker, method, path string, body any, want ...int) outcome {
	app, err := e.appToken(ctx, w.client)
	if err != nil {
		return transportFailure
	}
	return e.opCall(ctx, w, method, path, app, body, want...)
}

func (e *loadEnv) opCall(ctx context.Context, w *worker, method, path, token string, body any, want ...int) outcome {
	resp, _, err := e.call(ctx, w.client, method, path, token, body)
	if err != nil {
		return transportFailure
	}
	return httpOutcome(resp.StatusCode, want...)
}

// setupToken prepares nothing: the token request is the operation, and
// a refused secret shows as 401s in the table.
func setupToken(_ context.Context, env *loadEnv) (op, func(), error) {
	return func(ctx context.Context, w *worker) outcome {
		resp, _, err := tokenRequest(ctx, w.client, env.cfg)
		if err != nil {
			return transportFailure
		}
		return httpOutcome(resp.StatusCode, http.StatusOK)
	}, nil, nil
}

// randomFrom returns n characters drawn at random from alphabet.
func randomFrom(alphabet string, n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[d.Int64()])
	}
	return b.String()
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string { return randomFrom("0123456789", n) }

// randomWord returns n random lower-case letters.
func randomWord(n int) string { return randomFrom("abcdefghijklmnopqrstuvwxyz", n) }

// citizen is a registered citizen the load signs in as.
type citizen struct {
	nationalID, password string
}

// registerCitizen signs a new citizen up (random national ID and mobile
// number; a taken one is tried again with another).
func (e *loadEnv) registerCitizen(ctx context.Context) (citizen, error) {
	pw := make([]byte, 18)
	if _, err := rand.Read(pw); err != nil {
		return citizen{}, err
	}
	c := citizen{password: "load-" + base64.RawURLEncoding.EncodeToString(pw)}
	var last error
	for range 5 {
		c.nationalID = auth.CompleteNationalID("4" + randomDigits(7))
		err := e.must(ctx, http.StatusCreated, "POST", "/v1/citizens", "", map[string]string{
			"national_id": c.nationalID, "phone_number": "+97059" + randomDigits(7), "password": c.password,
			"given_name": "Load", "family_name": "Test",
		}, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusConflict {
			last = err
			continue
		}
		return c, err
	}
	return citizen{}, last
}

// loginCitizen logs c in through the app and returns its access token.
func (e *loadEnv) loginCitizen(ctx context.Context, c citizen) (string, error) {
	app, err := e.appToken(ctx, e.client)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := e.must(ctx, http.StatusOK, "POST", "/v1/auth/login", app, map[string]string{"national_id": c.nationalID, "password": c.password}, &tok); err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// loginCitizens is how many citizens the login scenario signs up: logins
// of one citizen are spread over this many accounts.
const loginCitizens = 8

func setupLogin(ctx context.Context, env *loadEnv) (op, func(), error) {
	if _, err := env.appToken(ctx, env.client); err != nil {
		return nil, nil, err
	}
	citizens := make([]citizen, 0, loginCitizens)
	for range loginCitizens {
		c, err := env.registerCitizen(ctx)
		if err != nil {
			return nil, nil, err
		}
		citizens = append(citizens, c)
	}
	return func(ctx context.Context, w *worker) outcome {
		c := citizens[w.next()%len(citizens)]
		return env.appCall(ctx, w, "POST", "/v1/auth/login", map[string]string{"national_id": c.nationalID, "password": c.password}, http.StatusOK)
	}, nil, nil
}

// paymentBody is a fee payment as a ministry creates it: one unique
// reference, split between two departments.
func paymentBody(ref string) map[string]any {
	return map[string]any{
		"amount": "15050", "currency": "ILS", "reference": ref, "description": "رسوم رخصة بناء",
		"return_url": "https://mol.example.ps/done",
		"splits":     []map[string]any{{"account": "dept:land-registry", "amount": "10000"}, {"account": "dept:municipality", "amount": "5050"}},
	}
}

// runID tells this run's references and keys apart from other runs'.
var runID = randomWord(6)

// createPayment creates one payment with a fresh Idempotency-Key.
func (e *loadEnv) createPayment(ctx context.Context, c *http.Client, n int) (*http.Response, []byte, error) {
	app, err := e.appToken(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	ref := fmt.Sprintf("LOAD-%s-%d", runID, n)
	return e.call(ctx, c, "POST", "/v1/payments", app, paymentBody(ref), "Idempotency-Key", ref)
}

func setupPayment(ctx context.Context, env *loadEnv) (op, func(), error) {
	if _, err := env.appToken(ctx, env.client); err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, w *worker) outcome {
		resp, _, err := env.createPayment(ctx, w.client, w.next())
		if err != nil {
			return transportFailure
		}
		return httpOutcome(resp.StatusCode, http.StatusCreated)
	}, nil, nil
}

func setupPaymentConfirm(ctx context.Context, env *loadEnv) (op, func(), error) {
	if _, err := env.appToken(ctx, env.client); err != nil {
		return nil, nil, err
	}
	card := url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}.Encode()
	return func(ctx context.Context, w *worker) outcome {
		resp, raw, err := env.createPayment(ctx, w.client, w.next())
		if err != nil {
			return transportFailure
		}
		if resp.StatusCode != http.StatusCreated {
			return httpOutcome(resp.StatusCode)
		}
		var p struct {
			NextURL string `json:"next_url"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.NextURL == "" {
			return outcome{status: "no next_url"}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.NextURL, strings.NewReader(card))
		if err != nil {
			return transportFailure
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _, err = send(w.client, req)
		if err != nil {
			return transportFailure
		}
		// Paid: the checkout sends the citizen back to the return URL.
		return httpOutcome(resp.StatusCode, http.StatusSeeOther)
	}, nil, nil
}

// readPayment creates the payment the read scenarios read and returns
// its id.
func (e *loadEnv) readPayment(ctx context.Context) (string, error) {
	resp, raw, err := e.createPayment(ctx, e.client, 0)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", &apiError{"POST", "/v1/payments", resp.StatusCode, string(raw)}
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
		return "", fmt.Errorf("payment answer without id: %.200s", raw)
	}
	return p.ID, nil
}

func setupRead(ctx context.Context, env *loadEnv) (op, func(), error) {
	id, err := env.readPayment(ctx)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, w *worker) outcome {
		return env.appCall(ctx, w, "GET", "/v1/payments/"+url.PathEscape(id), nil, http.StatusOK)
	}, nil, nil
}

// smsTemplate creates the appointment reminder the SMS scenarios send
// (GSM-7, one segment) and returns its id.
func (e *loadEnv) smsTemplate(ctx context.Context) (string, error) {
	app, err := e.appToken(ctx, e.client)
	if err != nil {
		return "", err
	}
	var tpl struct {
		ID string `json:"id"`
	}
	err = e.must(ctx, 0, "POST", "/v1/templates", app, map[string]string{
		"name": "load-" + runID + "-" + randomWord(4), "channel": "sms", "language": "en",
		"body": "Your vaccination appointment is on ((date)) at the Ramallah clinic. Ministry of Health.",
	}, &tpl)
	if err == nil && tpl.ID == "" {
		err = errors.New("template answer without id")
	}
	return tpl.ID, err
}

// phones counts the mobile numbers this run has used.
var phones atomic.Int64

// nextPhoneNumber is a mobile number this run has not used yet (each
// number may get only a few SMS an hour): 10 million before they repeat.
func nextPhoneNumber() string {
	return fmt.Sprintf("+97059%07d", (int64(runSeed)+phones.Add(1))%10_000_000)
}

// runSeed starts this run's phone numbers somewhere new.
var runSeed = func() int {
	n, _ := rand.Int(rand.Reader, big.NewInt(10_000_000))
	return int(n.Int64())
}()

func setupSMS(ctx context.Context, env *loadEnv) (op, func(), error) {
	tpl, err := env.smsTemplate(ctx)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, w *worker) outcome {
		return env.appCall(ctx, w, "POST", "/v1/notifications/sms", map[string]any{
			"phone_number": nextPhoneNumber(), "template_id": tpl, "personalisation": map[string]string{"date": "Sunday"},
		}, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	}, nil, nil
}

func setupBulk(ctx context.Context, env *loadEnv) (op, func(), error) {
	tpl, err := env.smsTemplate(ctx)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, w *worker) outcome {
		app, err := env.appToken(ctx, w.client)
		if err != nil {
			return transportFailure
		}
		recipients := make([]map[string]any, env.cfg.BulkSize)
		for i := range recipients {
			recipients[i] = map[string]any{"recipient": nextPhoneNumber(), "personalisation": map[string]string{"date": "Sunday"}}
		}
		resp, raw, err := env.call(ctx, w.client, "POST", "/v1/notifications/bulk", app, map[string]any{
			"template_id": tpl, "channel": "sms", "recipients": recipients, "reference": "load-" + runID,
		})
		if err != nil {
			return transportFailure
		}
		if resp.StatusCode >= 300 {
			return httpOutcome(resp.StatusCode)
		}
		var job bulkJob
		if err := json.Unmarshal(raw, &job); err != nil || job.ID == "" {
			return outcome{status: "no job id"}
		}
		// The job's time is until every message is handed to the SMS
		// provider (sent) or has failed.
		for job.Status != "finished" {
			select {
			case <-ctx.Done():
				return outcome{status: "unfinished"}
			case <-time.After(100 * time.Millisecond):
			}
			if resp, raw, err = env.call(ctx, w.client, "GET", "/v1/notifications/bulk/"+url.PathEscape(job.ID), app, nil); err != nil {
				return transportFailure
			}
			if resp.StatusCode != http.StatusOK {
				return httpOutcome(resp.StatusCode)
			}
			if err := json.Unmarshal(raw, &job); err != nil {
				return outcome{status: "bad job answer"}
			}
		}
		if job.Failed > 0 {
			return outcome{status: "finished with failures", items: job.Sent}
		}
		return outcome{status: "finished", ok: true, items: job.Sent}
	}, nil, nil
}

// bulkJob is the part of a bulk job's progress the load reads.
type bulkJob struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Total  int    `json:"total"`
	Sent   int    `json:"sent"`
	Failed int    `json:"failed"`
}

// publishedPage is a content page the public scenarios read and search.
type publishedPage struct {
	slug, word string
}

// publishPage publishes a new service page through the editorial
// workflow: a citizen on the ministry's staff writes and submits it, the
// ministry's app approves and publishes it (two pairs of eyes).
func (e *loadEnv) publishPage(ctx context.Context) (publishedPage, error) {
	const ministry = "moh"
	app, err := e.appToken(ctx, e.client)
	if err != nil {
		return publishedPage{}, err
	}
	staff, err := e.registerCitizen(ctx)
	if err != nil {
		return publishedPage{}, err
	}
	staffToken, err := e.loginCitizen(ctx, staff)
	if err != nil {
		return publishedPage{}, err
	}
	sub, err := tokenSubject(staffToken)
	if err != nil {
		return publishedPage{}, err
	}
	grant := func(subject, role string) error {
		return e.must(ctx, http.StatusOK, "POST", "/v1/content/ministries/"+ministry+"/roles", app, map[string]string{"subject": subject, "role": role}, nil)
	}
	if err := grant(sub, "author"); err != nil {
		return publishedPage{}, err
	}
	for _, r := range []string{"editor", "publisher"} {
		if err := grant(e.cfg.ClientID, r); err != nil {
			return publishedPage{}, err
		}
	}
	page := publishedPage{slug: "load-" + runID, word: "zq" + runID}
	item := map[string]any{
		"type": "service", "ministry": ministry, "tags": []string{"load-test"},
		"translations": map[string]any{
			"en": map[string]any{
				"slug": page.slug, "title": "Renew a building licence " + page.word, "summary": "Renew a building licence online.",
				"eligibility": "Every **licence holder**.", "required_documents": []string{"ID card", "The licence"},
				"steps": []string{"Apply", "Pay the fee"}, "fees": []map[string]any{{"description": "Renewal fee", "amount": 5000, "currency": "ILS"}},
			},
			"ar": map[string]any{
				"slug": "تجديد-رخصة-" + runID, "title": "تجديد رخصة بناء", "summary": "جدّد رخصة البناء إلكترونياً.",
				"eligibility": "كل **حامل رخصة**.", "required_documents": []string{"الهوية"}, "steps": []string{"قدّم الطلب"},
			},
		},
	}
	var it struct {
		ID string `json:"id"`
	}
	if err := e.must(ctx, http.StatusCreated, "POST", "/v1/content/items", staffToken, item, &it); err != nil {
		return publishedPage{}, err
	}
	for _, step := range []struct{ token, action string }{{staffToken, "submit"}, {app, "approve"}, {app, "publish"}} {
		if err := e.must(ctx, http.StatusOK, "POST", "/v1/content/items/"+url.PathEscape(it.ID)+":"+step.action, step.token, map[string]string{}, nil); err != nil {
			return publishedPage{}, err
		}
	}
	return page, nil
}

// tokenSubject is the sub claim of a JWT (read, not verified: it is our
// own token, for the role grant).
func tokenSubject(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("the access token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("access token payload: %w", err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub == "" {
		return "", errors.New("access token without sub")
	}
	return claims.Sub, nil
}

// onPublishedPage is the setup of a scenario that reads a page: it
// publishes one and makes the operation with mk.
func onPublishedPage(mk func(*loadEnv, publishedPage) op) func(context.Context, *loadEnv) (op, func(), error) {
	return func(ctx context.Context, env *loadEnv) (op, func(), error) {
		page, err := env.publishPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		return mk(env, page), nil, nil
	}
}

func publicReadOp(env *loadEnv, page publishedPage) op {
	path := "/v1/public/content/" + url.PathEscape(page.slug) + "?lang=en"
	return func(ctx context.Context, w *worker) outcome {
		return env.opCall(ctx, w, "GET", path, "", nil, http.StatusOK)
	}
}

func searchOp(env *loadEnv, page publishedPage) op {
	path := "/v1/public/search?lang=en&q=" + url.QueryEscape("building licence "+page.word)
	return func(ctx context.Context, w *worker) outcome {
		return env.opCall(ctx, w, "GET", path, "", nil, http.StatusOK)
	}
}

// mixWeights is the mixed scenario's share of each operation, in
// twentieths: mostly reads, as a portal's day is.
var mixWeights = []struct {
	name   string
	weight int
}{{"read", 8}, {"public-read", 5}, {"payment", 2}, {"sms", 2}, {"search", 2}, {"token", 1}}

func setupMixed(ctx context.Context, env *loadEnv) (op, func(), error) {
	page, err := env.publishPage(ctx)
	if err != nil {
		return nil, nil, err
	}
	ops := map[string]op{"public-read": publicReadOp(env, page), "search": searchOp(env, page)}
	for name, setup := range map[string]func(context.Context, *loadEnv) (op, func(), error){
		"read": setupRead, "payment": setupPayment, "sms": setupSMS, "token": setupToken,
	} {
		o, _, err := setup(ctx, env)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		ops[name] = o
	}
	var wheel []op
	for _, m := range mixWeights {
		for range m.weight {
			wheel = append(wheel, ops[m.name])
		}
	}
	var turn atomic.Uint64
	return func(ctx context.Context, w *worker) outcome {
		return wheel[(turn.Add(1)-1)%uint64(len(wheel))](ctx, w)
	}, nil, nil
}
