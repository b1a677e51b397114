package notification

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// uploadCSV writes a bulk CSV of rows rows to w: every badEvery-th row
// has a number that is not E.164, every badEvery+1-th (shifted) a missing
// placeholder. It never holds more than one row.
func uploadCSV(w io.Writer, rows, badEvery int) error {
	bw := bufioWriter(w)
	if _, err := bw.WriteString("phone_number,name,reference\n"); err != nil {
		return err
	}
	for i := 1; i <= rows; i++ {
		var line string
		switch {
		case badEvery > 0 && i%badEvery == 0:
			line = fmt.Sprintf("12345,Name %d,r%d\n", i, i)
		case badEvery > 0 && i%badEvery == 7:
			line = fmt.Sprintf("+97059%07d\n", i%10_000_000)
		default:
			line = fmt.Sprintf("+97059%07d,Name %d,r%d\n", i%10_000_000, i, i)
		}
		if _, err := bw.WriteString(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// wantBad reports whether row i of uploadCSV is bad, and its code.
func wantBad(i, badEvery int) (string, bool) {
	switch {
	case i%badEvery == 0:
		return "phone_number.e164", true
	case i%badEvery == 7:
		return "personalisation.missing", true
	}
	return "", false
}

// peakMemory samples the heap in use and reports the peak when stopped,
// with the process's high-water RSS (VmHWM).
func peakMemory() (stop func() (heap uint64, hwm string)) {
	var (
		peak atomic.Uint64
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() (uint64, string) {
		close(done)
		wg.Wait()
		hwm := "unknown"
		if b, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmHWM:") {
					hwm = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
				}
			}
		}
		return peak.Load(), hwm
	}
}

// TestBulkUploadMillionRows streams a generated 1,000,000-row CSV (never
// held anywhere: io.Pipe) into a job on SQLite and checks the counts, the
// report of sampled bad rows, and that the heap stayed bounded: holding
// the rows (a million BulkRows with their maps and strings) would need
// well over a gigabyte. It takes minutes here, so it runs only with
// TAMKEEN_TEST_BULK_MILLION set (make test sets it).
func TestBulkUploadMillionRows(t *testing.T) {
	if testing.Short() || os.Getenv("TAMKEEN_TEST_BULK_MILLION") == "" {
		t.Skip("1,000,000 rows take minutes: set TAMKEEN_TEST_BULK_MILLION=1 (make test does), not with -short")
	}
	const (
		rows     = 1_000_000
		badEvery = 100 // 2% bad: rows ≡ 0 and ≡ 7 (mod 100)
		// Measured: about 12 MiB in use at the peak. Holding the rows
		// would take over a gigabyte.
		maxHeap = 64 << 20
	)
	a := startAPI(t, storetest.SQLite(t), func(c *Config) { c.SMSProvider = ProviderNone })
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "en", Body: "Dear ((name)), your dose is due."})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	stop := peakMemory()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(uploadCSV(pw, rows, badEvery)) }()
	start := time.Now()
	job, err := a.svc.UploadBulkJob(context.Background(), "moh", BulkUpload{TemplateID: tpl.GetId(), Channel: ChannelSMS}, pr)
	elapsed := time.Since(start)
	heap, hwm := stop()
	if err != nil {
		t.Fatalf("UploadBulkJob = %v", err)
	}
	t.Logf("1,000,000 rows validated in %v (%.0f rows/s); peak heap in use %.1f MiB; VmHWM %s",
		elapsed.Round(time.Millisecond), rows/elapsed.Seconds(), float64(heap)/(1<<20), hwm)
	wantInvalid := 2 * rows / badEvery
	if job.Validated != rows-wantInvalid || job.Invalid != wantInvalid || job.Total != rows-wantInvalid {
		t.Errorf("job validated %d, invalid %d, total %d; want %d, %d, %d", job.Validated, job.Invalid, job.Total, rows-wantInvalid, wantInvalid, rows-wantInvalid)
	}
	if heap > maxHeap {
		t.Errorf("peak heap in use %d MiB; want under %d MiB (rows must stream)", heap>>20, maxHeap>>20)
	}
	// The report keeps the first 10,000 bad rows in order; the line of
	// data row i is i+1.
	page, err := a.svc.ListBulkJobErrors(context.Background(), "moh", job.ID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != wantInvalid || page.Omitted != wantInvalid-maxUploadErrors || len(page.Rows) != 1000 || page.NextPageToken == "" {
		t.Fatalf("first page: total %d, omitted %d, %d rows, token %q", page.Total, page.Omitted, len(page.Rows), page.NextPageToken)
	}
	seen := 0
	for token := ""; ; {
		p, err := a.svc.ListBulkJobErrors(context.Background(), "moh", job.ID, token, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Rows {
			seen++
			if code, bad := wantBad(e.Row-1, badEvery); !bad || e.Code != code {
				t.Fatalf("error row %d has code %q; want %q (bad %v)", e.Row, e.Code, code, bad)
			}
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	if seen != maxUploadErrors {
		t.Errorf("the report pages through %d rows; want %d", seen, maxUploadErrors)
	}
}

// bufioWriter buffers w.
func bufioWriter(w io.Writer) *bufferedWriter { return &bufferedWriter{w: w} }

type bufferedWriter struct {
	w   io.Writer
	buf bytes.Buffer
}

func (b *bufferedWriter) WriteString(s string) (int, error) {
	b.buf.WriteString(s)
	if b.buf.Len() >= 64<<10 {
		return len(s), b.Flush()
	}
	return len(s), nil
}

func (b *bufferedWriter) Flush() error {
	_, err := b.w.Write(b.buf.Bytes())
	b.buf.Reset()
	return err
}

// TestBulkUploadSendsTheGoodRows: bad rows are reported, the good ones go
// out through the SMSC, the counters follow, the same upload with its
// Idempotency-Key is the same job, and another client sees nothing.
func TestBulkUploadSendsTheGoodRows(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, testBulkUploadSendsTheGoodRows)
}

func testBulkUploadSendsTheGoodRows(t *testing.T, db *store.DB) {
	a := startAPI(t, db, nil)
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "en", Body: "Dear ((name)), your dose is due."})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := uploadCSV(&body, 250, 50); err != nil {
		t.Fatal(err)
	}
	in := BulkUpload{TemplateID: tpl.GetId(), Channel: ChannelSMS, Reference: "campaign", IdempotencyKey: "k-1"}
	job, err := a.svc.UploadBulkJob(context.Background(), "moh", in, bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if job.Validated != 240 || job.Invalid != 10 {
		t.Fatalf("job validated %d, invalid %d; want 240, 10", job.Validated, job.Invalid)
	}
	page, err := a.svc.ListBulkJobErrors(context.Background(), "moh", job.ID, "", 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []BulkRowError{
		{Row: 8, Field: "personalisation", Code: "personalisation.missing", Reason: "no value for ((name))"},
		{Row: 51, Field: "phone_number", Code: "phone_number.e164", Reason: "not an E.164 number (e.g. +970599000001)"},
		{Row: 58, Field: "personalisation", Code: "personalisation.missing", Reason: "no value for ((name))"},
		{Row: 101, Field: "phone_number", Code: "phone_number.e164", Reason: "not an E.164 number (e.g. +970599000001)"},
	}
	if fmt.Sprint(page.Rows) != fmt.Sprint(want) || page.NextPageToken != "101" || page.Total != 10 {
		t.Fatalf("errors page = %+v; want %+v, token 101, total 10", page, want)
	}
	next, err := a.svc.ListBulkJobErrors(context.Background(), "moh", job.ID, page.NextPageToken, 100)
	if err != nil || len(next.Rows) != 6 || next.NextPageToken != "" {
		t.Fatalf("second page = %+v, %v; want the other 6 rows, no token", next, err)
	}
	waitFor(t, 30*time.Second, "the job delivered", func() bool {
		j, err := a.svc.GetBulkJob(context.Background(), "moh", job.ID)
		return err == nil && j.Delivered == 240 && j.Status() == "finished"
	})
	j, _ := a.svc.GetBulkJob(context.Background(), "moh", job.ID)
	if j.Submitted != 240 || j.Sent != 240 || j.Failed != 0 || j.Queued != 0 {
		t.Errorf("finished job = %+v; want 240 submitted, sent and delivered", j)
	}
	if got := len(a.center.got()); got != 240 {
		t.Errorf("SMSC got %d submit_sm; want 240", got)
	}

	again, err := a.svc.UploadBulkJob(context.Background(), "moh", in, bytes.NewReader(body.Bytes()))
	if err != nil || again.ID != job.ID {
		t.Errorf("the same upload again = %v, %v; want job %s", again.ID, err, job.ID)
	}
	other := append(bytes.Clone(body.Bytes()), "+970599999999,Late,r\n"...)
	if _, err := a.svc.UploadBulkJob(context.Background(), "moh", in, bytes.NewReader(other)); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Errorf("another body with the key = %v; want ErrIdempotencyMismatch", err)
	}
	if _, err := a.svc.ListBulkJobErrors(context.Background(), "mof", job.ID, "", 10); !errors.Is(err, rpcerr.ErrNotFound) {
		t.Errorf("another client's errors = %v; want not found", err)
	}
	if n := countRows(t, a.svc.DB, "bulk_jobs", "1 = 1"); n != 1 {
		t.Errorf("%d bulk jobs stored; want 1 (repeats and refusals keep nothing)", n)
	}
}

// TestBulkUploadRefusals: a body that cannot be a job is refused with a
// field error and a code, and nothing stays stored.
func TestBulkUploadRefusals(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), func(c *Config) { c.BulkMaxRows, c.BulkMaxBytes = 5, 200 })
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "en", Body: "Hello."})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString("phone_number\n")
		for i := range n {
			b.WriteString("+97059900000" + strconv.Itoa(i%10) + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name, channel, body, wantCode string
	}{
		{"empty body", "sms", "", "csv.header"},
		{"header only", "sms", "phone_number\n", "csv.empty"},
		{"no recipient column", "sms", "name\nSara\n", "csv.recipient_column"},
		{"malformed row", "sms", "phone_number,name\n+970599000001,\"Sara\n+970599000002,x\"y\n", "csv.malformed"},
		{"too many rows", "sms", rows(6), "recipients.too_many"},
		{"too large", "sms", "phone_number,name\n" + strings.Repeat("+970599000001,"+strings.Repeat("x", 20)+"\n", 8), "csv.too_large"},
		{"unknown channel", "fax", rows(1), "channel.unsupported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.svc.UploadBulkJob(context.Background(), "moh", BulkUpload{TemplateID: tpl.GetId(), Channel: tc.channel}, strings.NewReader(tc.body))
			var fe *rpcerr.FieldError
			if !errors.As(err, &fe) || fe.Code != tc.wantCode {
				t.Fatalf("upload = %v; want a field error with code %s", err, tc.wantCode)
			}
		})
	}
	for _, table := range []string{"bulk_jobs", "bulk_recipients", "bulk_row_errors", "notifications"} {
		if n := countRows(t, a.svc.DB, table, "1 = 1"); n != 0 {
			t.Errorf("%d rows in %s after refused uploads; want none", n, table)
		}
	}
	if _, err := a.svc.UploadBulkJob(context.Background(), "moh", BulkUpload{TemplateID: tpl.GetId(), Channel: "sms"}, strings.NewReader(rows(5))); err != nil {
		t.Errorf("5 rows with a 5-row limit = %v; want accepted", err)
	}
}

// FuzzBulkCSV: the streaming row reader never panics, numbers rows from
// 2 upwards, and reads what the whole-text parser reads.
func FuzzBulkCSV(f *testing.F) {
	for _, s := range []string{
		"phone_number,name\n+970599000001,Sara\n",
		"\ufeffphone_number,reference,name\n0599000001,r,\"Omar, Jr\"\n",
		"phone_number\n\"unterminated\n",
		"email_address\na@b.c\n",
		"phone_number,x\n1,2,3\n\n4\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := newBulkCSV(ChannelSMS, strings.NewReader(text))
		if err != nil {
			var fe *rpcerr.FieldError
			if !errors.As(err, &fe) || fe.Code == "" {
				t.Fatalf("header error %v has no code", err)
			}
			return
		}
		n, last := 0, 1
		for {
			_, line, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var fe *rpcerr.FieldError
				if !errors.As(err, &fe) || fe.Code != "csv.malformed" {
					t.Fatalf("row error %v; want csv.malformed", err)
				}
				return
			}
			if line != last+1 {
				t.Fatalf("row number %d after %d", line, last)
			}
			last = line
			n++
		}
		rows, _, err := parseBulkCSV(ChannelSMS, text)
		if err == nil && len(rows) != n {
			t.Fatalf("parseBulkCSV read %d rows; the stream %d", len(rows), n)
		}
	})
}

// TestBulkUploadOverGRPC streams a CSV in small chunks through a real
// gRPC connection, reads the report through ListBulkJobErrors, and checks
// who may do either.
func TestBulkUploadOverGRPC(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	srv := grpc.NewServer()
	a.svc.Register(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := notificationv1.NewNotificationServiceClient(conn)
	as := func(client string, scopes ...string) context.Context {
		if len(scopes) == 0 {
			scopes = allScopes
		}
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+a.iss.token(t, client, scopes...))
	}
	tpl, err := c.CreateTemplate(as("moh"), &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "en", Body: "Dear ((name)), your dose is due."})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := uploadCSV(&body, 120, 40); err != nil {
		t.Fatal(err)
	}
	upload := func(ctx context.Context, channel string) (*notificationv1.BulkJob, error) {
		st, err := c.UploadBulkJob(ctx)
		if err != nil {
			return nil, err
		}
		rest := body.Bytes()
		first := &notificationv1.UploadBulkJobRequest{TemplateId: tpl.GetId(), Channel: channel}
		for first != nil || len(rest) > 0 {
			m := first
			if m == nil {
				m = &notificationv1.UploadBulkJobRequest{}
			}
			first = nil
			n := min(len(rest), 97) // chunks split rows anywhere
			m.Chunk, rest = rest[:n], rest[n:]
			if err := st.Send(m); err != nil {
				break // the server answered early; CloseAndRecv says why
			}
		}
		return st.CloseAndRecv()
	}
	job, err := upload(as("moh"), "sms")
	if err != nil {
		t.Fatal(err)
	}
	if job.GetValidated() != 114 || job.GetInvalid() != 6 || job.GetTotal() != 114 {
		t.Fatalf("job = %v; want 114 validated, 6 invalid", job)
	}
	page, err := c.ListBulkJobErrors(as("moh"), &notificationv1.ListBulkJobErrorsRequest{Id: job.GetId(), PageSize: 4})
	if err != nil || len(page.GetErrors()) != 4 || page.GetNextPageToken() == "" || page.GetTotalInvalid() != 6 {
		t.Fatalf("errors page = %v, %v", page, err)
	}
	if e := page.GetErrors()[0]; e.GetRow() != 8 || e.GetCode() != "personalisation.missing" {
		t.Errorf("first error = %v; want row 8, personalisation.missing", e)
	}
	if _, err := upload(as("moh"), "fax"); code(err) != codes.InvalidArgument {
		t.Errorf("upload to channel fax = %v; want InvalidArgument", err)
	}
	if _, err := upload(as("moh", scope.NotificationsRead), "sms"); code(err) != codes.PermissionDenied {
		t.Errorf("upload without notifications send scope = %v; want PermissionDenied", err)
	}
	if _, err := c.ListBulkJobErrors(as("mof"), &notificationv1.ListBulkJobErrorsRequest{Id: job.GetId()}); code(err) != codes.NotFound {
		t.Errorf("another client's errors = %v; want NotFound", err)
	}
	if _, err := c.ListBulkJobErrors(as("moh", scope.NotificationsSend), &notificationv1.ListBulkJobErrorsRequest{Id: job.GetId()}); code(err) != codes.PermissionDenied {
		t.Errorf("errors without notifications read scope = %v; want PermissionDenied", err)
	}
}
