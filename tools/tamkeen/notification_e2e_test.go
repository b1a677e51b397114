package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	smpppdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/fiorix/go-smpp/smpp/smpptest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// e2eSMSC is an independent SMSC (fiorix/go-smpp's smpptest; the service
// sends with gosmpp's codec) that accepts every submit_sm and reports it
// delivered with a deliver_sm receipt.
type e2eSMSC struct {
	srv   *smpptest.Server
	mu    sync.Mutex
	parts []e2ePart
	seq   int
}

type e2ePart struct {
	dest    string
	coding  byte
	esm     byte
	payload []byte
}

func newE2ESMSC(t *testing.T) *e2eSMSC {
	t.Helper()
	s := &e2eSMSC{srv: smpptest.NewUnstartedServer()}
	s.srv.User, s.srv.Passwd = "tamkeen", "secret"
	s.srv.Handler = func(c smpptest.Conn, m smpppdu.Body) {
		switch m.Header().ID {
		case smpppdu.SubmitSMID:
			f := m.Fields()
			s.mu.Lock()
			s.seq++
			id := fmt.Sprintf("e2e-%d", s.seq)
			s.parts = append(s.parts, e2ePart{dest: f[pdufield.DestinationAddr].String(), coding: f[pdufield.DataCoding].Bytes()[0],
				esm: f[pdufield.ESMClass].Bytes()[0], payload: append([]byte(nil), f[pdufield.ShortMessage].Bytes()...)})
			s.mu.Unlock()
			resp := smpppdu.NewSubmitSMResp()
			resp.Header().Seq = m.Header().Seq
			_ = resp.Fields().Set(pdufield.MessageID, id)
			_ = c.Write(resp)
			d := smpppdu.NewDeliverSM()
			_ = d.Fields().Set(pdufield.ESMClass, uint8(0x04))
			_ = d.Fields().Set(pdufield.ShortMessage, "id:"+id+" sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 stat:DELIVRD err:000 text:")
			_ = d.TLVFields().Set(pdutlv.TagReceiptedMessageID, pdutlv.CString(id))
			_ = d.TLVFields().Set(pdutlv.TagMessageStateOption, uint8(2))
			_ = c.Write(e2eReceipt{d})
		case smpppdu.EnquireLinkID:
			resp := smpppdu.NewEnquireLinkResp()
			resp.Header().Seq = m.Header().Seq
			_ = c.Write(resp)
		case smpppdu.UnbindID:
			resp := smpppdu.NewUnbindResp()
			resp.Header().Seq = m.Header().Seq
			_ = c.Write(resp)
		}
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// e2eReceipt serialises a fiorix deliver_sm without the UDH fields its
// encoder writes as a stray octet when there is no UDH.
type e2eReceipt struct{ smpppdu.Body }

func (r e2eReceipt) SerializeTo(w io.Writer) error {
	var b bytes.Buffer
	for _, k := range r.FieldList() {
		if k == pdufield.UDHLength || k == pdufield.GSMUserData {
			continue
		}
		f, ok := r.Fields()[k]
		if !ok {
			_ = r.Fields().Set(k, nil)
			f = r.Fields()[k]
		}
		if err := f.SerializeTo(&b); err != nil {
			return err
		}
	}
	for _, f := range r.TLVFields() {
		if err := f.SerializeTo(&b); err != nil {
			return err
		}
	}
	h := r.Header()
	h.Len = uint32(smpppdu.HeaderLen + b.Len())
	if err := h.SerializeTo(w); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// text decodes a UCS-2 part, skipping a concatenation UDH.
func (p e2ePart) text() string {
	b := p.payload
	if p.esm&0x40 != 0 && len(b) > 0 {
		b = b[1+int(b[0]):]
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// TestNotificationSMSThroughGatewayToSMSC: a ministry app with the demo
// client's token creates an Arabic template, is told which placeholder a
// send lacks, sends an SMS through the gateway, and the SMSC receives it
// as UCS-2 in concatenated parts; its receipts make the status delivered.
func TestNotificationSMSThroughGatewayToSMSC(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	center := newE2ESMSC(t)
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret, "TAMKEEN_SMS_PROVIDER": "smpp", "TAMKEEN_SMPP_ADDR": center.srv.Addr(),
		"TAMKEEN_SMPP_SYSTEM_ID": "tamkeen", "TAMKEEN_SMPP_PASSWORD": "secret",
	})
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok tokenResponse
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %+v", err, tok)
	}
	call := func(method, path string, body any, out any) (*http.Response, []byte) {
		return apiCall{t: t, base: base, method: method, path: path, token: tok.AccessToken, body: body}.do(out)
	}

	var tpl struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	body := "عزيزنا ((name))، موعد تطعيم طفلكم يوم ((date)) في عيادة رام الله. يرجى إحضار بطاقة التطعيم. وزارة الصحة."
	if r, raw := call("POST", "/v1/templates", map[string]any{"name": "vaccination", "channel": "sms", "language": "ar", "body": body}, &tpl); r.StatusCode >= 300 || tpl.ID == "" {
		t.Fatalf("create template = %d %s", r.StatusCode, raw)
	}
	r, raw := call("POST", "/v1/notifications/sms", map[string]any{"phone_number": "+970599700001", "template_id": tpl.ID,
		"personalisation": map[string]string{"name": "أحمد"}}, nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "((date))") || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("send without date = %d %s; want a 400 problem naming ((date))", r.StatusCode, raw)
	}
	var n struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Segments int    `json:"segments"`
		Encoding string `json:"encoding"`
		Body     string `json:"body"`
	}
	r, raw = call("POST", "/v1/notifications/sms", map[string]any{"phone_number": "+970599700001", "template_id": tpl.ID, "reference": "child-7",
		"personalisation": map[string]string{"name": "أحمد", "date": "الأحد"}}, &n)
	if r.StatusCode >= 300 || n.ID == "" || n.Encoding != "ucs2" || n.Segments != 2 {
		t.Fatalf("send = %d %s; want ucs2 in 2 segments", r.StatusCode, raw)
	}
	deadline := time.Now().Add(15 * time.Second)
	for n.Status != "delivered" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		call("GET", "/v1/notifications/"+n.ID, nil, &n)
	}
	if n.Status != "delivered" {
		t.Fatalf("status %q after 15 s; want delivered", n.Status)
	}
	center.mu.Lock()
	defer center.mu.Unlock()
	if len(center.parts) != 2 {
		t.Fatalf("SMSC got %d parts; want 2", len(center.parts))
	}
	var text strings.Builder
	for _, p := range center.parts {
		if p.coding != 0x08 || p.esm&0x40 == 0 || p.dest != "970599700001" {
			t.Errorf("part data_coding %#x esm %#x to %s; want UCS-2 with a UDH to 970599700001", p.coding, p.esm, p.dest)
		}
		text.WriteString(p.text())
	}
	if text.String() != n.Body {
		t.Errorf("SMSC text %q; want %q", text.String(), n.Body)
	}
}
