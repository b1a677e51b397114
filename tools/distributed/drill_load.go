package distributed

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
	"sync"
	"time"

	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// loadResult is what the drill's load saw committed on the primary.
type loadResult struct {
	mu       sync.Mutex
	payments []string // answered 201 Created
	paid     []string // seen succeeded after the checkout
	citizens []string // registrations answered 201 Created
	phones   []string // their phone numbers
}

func (r *loadResult) add(list *[]string, id string) {
	r.mu.Lock()
	*list = append(*list, id)
	r.mu.Unlock()
}

// load is the drill's traffic: workers each alternating a payment paid
// through the sandbox acquirer's checkout and a citizen registration
// (whose OTP SMS auth sends through notification).
type load struct {
	wg  sync.WaitGroup
	res *loadResult
}

func startLoad(ctx context.Context, base, secret string, workers int) *load {
	l := &load{res: &loadResult{}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := newDrillClient(base)
			for ctx.Err() == nil && c.token(ctx, secret) != nil {
				sleepCtx(ctx, 200*time.Millisecond)
			}
			for n := 0; ctx.Err() == nil; n++ {
				if n%2 == 0 {
					id, paid := c.payment(ctx, fmt.Sprintf("DR-%d-%d", w, n))
					if id != "" {
						l.res.add(&l.res.payments, id)
					}
					if paid {
						l.res.add(&l.res.paid, id)
					}
				} else if id, phone := c.register(ctx, w, n); id != "" {
					l.res.mu.Lock()
					l.res.citizens = append(l.res.citizens, id)
					l.res.phones = append(l.res.phones, phone)
					l.res.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// wait returns the result once every worker has stopped.
func (l *load) wait() *loadResult {
	l.wg.Wait()
	return l.res
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// drillClient calls the gateway as a ministry app and a citizen would.
type drillClient struct {
	base   string
	http   *http.Client
	bearer string
}

func newDrillClient(base string) *drillClient {
	return &drillClient{base: base, http: &http.Client{
		Timeout: 15 * time.Second,
		// The checkout answers 303 to the ministry's return URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// token gets the demo client's access token.
func (c *drillClient) token(ctx context.Context, secret string) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {secret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	code, err := c.send(req, &tok)
	if err != nil {
		return err
	}
	if code != http.StatusOK || tok.AccessToken == "" {
		return fmt.Errorf("token: %d", code)
	}
	c.bearer = tok.AccessToken
	return nil
}

// call sends a JSON request and decodes a 2xx JSON answer into out.
func (c *drillClient) call(ctx context.Context, method, path string, headers map[string]string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.send(req, out)
}

func (c *drillClient) send(req *http.Request, out any) (int, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp.StatusCode, nil
}

// payment creates a payment (id is set once it is answered 201, i.e.
// committed), pays it on the sandbox checkout and waits up to 10 s for it
// to succeed (paid).
func (c *drillClient) payment(ctx context.Context, ref string) (id string, paid bool) {
	var created struct {
		ID      string `json:"id"`
		NextURL string `json:"next_url"`
	}
	body := map[string]any{
		"amount": "1500", "currency": "ILS", "reference": ref, "description": "DR drill",
		"return_url": "https://moh.example.ps/done",
		"splits":     []map[string]string{{"account": "dept:land-registry", "amount": "1500"}},
	}
	code, err := c.call(ctx, http.MethodPost, "/v1/payments", map[string]string{"Idempotency-Key": "dr-" + ref}, body, &created)
	if err != nil || code != http.StatusCreated || created.ID == "" {
		return "", false
	}
	form := url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, created.NextURL, strings.NewReader(form.Encode()))
	if err != nil {
		return created.ID, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, err := c.send(req, nil); err != nil || code != http.StatusSeeOther {
		return created.ID, false
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; sleepCtx(ctx, 50*time.Millisecond) {
		var got struct {
			State string `json:"state"`
		}
		if code, err := c.call(ctx, http.MethodGet, "/v1/payments/"+created.ID, nil, nil, &got); err == nil && code == http.StatusOK && got.State == "succeeded" {
			return created.ID, true
		}
	}
	return created.ID, false
}

// drillPassword is the load's citizens' password.
const drillPassword = "zaytoun-tree-1948"

// register registers citizen n of worker w; it returns the citizen id
// and phone number when answered 201.
func (c *drillClient) register(ctx context.Context, w, n int) (id, phone string) {
	var reg struct {
		CitizenID string `json:"citizen_id"`
	}
	phone = fmt.Sprintf("+97059%d%06d", w%10, n)
	code, err := c.call(ctx, http.MethodPost, "/v1/citizens", nil, map[string]string{
		"national_id": luhnID(fmt.Sprintf("8%d%06d", w%10, n)), "phone_number": phone,
		"password": drillPassword, "given_name": "ليلى", "family_name": "Haddad",
	}, &reg)
	if err != nil || code != http.StatusCreated {
		return "", ""
	}
	return reg.CitizenID, phone
}

// luhnID completes 8 digits with the check digit of a Palestinian ID.
func luhnID(first8 string) string {
	sum := 0
	for i, r := range first8 {
		d := int(r - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return first8 + string(rune('0'+(10-sum%10)%10))
}

// firstPayment makes payments on the DR side until one succeeds (up to
// 2 minutes): a client token, a payment, its checkout, its webhook.
func firstPayment(ctx context.Context, base, secret string) error {
	c := newDrillClient(base)
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; ; i++ {
		err := c.token(ctx, secret)
		if err == nil {
			if id, paid := c.payment(ctx, fmt.Sprintf("DR-AFTER-%d", i)); paid {
				return nil
			} else if id == "" {
				err = errors.New("payment not created")
			} else {
				err = fmt.Errorf("payment %s not succeeded", id)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}
