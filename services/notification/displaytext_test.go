package notification

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// hostile are the characters the issue names: an override, a zero-width
// space, an isolate and NUL, with the code a reason names each by.
var hostile = []struct{ r, code string }{
	{"\u202E", "U+202E"},
	{"\u200B", "U+200B"},
	{"\u2066", "U+2066"},
	{"\x00", "U+0000"},
}

// wantRefused fails unless err is INVALID_ARGUMENT with a violation on
// field whose reason names the character code.
func wantRefused(t *testing.T, err error, field, code string) {
	t.Helper()
	if status := codeOf(err); status != codes.InvalidArgument {
		t.Fatalf("error = %v; want InvalidArgument naming %s", err, field)
	}
	for _, v := range rpcerr.FieldViolations(err) {
		if v.Field == field && strings.Contains(v.Reason, code) {
			return
		}
	}
	t.Fatalf("error = %v (violations %v); want one on %s naming %s", err, rpcerr.FieldViolations(err), field, code)
}

func codeOf(err error) codes.Code { return code(err) }

// TestTemplatesRefuseHiddenCharacters: a template's name, subject or body
// (the SMS text is an SMS template's body) with a bidi control, a
// zero-width character or NUL is refused naming the field, on create and
// on update, and nothing is stored.
func TestTemplatesRefuseHiddenCharacters(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	moh := a.iss.as(t, "moh")
	good, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "email", Language: "ar",
		Subject: "تذكير بموعد ((name))", Body: "عزيزي ((name))،\r\nموعدك غدًا ✅"})
	if err != nil {
		t.Fatalf("a template with Arabic, CR LF and emoji: %v", err)
	}
	for _, hc := range hostile {
		for _, tc := range []struct {
			field string
			req   *notificationv1.CreateTemplateRequest
		}{
			{"name", &notificationv1.CreateTemplateRequest{Name: "remind" + hc.r + "er", Channel: "sms", Language: "en", Body: "Hi"}},
			{"subject", &notificationv1.CreateTemplateRequest{Name: "r", Channel: "email", Language: "en", Subject: "Your" + hc.r + " dose", Body: "Hi"}},
			{"body", &notificationv1.CreateTemplateRequest{Name: "r", Channel: "sms", Language: "ar", Body: "موعدك\n" + hc.r + "غدًا"}},
			{"body", &notificationv1.CreateTemplateRequest{Name: "r", Channel: "email", Language: "en", Subject: "s", Body: "Dear ((name)),\n\nPay" + hc.r + " now"}},
		} {
			_, err := a.api.CreateTemplate(moh, tc.req)
			wantRefused(t, err, tc.field, hc.code)
		}
		_, err := a.api.UpdateTemplate(moh, &notificationv1.UpdateTemplateRequest{Id: good.GetId(), BaseVersion: 1, Body: "Pay" + hc.r})
		wantRefused(t, err, "body", hc.code)
		_, err = a.api.UpdateTemplate(moh, &notificationv1.UpdateTemplateRequest{Id: good.GetId(), BaseVersion: 1, Body: "b", Subject: "s" + hc.r})
		wantRefused(t, err, "subject", hc.code)
	}
	var n int
	if err := a.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM templates`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d template versions stored (%v); want only the good one's first", n, err)
	}
}

// TestSendRefusesHiddenCharacters: a recipient address, a reference or a
// personalisation value (key or value) with a bidi control, a zero-width
// character or NUL is refused naming the field; a preview too; nothing is
// queued.
func TestSendRefusesHiddenCharacters(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	moh := a.iss.as(t, "moh")
	sms, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "r", Channel: "sms", Language: "en", Body: "Dear ((name)), pay ((amount))."})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "r", Channel: "email", Language: "en", Subject: "Fee", Body: "Dear ((name))"})
	if err != nil {
		t.Fatal(err)
	}
	vals := func(name string) map[string]string { return map[string]string{"name": name, "amount": "5 ILS"} }
	for _, hc := range hostile {
		_, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000010", TemplateId: sms.GetId(), Personalisation: vals("Sa" + hc.r + "ra")})
		wantRefused(t, err, "personalisation.name", hc.code)
		_, err = a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000010", TemplateId: sms.GetId(), Personalisation: map[string]string{"name": "S", "amount": "1", "x" + hc.r: "v"}})
		wantRefused(t, err, "personalisation", hc.code)
		_, err = a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000010", TemplateId: sms.GetId(), Personalisation: vals("Sara"), Reference: "INV-1" + hc.r})
		wantRefused(t, err, "reference", hc.code)
		_, err = a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "sa" + hc.r + "ra@example.ps", TemplateId: mail.GetId(), Personalisation: vals("Sara")})
		wantRefused(t, err, "email_address", hc.code)
		_, err = a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "sara@example.ps", TemplateId: mail.GetId(), Personalisation: vals("Sara\n" + hc.r)})
		wantRefused(t, err, "personalisation.name", hc.code)
		_, err = a.api.PreviewTemplate(moh, &notificationv1.PreviewTemplateRequest{Id: mail.GetId(), Personalisation: vals(hc.r)})
		wantRefused(t, err, "personalisation.name", hc.code)
	}
	// A direction mark is not an override: an address may not carry one,
	// display text may.
	_, err = a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "sara\u200f@example.ps", TemplateId: mail.GetId(), Personalisation: vals("Sara")})
	wantRefused(t, err, "email_address", "U+200F")
	if n, _, _ := a.svc.ListNotifications(context.Background(), "moh", ListFilter{}); len(n) != 0 {
		t.Fatalf("refused sends queued %d messages; want none", len(n))
	}
}

// TestBulkRefusesHiddenCharacters: every CSV cell (recipient, reference,
// placeholder value, header) and every listed row is checked; the answer
// names rows[N].<field> and nothing is queued.
func TestBulkRefusesHiddenCharacters(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "r", Channel: "email", Language: "en", Subject: "Dose", Body: "Dear ((name))"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hc := range hostile {
		csv := "email_address,name,reference\n" +
			"sara@example.ps,Sara,r1\n" +
			"om" + hc.r + "ar@example.ps,Omar,r2\n" + // row 3: the address
			"lina@example.ps,Li" + hc.r + "na,r3\n" + // row 4: a value
			"hans@example.ps,Hans,r4" + hc.r + "\n" // row 5: the reference
		_, err := a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "email", Csv: csv})
		wantRefused(t, err, "rows[3].email_address", hc.code)
		wantRefused(t, err, "rows[4].personalisation.name", hc.code)
		wantRefused(t, err, "rows[5].reference", hc.code)
		if vs := rpcerr.FieldViolations(err); len(vs) != 3 {
			t.Errorf("violations %v; want exactly rows 3, 4 and 5", vs)
		}

		_, err = a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "email",
			Csv: "email_address,na" + hc.r + "me\nsara@example.ps,Sara\n"})
		wantRefused(t, err, "csv", hc.code)

		_, err = a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "email",
			Csv: "email_address,name\nsara@example.ps,Sara\n", Reference: "campaign" + hc.r})
		wantRefused(t, err, "reference", hc.code)

		_, err = a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "email",
			Recipients: []*notificationv1.BulkRecipient{
				{Recipient: "sara@example.ps", Personalisation: map[string]string{"name": "Sara"}},
				{Recipient: "omar@example.ps" + hc.r, Personalisation: map[string]string{"name": "Omar"}},
			}})
		wantRefused(t, err, "rows[2].email_address", hc.code)
	}
	if n, _, _ := a.svc.ListNotifications(context.Background(), "moh", ListFilter{}); len(n) != 0 {
		t.Fatalf("refused jobs queued %d messages; want none", len(n))
	}
	var jobs int
	if err := a.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM bulk_jobs`).Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("%d bulk jobs stored (%v); want none", jobs, err)
	}
}
