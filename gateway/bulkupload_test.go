package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
)

// TestBulkUploadStreamsTheBody: the CSV body reaches UploadBulkJob whole,
// in chunks, with the query's parameters and the Idempotency-Key; bad
// input answers a problem and a token without the send scope is refused
// before the service hears of it.
func TestBulkUploadStreamsTheBody(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	var csv bytes.Buffer
	csv.WriteString("phone_number,name\n")
	for i := range 20_000 { // about 500 KB: several chunks
		fmt.Fprintf(&csv, "+97059%07d,Name %d\n", i, i)
	}
	path := gateway.BulkUploadPath + "?channel=sms&template_id=tpl_1&reference=flu-2026"
	resp, body := s.do(t, http.MethodPost, path, bytes.NewReader(csv.Bytes()),
		map[string]string{"Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": "upload-1"})
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"validated":20000`) {
		t.Fatalf("upload = %d %s; want 201 with the job", resp.StatusCode, body)
	}
	s.rec.mu.Lock()
	first, got, chunks := s.rec.upload, s.rec.uploaded, s.rec.uploadChunks
	s.rec.mu.Unlock()
	if !bytes.Equal(got, csv.Bytes()) || chunks < 2 {
		t.Errorf("the service got %d bytes in %d messages; want the %d-byte body in several", len(got), chunks, csv.Len())
	}
	if first.GetChannel() != "sms" || first.GetTemplateId() != "tpl_1" || first.GetReference() != "flu-2026" || first.GetIdempotencyKey() != "upload-1" {
		t.Errorf("first message = %v; want the query's parameters and the header's key", first)
	}

	tests := []struct {
		name       string
		ctype      string
		auth       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"json body", "application/json", "", "{}", http.StatusUnsupportedMediaType, ""},
		{"latin-1 csv", "text/csv; charset=iso-8859-1", "", "phone_number\n", http.StatusUnsupportedMediaType, ""},
		{"malformed csv", "text/csv", "", "phone_number\nBAD\n", http.StatusBadRequest, "csv.malformed"},
		{"no send scope", "text/csv", bearer(s.key.sign(t, clientClaims(s.clock.Now(), "moh", "notifications:read"), nil)), "phone_number\n", http.StatusForbidden, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.rec.mu.Lock()
			s.rec.upload = nil
			s.rec.mu.Unlock()
			hdr := map[string]string{"Content-Type": tc.ctype}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			resp, body := s.do(t, http.MethodPost, path, strings.NewReader(tc.body), hdr)
			p := problem(t, resp, body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s; want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantCode != "" && (len(p.Errors) != 1 || p.Errors[0].Code != tc.wantCode) {
				t.Errorf("errors = %+v; want one with code %s", p.Errors, tc.wantCode)
			}
			s.rec.mu.Lock()
			reached := s.rec.upload != nil
			s.rec.mu.Unlock()
			if reached != (tc.wantStatus == http.StatusBadRequest) {
				t.Errorf("the service heard of it: %v", reached)
			}
		})
	}
}
