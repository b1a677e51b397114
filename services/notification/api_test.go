package notification

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// apiEnv is a running service with the SMPP provider on a test SMSC and
// its gRPC adapter, called with real tokens.
type apiEnv struct {
	*env
	api    *grpcServer
	iss    *issuer
	center *smsc
}

func startAPI(t *testing.T, db *store.DB, edit func(*Config)) *apiEnv {
	t.Helper()
	return startAPIWith(t, db, edit, Deps{})
}

// startAPIWith is startAPI with deps (a clock) besides the verifier.
func startAPIWith(t *testing.T, db *store.DB, edit func(*Config), deps Deps) *apiEnv {
	t.Helper()
	center := newSMSC(t)
	iss := newIssuer(t)
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.SMPP = ProviderSMPP, smppConfig(center.addr())
	cfg.EmailProvider = ProviderNone
	cfg.RetryBase = 20 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	deps.Verifier = iss.verifier(t)
	e := startService(t, db, cfg, deps)
	return &apiEnv{env: e, api: &grpcServer{svc: e.svc}, iss: iss, center: center}
}

// code is the gRPC code of err.
func code(err error) codes.Code { return status.Code(err) }

func (a *apiEnv) waitNotification(t *testing.T, ctx context.Context, id, want string) *notificationv1.Notification {
	t.Helper()
	var n *notificationv1.Notification
	waitFor(t, 10*time.Second, id+" "+want, func() bool {
		var err error
		n, err = a.api.GetNotification(ctx, &notificationv1.GetNotificationRequest{Id: id})
		return err == nil && n.GetStatus() == want
	})
	return n
}

func TestAPISMSThroughSMPP(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := startAPI(t, db, nil)
		moh := a.iss.as(t, "moh")
		other := a.iss.as(t, "mof")

		tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "vaccination", Channel: "sms", Language: "ar",
			Body: "عزيزنا ((name))، موعد تطعيم طفلكم ((child)) يوم ((date)) في ((clinic)). يرجى إحضار بطاقة التطعيم والهوية. وزارة الصحة."})
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]string{"name": "أحمد", "child": "ليلى", "date": "الأحد 12/1", "clinic": "عيادة رام الله"}

		t.Run("preview counts segments; a missing placeholder is named", func(t *testing.T) {
			p, err := a.api.PreviewTemplate(moh, &notificationv1.PreviewTemplateRequest{Id: tpl.GetId(), Personalisation: values})
			if err != nil || p.GetEncoding() != "ucs2" || p.GetSegments() != int32(MeasureSMS(p.GetBody()).Segments) || p.GetSegments() < 2 {
				t.Fatalf("preview = %v, %v; want ucs2 in 2+ segments", p, err)
			}
			_, err = a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000001", TemplateId: tpl.GetId(),
				Personalisation: map[string]string{"name": "x", "child": "y", "date": "z"}})
			fv := rpcerr.FieldViolations(err)
			if code(err) != codes.InvalidArgument || len(fv) != 1 || fv[0].Field != "personalisation" || !strings.Contains(fv[0].Reason, "((clinic))") {
				t.Fatalf("send without clinic = %v %v; want 400 naming ((clinic))", err, fv)
			}
		})

		t.Run("versions", func(t *testing.T) {
			v2, err := a.api.UpdateTemplate(moh, &notificationv1.UpdateTemplateRequest{Id: tpl.GetId(), Body: tpl.GetBody() + " ((clinic))", BaseVersion: 1})
			if err != nil || v2.GetVersion() != 2 {
				t.Fatalf("update = %v, %v; want version 2", v2, err)
			}
			if _, err := a.api.UpdateTemplate(moh, &notificationv1.UpdateTemplateRequest{Id: tpl.GetId(), Body: "stale", BaseVersion: 1}); code(err) != codes.Aborted {
				t.Fatalf("update from a stale version = %v; want Aborted", err)
			}
			v1, err := a.api.GetTemplate(moh, &notificationv1.GetTemplateRequest{Id: tpl.GetId(), Version: 1})
			if err != nil || v1.GetBody() != tpl.GetBody() {
				t.Fatalf("version 1 = %v, %v", v1, err)
			}
			if _, err := a.api.GetTemplate(other, &notificationv1.GetTemplateRequest{Id: tpl.GetId()}); code(err) != codes.NotFound {
				t.Fatalf("another client reads the template: %v; want NotFound", err)
			}
			// Nor can it change the template or send with it (issue 12:
			// every resource is checked against its owner).
			if _, err := a.api.UpdateTemplate(other, &notificationv1.UpdateTemplateRequest{Id: tpl.GetId(), Body: "hijacked", BaseVersion: 2}); code(err) != codes.NotFound {
				t.Fatalf("another client updates the template: %v; want NotFound", err)
			}
			// (Sending answers as for a template that does not exist.)
			if _, err := a.api.SendSms(other, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000009", TemplateId: tpl.GetId(), Personalisation: values}); code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "template_id: no such template") {
				t.Fatalf("another client sends with the template: %v; want InvalidArgument: template_id: no such template", err)
			}
			if _, err := a.api.PreviewTemplate(other, &notificationv1.PreviewTemplateRequest{Id: tpl.GetId(), Personalisation: values}); code(err) != codes.NotFound {
				t.Fatalf("another client previews the template: %v; want NotFound", err)
			}
			list, err := a.api.ListTemplates(moh, &notificationv1.ListTemplatesRequest{Channel: "sms"})
			if err != nil || len(list.GetTemplates()) != 1 || list.GetTemplates()[0].GetVersion() != 2 {
				t.Fatalf("list = %v, %v; want the one template at version 2", list, err)
			}
		})

		t.Run("Arabic SMS: UCS-2 parts at the SMSC, receipts make it delivered", func(t *testing.T) {
			n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000001", TemplateId: tpl.GetId(),
				Personalisation: values, Reference: "child-42"})
			if err != nil || n.GetStatus() != StatusCreated || n.GetTemplateVersion() != 2 {
				t.Fatalf("SendSms = %v, %v; want created with template version 2", n, err)
			}
			got := a.waitNotification(t, moh, n.GetId(), StatusDelivered)
			subs := a.center.got()
			if len(subs) != int(n.GetSegments()) {
				t.Fatalf("SMSC got %d parts; want %d", len(subs), n.GetSegments())
			}
			var text strings.Builder
			for _, s := range subs {
				if s.DataCoding != 0x08 {
					t.Errorf("data_coding %#x; want UCS-2", s.DataCoding)
				}
				text.WriteString(s.Text())
			}
			if text.String() != n.GetBody() || got.GetCompleteTime() == nil {
				t.Errorf("SMSC text %q; want %q", text.String(), n.GetBody())
			}
			if _, err := a.api.GetNotification(other, &notificationv1.GetNotificationRequest{Id: n.GetId()}); code(err) != codes.NotFound {
				t.Errorf("another client reads the notification: %v; want NotFound", err)
			}
			list, err := a.api.ListNotifications(moh, &notificationv1.ListNotificationsRequest{Reference: "child-42", Status: StatusDelivered})
			if err != nil || len(list.GetNotifications()) != 1 {
				t.Errorf("list by reference and status = %v, %v; want it", list, err)
			}
			day := time.Now().UTC().Format(time.DateOnly)
			usage, err := a.svc.Usage(context.Background(), "moh", day, day)
			if err != nil || len(usage) != 1 || usage[0].Messages != 1 || usage[0].Segments != int(n.GetSegments()) || usage[0].Country != "970" {
				t.Errorf("usage = %+v, %v; want 1 message of %d segments to 970", usage, err, n.GetSegments())
			}
			a.waitStatus(t, n.GetId(), StatusDelivered)
		})

		t.Run("scopes and tokens", func(t *testing.T) {
			readOnly := a.iss.as(t, "moh", scope.NotificationsRead)
			if _, err := a.api.SendSms(readOnly, &notificationv1.SendSmsRequest{}); code(err) != codes.PermissionDenied {
				t.Errorf("send with a read-only token = %v; want PermissionDenied", err)
			}
			if _, err := a.api.SendSms(context.Background(), &notificationv1.SendSmsRequest{}); code(err) != codes.Unauthenticated {
				t.Errorf("send without a token = %v; want Unauthenticated", err)
			}
		})

		t.Run("international needs permission", func(t *testing.T) {
			_, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+4930123456", TemplateId: tpl.GetId(), Personalisation: values})
			if code(err) != codes.PermissionDenied {
				t.Errorf("SMS to +49 = %v; want PermissionDenied", err)
			}
		})
	})
}

func TestSMSCRefusingConnectionsEndsInTechnicalFailure(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), func(c *Config) {
		c.SMPP.Addr = closedAddr(t)
		c.SMPP.BindWait = 30 * time.Millisecond
		c.MaxAttempts = 3
	})
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello ((name))"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000002", TemplateId: tpl.GetId(), Personalisation: map[string]string{"name": "Sara"}})
	if err != nil {
		t.Fatal(err)
	}
	a.waitNotification(t, moh, n.GetId(), StatusTechnicalFailure)
	row, err := getNotification(context.Background(), a.db, "id", n.GetId())
	if err != nil || row.Attempts != 3 || row.FailureReason != ReasonAttemptsExhausted {
		t.Fatalf("row = attempts %d reason %q (%v); want 3, %s", row.Attempts, row.FailureReason, err, ReasonAttemptsExhausted)
	}
}

func TestLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), func(c *Config) { c.RecipientHourlyLimit, c.ClientMinuteLimit = 2, 3 })
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(phone string) error {
		_, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: phone, TemplateId: tpl.GetId()})
		return err
	}
	for range 2 {
		if err := send("+970599000003"); err != nil {
			t.Fatal(err)
		}
	}
	err = send("+970599000003")
	if d, ok := rpcerr.RetryAfter(err); code(err) != codes.ResourceExhausted || !ok || d < 59*time.Minute || d > time.Hour+time.Second {
		t.Fatalf("third SMS to one number in an hour = %v (retry after %v); want ResourceExhausted, about an hour", err, d)
	}
	if err := send("+970599000004"); err != nil {
		t.Fatalf("another number = %v; want accepted", err)
	}
	err = send("+970599000005")
	if d, ok := rpcerr.RetryAfter(err); code(err) != codes.ResourceExhausted || !ok || d > time.Minute+time.Second {
		t.Fatalf("fourth SMS in a minute = %v (retry after %v); want ResourceExhausted within a minute", err, d)
	}
}

// TestCallbacksSignedAndRetried: the client verifies the signature with
// the documented recipe (HMAC-SHA256 over "<t>.<body>"), answers 500
// once, and gets the callback again.
func TestCallbacksSignedAndRetried(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		attempts int
		bodies   []string
		bad      []string
	)
	var secret string
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		// The recipe, done by hand as a ministry would.
		var ts, v1 string
		for _, p := range strings.Split(r.Header.Get("Tamkeen-Signature"), ",") {
			k, v, _ := strings.Cut(p, "=")
			if k == "t" {
				ts = v
			} else if k == "v1" {
				v1 = v
			}
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(v1)) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			bad = append(bad, r.Header.Get("Tamkeen-Signature"))
		}
		if attempts == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		bodies = append(bodies, string(body))
	}))
	t.Cleanup(client.Close)
	a := startAPI(t, storetest.SQLite(t), func(c *Config) {
		c.Callbacks, c.CallbackKey = []string{"moh=" + client.URL + "/status"}, "callback-key-for-tests"
	})
	secret = a.svc.CallbackSecret("moh")
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000006", TemplateId: tpl.GetId(), Reference: "ref-6"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the three callbacks, delivered among them", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) < 3 {
			return false
		}
		for _, b := range bodies {
			if strings.Contains(b, `"status":"delivered"`) && strings.Contains(b, n.GetId()) && strings.Contains(b, `"reference":"ref-6"`) {
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("signatures that do not verify with the recipe: %q", bad)
	}
	if len(bodies) != 3 || attempts != 4 {
		t.Errorf("client got %d callbacks in %d attempts; want created, sending, delivered with the first retried once (callbacks may arrive out of order: each carries its status and updated_at)", len(bodies), attempts)
	}
	if err := VerifyCallback(secret, SignCallback(secret, time.Now(), []byte("x")), []byte("y"), time.Now(), 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyCallback of another body = %v; want ErrBadSignature", err)
	}
}
