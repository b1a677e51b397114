package notification

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	smpppdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/fiorix/go-smpp/smpp/smpptest"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"

	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/scope"
)

// issuer is a real token issuer for the tests: an ES256 key whose JWKS an
// httptest server publishes, verified by a real jwks.Verifier.
type issuer struct {
	url string
	key *ecdsa.PrivateKey
}

const testAudience = "tamkeen"

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:]), "kid": "k1", "use": "sig", "alg": "ES256",
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	t.Cleanup(srv.Close)
	return &issuer{url: srv.URL, key: k}
}

// verifier verifies this issuer's tokens.
func (is *issuer) verifier(t testing.TB) *jwks.Verifier {
	t.Helper()
	v, err := jwks.New(jwks.Options{JWKSURL: is.url + "/.well-known/jwks.json", Issuer: is.url, Audiences: []string{testAudience}, Type: "at+jwt"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// token is a client-credentials token of client with scopes.
func (is *issuer) token(t testing.TB, client string, scopes ...string) string {
	t.Helper()
	now := time.Now()
	c := &jwks.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: is.url, Subject: client, Audience: jwt.ClaimStrings{testAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: fmt.Sprint(now.UnixNano())},
		ClientID: client, Scope: strings.Join(scopes, " ")}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"], tok.Header["typ"] = "k1", "at+jwt"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allScopes are the notification scopes.
var allScopes = []string{scope.NotificationsSend, scope.NotificationsRead, scope.TemplatesWrite, scope.TemplatesRead}

// as is a context carrying client's bearer token, as the gateway forwards it.
func (is *issuer) as(t testing.TB, client string, scopes ...string) context.Context {
	t.Helper()
	if len(scopes) == 0 {
		scopes = allScopes
	}
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+is.token(t, client, scopes...)))
}

// smsc is an independent SMSC for the tests: fiorix/go-smpp's smpptest
// server (a different SMPP implementation from the gosmpp codec the
// provider uses), answering submit_sm with message ids and sending
// delivery receipts as deliver_sm.
type smsc struct {
	srv *smpptest.Server

	mu       sync.Mutex
	submits  []submitted
	throttle int  // answer this many next submit_sm with ESME_RTHROTTLED
	receipts bool // send a DELIVRD receipt after each accepted part
	textOnly bool // receipts without TLVs: the appendix B text alone
	enquires int
	dlrAcks  int
	seq      int
	// hold, while set, stops each connection at its next submit_sm until
	// closed; held counts the connections stopped.
	hold chan struct{}
	held int
}

// submitted is one submit_sm as the SMSC decoded it.
type submitted struct {
	Dest       string
	Source     string
	DataCoding byte
	ESMClass   byte
	Payload    []byte // short_message, UDH included
	MessageID  string
	At         time.Time
}

// UDH returns the concatenation header (ref, total, part) when present.
func (s submitted) UDH() (ref, total, part byte, ok bool) {
	if s.ESMClass&0x40 == 0 || len(s.Payload) < 6 || s.Payload[0] != 5 || s.Payload[1] != 0 || s.Payload[2] != 3 {
		return 0, 0, 0, false
	}
	return s.Payload[3], s.Payload[4], s.Payload[5], true
}

// Text decodes the part's text (without the UDH).
func (s submitted) Text() string {
	b := s.Payload
	if _, _, _, ok := s.UDH(); ok {
		b = b[6:]
	}
	if s.DataCoding == 0x08 {
		r := make([]rune, 0, len(b)/2)
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		for _, c := range u {
			r = append(r, rune(c))
		}
		return string(r)
	}
	out, _ := DecodeGSM7(b)
	return out
}

func newSMSC(t testing.TB) *smsc {
	t.Helper()
	s := &smsc{receipts: true}
	s.srv = smpptest.NewUnstartedServer()
	s.srv.User, s.srv.Passwd = "tamkeen", "secret"
	s.srv.Handler = s.handle
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *smsc) addr() string { return s.srv.Addr() }

func (s *smsc) handle(c smpptest.Conn, m smpppdu.Body) {
	switch m.Header().ID {
	case smpppdu.SubmitSMID:
		s.mu.Lock()
		hold := s.hold
		if hold != nil {
			s.held++
		}
		s.mu.Unlock()
		if hold != nil {
			<-hold
		}
		f := m.Fields()
		resp := smpppdu.NewSubmitSMResp()
		resp.Header().Seq = m.Header().Seq
		s.mu.Lock()
		if s.throttle > 0 {
			s.throttle--
			s.mu.Unlock()
			resp.Header().Status = 0x58 // ESME_RTHROTTLED
			_ = c.Write(resp)
			return
		}
		s.seq++
		id := fmt.Sprintf("smsc-%06d", s.seq)
		sub := submitted{Dest: f[pdufield.DestinationAddr].String(), Source: f[pdufield.SourceAddr].String(),
			DataCoding: f[pdufield.DataCoding].Bytes()[0], ESMClass: f[pdufield.ESMClass].Bytes()[0],
			Payload: append([]byte(nil), f[pdufield.ShortMessage].Bytes()...), MessageID: id, At: time.Now()}
		s.submits = append(s.submits, sub)
		receipts, textOnly := s.receipts, s.textOnly
		s.mu.Unlock()
		_ = resp.Fields().Set(pdufield.MessageID, id)
		_ = c.Write(resp)
		if receipts {
			d := smpppdu.NewDeliverSM()
			df := d.Fields()
			_ = df.Set(pdufield.SourceAddr, sub.Dest)
			_ = df.Set(pdufield.DestinationAddr, sub.Source)
			_ = df.Set(pdufield.ESMClass, uint8(0x04))
			_ = df.Set(pdufield.ShortMessage, fmt.Sprintf("id:%s sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 stat:DELIVRD err:000 text:", id))
			if !textOnly {
				_ = d.TLVFields().Set(pdutlv.TagReceiptedMessageID, pdutlv.CString(id))
				_ = d.TLVFields().Set(pdutlv.TagMessageStateOption, uint8(2))
			}
			_ = c.Write(receiptPDU{d})
		}
	case smpppdu.EnquireLinkID:
		resp := smpppdu.NewEnquireLinkResp()
		resp.Header().Seq = m.Header().Seq
		s.mu.Lock()
		s.enquires++
		s.mu.Unlock()
		_ = c.Write(resp)
	case smpppdu.DeliverSMRespID:
		s.mu.Lock()
		s.dlrAcks++
		s.mu.Unlock()
	case smpppdu.UnbindID:
		resp := smpppdu.NewUnbindResp()
		resp.Header().Seq = m.Header().Seq
		_ = c.Write(resp)
	}
}

// got returns a copy of the submits so far.
func (s *smsc) got() []submitted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]submitted(nil), s.submits...)
}

func (s *smsc) counts() (enquires, dlrAcks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enquires, s.dlrAcks
}

// smppConfig is a provider configuration for the test SMSC at addr.
func smppConfig(addr string) SMPPConfig {
	c := defaultSMPPConfig()
	c.Addr, c.SystemID, c.Password = addr, "tamkeen", "secret"
	c.ReconnectMin, c.ReconnectMax, c.BindWait = 20*time.Millisecond, 200*time.Millisecond, 2*time.Second
	c.ThrottleDelay, c.ResponseTimeout = 50*time.Millisecond, 2*time.Second
	return c
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// receiptPDU serialises a fiorix deliver_sm without the GSM user-data
// header fields, which fiorix's encoder writes as a stray length octet
// even when the message has no UDH (its DeliverSM is built for decoding).
type receiptPDU struct{ smpppdu.Body }

func (r receiptPDU) SerializeTo(w io.Writer) error {
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
