package notification

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// mailServer is an independent SMTP server (emersion/go-smtp) requiring
// STARTTLS and AUTH PLAIN, keeping what it receives.
type mailServer struct {
	addr  string
	roots *x509.CertPool
	mu    sync.Mutex
	msgs  [][]byte
	tls   []bool
	users []string
	conns int
}

type mailSession struct {
	s    *mailServer
	c    *smtp.Conn
	user string
}

func (m *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (m *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "tamkeen" || pass != "mail-secret" {
			return errors.New("bad credentials")
		}
		m.user = user
		return nil
	}), nil
}
func (m *mailSession) Mail(string, *smtp.MailOptions) error {
	if m.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (m *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := m.c.TLSConnectionState()
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	m.s.msgs = append(m.s.msgs, b)
	m.s.tls = append(m.s.tls, isTLS)
	m.s.users = append(m.s.users, m.user)
	return nil
}
func (m *mailSession) Reset()        {}
func (m *mailSession) Logout() error { return nil }

func newMailServer(t *testing.T) *mailServer {
	t.Helper()
	// httptest's certificate is for 127.0.0.1: borrow it.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	cert := hs.TLS.Certificates[0]
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	hs.Close()
	ms := &mailServer{roots: roots}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{s: ms, c: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go func() { _ = srv.Serve(countingListener{l, ms}) }()
	t.Cleanup(func() { srv.Close() })
	return ms
}

func TestEmailOverSMTP(t *testing.T) {
	t.Parallel()
	ms := newMailServer(t)
	host, port, _ := net.SplitHostPort(ms.addr)
	iss := newIssuer(t)
	cfg := DefaultConfig()
	cfg.EmailProvider = ProviderSMTP
	cfg.SMTP.Host, cfg.SMTP.TLS, cfg.SMTP.From = host, "starttls", "Tamkeen <no-reply@tamkeen.gov.ps>"
	cfg.SMTP.Username, cfg.SMTP.Password = "tamkeen", "mail-secret"
	cfg.SMTP.Port = mustAtoi(t, port)
	e := startService(t, storetest.SQLite(t), cfg, Deps{Verifier: iss.verifier(t), SMTPTLSConfig: &tls.Config{RootCAs: ms.roots, ServerName: host}})
	api := &grpcServer{svc: e.svc}
	moh := iss.as(t, "moh")

	tests := []struct {
		lang, subject, body string
		values              map[string]string
		wantSubject, dir    string
		wantText, wantHTML  string
	}{
		{"ar", "إيصال دفع رقم ((number))", "مرحباً ((name))،\n\nتم استلام دفعتكم.", map[string]string{"number": "123", "name": "سارة <b>"},
			"إيصال دفع رقم 123", "rtl", "مرحباً سارة <b>،", "مرحباً سارة &lt;b&gt;،"},
		{"en", "Receipt ((number))", "Hello ((name)),\n\nWe received your payment & thank you.", map[string]string{"number": "7", "name": "Tom & Jerry"},
			"Receipt 7", "ltr", "Hello Tom & Jerry,", "Hello Tom &amp; Jerry,"},
	}
	for i, tc := range tests {
		tpl, err := api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "receipt", Channel: "email", Language: tc.lang, Subject: tc.subject, Body: tc.body})
		if err != nil {
			t.Fatal(err)
		}
		n, err := api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "citizen@example.ps", TemplateId: tpl.GetId(), Personalisation: tc.values})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the e-mail at the SMTP server", func() bool {
			ms.mu.Lock()
			defer ms.mu.Unlock()
			return len(ms.msgs) == i+1
		})
		ms.mu.Lock()
		raw, isTLS, user := ms.msgs[i], ms.tls[i], ms.users[i]
		ms.mu.Unlock()
		if !isTLS || user != "tamkeen" {
			t.Errorf("%s: delivered with TLS %v as %q; want STARTTLS and AUTH", tc.lang, isTLS, user)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		rawSubject := msg.Header.Get("Subject")
		subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
		if err != nil || subject != tc.wantSubject {
			t.Errorf("%s: subject %q decodes to %q (%v); want %q", tc.lang, rawSubject, subject, err, tc.wantSubject)
		}
		if tc.lang == "ar" && !strings.HasPrefix(rawSubject, "=?UTF-8?") {
			t.Errorf("Arabic subject %q is not RFC 2047 encoded", rawSubject)
		}
		if got := msg.Header.Get("Content-Language"); got != tc.lang {
			t.Errorf("%s: Content-Language %q", tc.lang, got)
		}
		if !strings.Contains(msg.Header.Get("Message-Id"), n.GetId()) {
			t.Errorf("%s: Message-ID %q does not carry the notification id", tc.lang, msg.Header.Get("Message-Id"))
		}
		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Fatalf("%s: Content-Type %q; want multipart/alternative", tc.lang, msg.Header.Get("Content-Type"))
		}
		parts := map[string]string{}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
			ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if !strings.EqualFold(cp["charset"], "utf-8") {
				t.Errorf("%s: part %s charset %q; want UTF-8", tc.lang, ct, cp["charset"])
			}
			parts[ct] = string(b)
		}
		if !strings.Contains(parts["text/plain"], tc.wantText) {
			t.Errorf("%s: text part %q; want %q", tc.lang, parts["text/plain"], tc.wantText)
		}
		html := parts["text/html"]
		if !strings.Contains(html, `dir="`+tc.dir+`"`) || !strings.Contains(html, `lang="`+tc.lang+`"`) || !strings.Contains(html, tc.wantHTML) {
			t.Errorf("%s: HTML part %q; want dir=%s, lang and escaped values %q", tc.lang, html, tc.dir, tc.wantHTML)
		}
		got, err := api.GetNotification(moh, &notificationv1.GetNotificationRequest{Id: n.GetId()})
		if err != nil || got.GetStatus() == StatusCreated {
			t.Errorf("%s: notification %v, %v; want it sent", tc.lang, got, err)
		}
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.conns != 1 {
		t.Errorf("SMTP connections: %d; want the connection reused", ms.conns)
	}
}

// countingListener counts TCP connections (go-smtp starts a new session
// after STARTTLS, so sessions are not connections).
type countingListener struct {
	net.Listener
	ms *mailServer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ms.mu.Lock()
		l.ms.conns++
		l.ms.mu.Unlock()
	}
	return c, err
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
