package notification

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// SMS recipients follow the platform's one phone rule (libs/phone): a
// mobile written the local way is sent to in E.164, in single sends and
// in bulk rows alike; a home landline is refused with the rule's reason.
func TestSMSRecipientsLocalMobiles(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "ar", Body: "موعدك يوم ((date))."})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"date": "الأحد"}

	for in, want := range map[string]string{
		"0599 000 021":  "+970599000021",
		"٠٥٦٩٠٠٠٠٢٢":    "+970569000022",
		"054-123-4567":  "+972541234567",
		"+970599000023": "+970599000023",
	} {
		n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: in, TemplateId: tpl.GetId(), Personalisation: values})
		if err != nil || n.GetRecipient() != want {
			t.Errorf("SendSms(%q) = recipient %q, %v; want %q", in, n.GetRecipient(), err, want)
		}
	}
	notE164 := "not an E.164 number (e.g. +970599000001)"
	for in, want := range map[string]rpcerr.FieldError{
		"022951234":     {Reason: phone.ReasonLocal, Code: "phone_number.not_mobile"},
		"+97022951234":  {Reason: phone.ReasonPalestinian, Code: "phone_number.not_mobile"},
		"+97231234567":  {Reason: phone.ReasonIsraeli, Code: "phone_number.not_mobile"},
		"0599-ABC":      {Reason: notE164, Code: "phone_number.e164"},
		"970599000021":  {Reason: notE164, Code: "phone_number.e164"},
		"+970 599 0001": {Reason: phone.ReasonPalestinian, Code: "phone_number.not_mobile"},
	} {
		want.Field = "phone_number"
		_, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: in, TemplateId: tpl.GetId(), Personalisation: values})
		got := rpcerr.FieldViolations(err)
		if code(err) != codes.InvalidArgument || fmt.Sprint(got) != fmt.Sprint([]rpcerr.FieldError{want}) {
			t.Errorf("SendSms(%q) = %v %v; want %+v", in, err, got, want)
		}
	}

	job, err := a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms",
		Csv: "phone_number,date,reference\n0599000031,الأحد,bulk-local\n(052) 123-4568,الإثنين,bulk-local\n"})
	if err != nil || job.GetTotal() != 2 {
		t.Fatalf("bulk job with local numbers = %v, %v; want 2 queued", job, err)
	}
	ns, _, err := a.svc.ListNotifications(context.Background(), "moh", ListFilter{Reference: "bulk-local"})
	var got []string
	for _, n := range ns {
		got = append(got, n.Recipient)
	}
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"+970599000031", "+972521234568"}) {
		t.Errorf("bulk recipients = %v, %v; want [+970599000031 +972521234568]", got, err)
	}

	_, err = a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms",
		Csv: "phone_number,date\n0599000032,الأحد\n082821234,الأحد\n"})
	want := []rpcerr.FieldError{{Field: "rows[3].phone_number", Reason: phone.ReasonLocal, Code: "rows.phone_number.not_mobile"}} // the header is row 1
	if got := rpcerr.FieldViolations(err); code(err) != codes.InvalidArgument || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bulk job with a Gaza landline = %v %v; want %v", err, got, want)
	}
}
