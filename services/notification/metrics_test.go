package notification

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// gathered reads every sample of the families named prefix* from reg, by
// family and then by labels written "k=v,k=v" (sorted).
func gathered(t *testing.T, reg prometheus.Gatherer, prefix string) map[string]map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		out[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			v := m.GetCounter().GetValue()
			if m.GetGauge() != nil {
				v = m.GetGauge().GetValue()
			}
			out[f.GetName()][strings.Join(ls, ",")] = v
		}
	}
	return out
}

// nonZero drops the samples at 0.
func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestMetrics runs the service with SMPP to the independent test SMSC
// (through a proxy that can cut the link; receipts on, the first two
// submits throttled) and SMTP to a real SMTP server, sends an API SMS of
// two segments, a bulk job of three, an OTP command and one that arrived
// expired, and an e-mail; then cuts the SMPP link. The registry then
// holds exactly the counts of that traffic under closed label values.
func TestMetrics(t *testing.T) {
	t.Parallel()
	center := newSMSC(t)
	center.throttle = 2
	px := newProxy(t, center.addr())
	ms := newMailServer(t)
	host, port, _ := net.SplitHostPort(ms.addr)
	iss := newIssuer(t)
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.SMPP = ProviderSMPP, smppConfig(px.l.Addr().String())
	cfg.SMPP.ThrottleDelay = 10 * time.Millisecond
	cfg.EmailProvider = ProviderSMTP
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.TLS, cfg.SMTP.From = host, mustAtoi(t, port), "starttls", "Tamkeen <no-reply@tamkeen.gov.ps>"
	cfg.SMTP.Username, cfg.SMTP.Password = "tamkeen", "mail-secret"
	cfg.RetryBase = 20 * time.Millisecond
	e := startService(t, storetest.SQLite(t), cfg, Deps{Verifier: iss.verifier(t), SMTPTLSConfig: &tls.Config{RootCAs: ms.roots, ServerName: host}})
	a := &apiEnv{env: e, api: &grpcServer{svc: e.svc}, iss: iss, center: center}
	moh := iss.as(t, "moh")

	sms, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "long", Channel: "sms", Language: "en", Body: "Notice ((n)): " + strings.Repeat("x", 160)})
	if err != nil {
		t.Fatal(err)
	}
	one, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000101", TemplateId: sms.GetId(), Personalisation: map[string]string{"n": "1"}})
	if err != nil || one.GetSegments() != 2 {
		t.Fatalf("SendSms = %v, %v; want 2 segments", one, err)
	}
	short, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "short", Channel: "sms", Language: "en", Body: "Dose due ((date))."})
	if err != nil {
		t.Fatal(err)
	}
	job, err := a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: short.GetId(), Channel: "sms",
		Csv: "phone_number,date\n+970599000102,1 May\n+970599000103,2 May\n+970599000104,3 May\n"})
	if err != nil || job.GetTotal() != 3 {
		t.Fatalf("bulk job = %v, %v", job, err)
	}
	mail, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "receipt", Channel: "email", Language: "en", Subject: "Receipt", Body: "Paid ((n))."})
	if err != nil {
		t.Fatal(err)
	}
	em, err := a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "citizen@example.ps", TemplateId: mail.GetId(), Personalisation: map[string]string{"n": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	otp := otpCommand(t, "+970599000105", "482913", LangEnglish, time.Now().Add(5*time.Minute))
	e.publish(t, SubjectOTPSMS, otp)
	late := otpCommand(t, "+970599000106", "482914", LangEnglish, time.Now().Add(-time.Second))
	e.publish(t, SubjectOTPSMS, late)

	a.waitNotification(t, moh, one.GetId(), StatusDelivered)
	waitFor(t, 10*time.Second, "the bulk job delivered", func() bool {
		j, err := e.svc.GetBulkJob(context.Background(), "moh", job.GetId())
		return err == nil && j.Delivered == 3
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
	a.waitNotification(t, moh, em.GetId(), StatusSending) // SMTP has no receipts: sent is as far as it goes
	e.waitIdle(t)
	waitFor(t, 10*time.Second, "the OTP delivered", func() bool { return e.row(t, otp.ID).Status == StatusDelivered })
	if st := e.row(t, late.ID).Status; st != StatusTechnicalFailure {
		t.Fatalf("expired OTP command status %q; want %s", st, StatusTechnicalFailure)
	}
	otpSegments := float64(e.row(t, otp.ID).Segments)

	px.cut()
	waitFor(t, 10*time.Second, "a bind after the cut", func() bool {
		_, _, binds := e.svc.sms.(*SMPPProvider).Stats()
		return binds >= 2
	})

	lintFamilies(t, e.svc.Registry, "tamkeen_notification_messages_total", "tamkeen_notification_sms_segments_total", "tamkeen_notification_email_sends_total", "tamkeen_notification_smpp_bound", "tamkeen_notification_smpp_window_in_use", "tamkeen_notification_smpp_throttled_total", "tamkeen_notification_smpp_reconnects_total")
	got := gathered(t, e.svc.Registry, "tamkeen_notification_")
	sent := func(lane, channel, provider string) string {
		return "channel=" + channel + ",lane=" + lane + ",provider=" + provider + ",status="
	}
	tr, bulk, otpl := sent("normal", "sms", "smpp"), sent("bulk", "sms", "smpp"), sent("otp", "sms", "smpp")
	email := sent("normal", "email", "smtp")
	for _, tc := range []struct {
		family string
		want   map[string]float64
	}{
		{"tamkeen_notification_messages_total", map[string]float64{
			tr + "accepted": 1, tr + "submitted": 1, tr + "delivered": 1,
			bulk + "accepted": 3, bulk + "submitted": 3, bulk + "delivered": 3,
			otpl + "accepted": 2, otpl + "submitted": 1, otpl + "delivered": 1, otpl + "failed": 1,
			email + "accepted": 1, email + "submitted": 1,
		}},
		{"tamkeen_notification_sms_segments_total", map[string]float64{"lane=normal": 2, "lane=bulk": 3, "lane=otp": otpSegments}},
		{"tamkeen_notification_email_sends_total", map[string]float64{"outcome=sent": 1}},
		{"tamkeen_notification_smpp_throttled_total", map[string]float64{"provider=smpp": 2}},
		{"tamkeen_notification_smpp_bound", map[string]float64{"provider=smpp": 1}},
	} {
		if fam, ok := got[tc.family]; !ok {
			t.Errorf("no %s in the registry", tc.family)
		} else if nz := nonZero(fam); !maps.Equal(nz, tc.want) {
			t.Errorf("%s = %v; want %v", tc.family, nz, tc.want)
		}
	}
	if v := got["tamkeen_notification_smpp_reconnects_total"]["provider=smpp"]; v < 1 {
		t.Errorf("smpp_reconnects_total = %v after the link was cut; want at least 1", v)
	}
	if w, ok := got["tamkeen_notification_smpp_window_in_use"]["provider=smpp"]; !ok || w != 0 {
		t.Errorf("smpp_window_in_use = %v (present %v) with nothing in flight; want 0", w, ok)
	}
}

// TestMetricsSMPPGaugesFollowTheLink: bound is 0 while the SMSC cannot be
// reached, and reconnect attempts count up.
func TestMetricsSMPPGaugesFollowTheLink(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.SMPP = ProviderSMPP, smppConfig(closedAddr(t))
	cfg.EmailProvider = ProviderNone
	e := startService(t, storetest.SQLite(t), cfg, Deps{Verifier: newIssuer(t).verifier(t)})
	waitFor(t, 10*time.Second, "two reconnect attempts", func() bool {
		return gathered(t, e.svc.Registry, "tamkeen_notification_smpp_reconnects_total")["tamkeen_notification_smpp_reconnects_total"]["provider=smpp"] >= 2
	})
	if b, ok := gathered(t, e.svc.Registry, "tamkeen_notification_smpp_bound")["tamkeen_notification_smpp_bound"]["provider=smpp"]; !ok || b != 0 {
		t.Errorf("smpp_bound = %v (present %v) with the SMSC down; want 0", b, ok)
	}
}

// TestMetricsEmailRefused: an SMTP relay that demands AUTH refuses a
// message sent without it (530, permanent): the e-mail counts as a failed
// send and a rejected message.
func TestMetricsEmailRefused(t *testing.T) {
	t.Parallel()
	ms := newMailServer(t)
	host, port, _ := net.SplitHostPort(ms.addr)
	iss := newIssuer(t)
	cfg := DefaultConfig()
	cfg.EmailProvider = ProviderSMTP
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.TLS, cfg.SMTP.From = host, mustAtoi(t, port), "none", "Tamkeen <no-reply@tamkeen.gov.ps>"
	e := startService(t, storetest.SQLite(t), cfg, Deps{Verifier: iss.verifier(t)})
	a := &apiEnv{env: e, api: &grpcServer{svc: e.svc}, iss: iss}
	moh := iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "receipt", Channel: "email", Language: "en", Subject: "Receipt", Body: "Paid."})
	if err != nil {
		t.Fatal(err)
	}
	em, err := a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "citizen@example.ps", TemplateId: tpl.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	a.waitNotification(t, moh, em.GetId(), StatusPermanentFailure)
	got := gathered(t, e.svc.Registry, "tamkeen_notification_")
	if nz := nonZero(got["tamkeen_notification_email_sends_total"]); !maps.Equal(nz, map[string]float64{"outcome=failed": 1}) {
		t.Errorf("email_sends_total = %v; want one failed", nz)
	}
	want := map[string]float64{
		"channel=email,lane=normal,provider=smtp,status=accepted": 1,
		"channel=email,lane=normal,provider=smtp,status=rejected": 1,
	}
	if nz := nonZero(got["tamkeen_notification_messages_total"]); !maps.Equal(nz, want) {
		t.Errorf("messages_total = %v; want %v", nz, want)
	}
	if _, ok := got["tamkeen_notification_smpp_bound"]; ok {
		t.Errorf("smpp_bound exported without an SMPP provider")
	}
}

// lintFamilies runs promlint over the families names in reg.
func lintFamilies(t *testing.T, reg prometheus.Gatherer, names ...string) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg, names...)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
