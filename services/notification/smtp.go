package notification

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/tamkeen/tamkeen/libs/config"
)

// SMTPConfig configures e-mail over SMTP (flags --smtp-…, variables
// TAMKEEN_SMTP_…).
type SMTPConfig struct {
	Host     string `flag:"host" usage:"SMTP relay host"`
	Port     int    `flag:"port" default:"587" usage:"SMTP relay port"`
	Username string `flag:"username" usage:"SMTP AUTH user (empty: no AUTH)"`
	Password string `flag:"password" secret:"true" usage:"SMTP AUTH password"`
	// TLS is "starttls" (required), "tls" (implicit, port 465) or "none"
	// (a relay on the same host only).
	TLS     string        `flag:"tls" default:"starttls" usage:"starttls (required), tls (implicit) or none"`
	From    string        `flag:"from" usage:"sender address, e.g. Tamkeen <no-reply@gov.ps>"`
	HELO    string        `flag:"helo" usage:"name sent in HELO/EHLO (default: localhost)"`
	Timeout time.Duration `flag:"timeout" default:"30s" usage:"SMTP dial and command timeout"`
}

func (c SMTPConfig) validate(p *config.Problems) {
	if c.Host == "" {
		p.Add("smtp-host", "required with --email-provider=smtp")
	}
	if c.Port < 1 || c.Port > 65535 {
		p.Addf("smtp-port", "%d is not a port", c.Port)
	}
	switch c.TLS {
	case "starttls", "tls", "none":
	default:
		p.Addf("smtp-tls", "%q is not starttls, tls or none", c.TLS)
	}
	if c.From == "" {
		p.Add("smtp-from", "required with --email-provider=smtp")
	}
	if c.Username != "" && c.TLS == "none" {
		p.Add("smtp-tls", "AUTH sends the password: use starttls or tls")
	}
	if c.Timeout <= 0 {
		p.Add("smtp-timeout", "must be positive")
	}
}

// SMTPProvider sends e-mail to one SMTP relay, reusing the connection
// between messages (RSET between them) and redialling when it broke.
type SMTPProvider struct {
	cfg SMTPConfig
	tls *tls.Config

	mu     sync.Mutex
	client *mail.Client
	conn   *smtp.Client
}

// NewSMTPProvider returns the provider; tlsConfig may be nil (system
// roots, the host's name).
func NewSMTPProvider(cfg SMTPConfig, tlsConfig *tls.Config) *SMTPProvider {
	return &SMTPProvider{cfg: cfg, tls: tlsConfig}
}

// Name is "smtp".
func (p *SMTPProvider) Name() string { return ProviderSMTP }

// newClient builds the go-mail client for the configuration.
func (p *SMTPProvider) newClient() (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(p.cfg.Port), mail.WithTimeout(p.cfg.Timeout)}
	switch p.cfg.TLS {
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if p.tls != nil {
		opts = append(opts, mail.WithTLSConfig(p.tls))
	} else {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{ServerName: p.cfg.Host, MinVersion: tls.VersionTLS12}))
	}
	if p.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(p.cfg.HELO))
	}
	if p.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(p.cfg.Username), mail.WithPassword(p.cfg.Password))
	}
	return mail.NewClient(p.cfg.Host, opts...)
}

// BuildEmail makes the MIME message for m: multipart/alternative with a
// UTF-8 plain-text part and an HTML part, the subject RFC 2047-encoded
// when it is not ASCII, Content-Language set, and a Message-ID derived
// from the reference so that a relay or client can spot a repeat.
func BuildEmail(from string, m Email) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP))
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("%w: from: %v", ErrPermanentSend, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: to: %v", ErrPermanentSend, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.Reference != "" {
		domain := "tamkeen.invalid"
		if _, d, ok := strings.Cut(strings.Trim(from, "<> "), "@"); ok {
			domain = strings.TrimRight(d, ">")
		}
		msg.SetMessageIDWithValue(m.Reference + "@" + domain)
	}
	if m.Language != "" {
		msg.SetGenHeader(mail.HeaderContentLang, m.Language)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// SendEmail sends m over the kept connection, dialling when needed.
func (p *SMTPProvider) SendEmail(ctx context.Context, m Email) (string, error) {
	msg, err := BuildEmail(p.cfg.From, m)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if p.conn == nil {
			if p.client == nil {
				c, err := p.newClient()
				if err != nil {
					return "", fmt.Errorf("%w: smtp: %v", ErrPermanentSend, err)
				}
				p.client = c
			}
			conn, err := p.client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				return "", fmt.Errorf("notification: smtp dial: %w", err)
			}
			p.conn = conn
		} else if err := p.client.ResetWithSMTPClient(p.conn); err != nil {
			// The kept connection went stale (server timeout): redial.
			p.drop()
			continue
		}
		err = p.client.SendWithSMTPClient(p.conn, msg)
		if err == nil {
			id := m.Reference
			if v := msg.GetGenHeader(mail.HeaderMessageID); len(v) > 0 {
				id = strings.Trim(v[0], "<>")
			}
			return id, nil
		}
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.Reason != mail.ErrSMTPData {
			return "", fmt.Errorf("%w: smtp: %v", ErrPermanentSend, err)
		}
		p.drop()
		var ne net.Error
		if attempt == 0 && (errors.As(err, &ne) || errors.Is(err, net.ErrClosed)) {
			continue
		}
		return "", fmt.Errorf("notification: smtp: %w", err)
	}
	return "", errors.New("notification: smtp: connection keeps failing")
}

// drop forgets the kept connection.
func (p *SMTPProvider) drop() {
	if p.conn != nil {
		_ = p.client.CloseWithSMTPClient(p.conn)
		p.conn = nil
	}
}

// Close closes the kept connection.
func (p *SMTPProvider) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop()
}
