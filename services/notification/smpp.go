package notification

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/pause"
)

// SMPPConfig configures the SMPP 3.4 client (flags --smpp-…, variables
// TAMKEEN_SMPP_…).
type SMPPConfig struct {
	// Addr is the SMSC's host:port.
	Addr string `flag:"addr" usage:"SMSC address, host:port"`
	// SystemID, Password and SystemType are the bind credentials the
	// operator issued.
	SystemID   string `flag:"system-id" usage:"SMPP bind system_id"`
	Password   string `flag:"password" secret:"true" usage:"SMPP bind password"`
	SystemType string `flag:"system-type" usage:"SMPP bind system_type (often empty)"`
	// SourceAddr is the sender shown to citizens: alphanumeric (at most 11
	// characters) or a short code.
	SourceAddr string `flag:"source-addr" default:"Tamkeen" usage:"sender id: alphanumeric (11 max) or digits"`
	// Window is how many submit_sm may wait for their response at once,
	// over all binds.
	Window int `flag:"window" default:"10" usage:"outstanding submit_sm allowed before waiting for responses (all binds together)"`
	// Binds is how many transceiver sessions submit in parallel (as many
	// as the operator allows the system_id); they share Window and
	// throttling.
	Binds int `flag:"binds" default:"1" usage:"SMPP sessions submitting in parallel (sharing the window and throttling)"`
	// EnquireLink is the keep-alive interval.
	EnquireLink time.Duration `flag:"enquire-link" default:"30s" usage:"enquire_link interval"`
	// ResponseTimeout bounds waiting for any response (bind, submit,
	// enquire_link); a connection that misses it is closed and redialled.
	ResponseTimeout time.Duration `flag:"response-timeout" default:"10s" usage:"how long to wait for an SMSC response"`
	// ReconnectMin and ReconnectMax bound the back-off between dial or
	// bind attempts, which doubles from min to max.
	ReconnectMin time.Duration `flag:"reconnect-min" default:"500ms" usage:"first reconnect delay (doubles)"`
	ReconnectMax time.Duration `flag:"reconnect-max" default:"30s" usage:"longest reconnect delay"`
	// ThrottleDelay is the pause after ESME_RTHROTTLED or ESME_RMSGQFUL,
	// doubling while the SMSC keeps throttling, up to 30 s; the message is
	// then submitted again, never failed.
	ThrottleDelay time.Duration `flag:"throttle-delay" default:"1s" usage:"pause after the SMSC throttles (doubles, 30s max)"`
	// BindWait is how long a send waits for a bound session before it
	// counts as a temporary failure (and the lane retries it later).
	BindWait time.Duration `flag:"bind-wait" default:"5s" usage:"how long a send waits for the SMSC connection"`
}

// defaultSMPPConfig is SMPPConfig's defaults.
func defaultSMPPConfig() SMPPConfig {
	return SMPPConfig{SourceAddr: "Tamkeen", Window: 10, Binds: 1, EnquireLink: 30 * time.Second, ResponseTimeout: 10 * time.Second,
		ReconnectMin: 500 * time.Millisecond, ReconnectMax: 30 * time.Second, ThrottleDelay: time.Second, BindWait: 5 * time.Second}
}

func (c SMPPConfig) validate(p *config.Problems) {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p.Add("smpp-addr", "required with --sms-provider=smpp: host:port of the SMSC")
	}
	if c.SystemID == "" || len(c.SystemID) > 15 {
		p.Add("smpp-system-id", "required, at most 15 characters")
	}
	if len(c.Password) > 8 {
		p.Add("smpp-password", "at most 8 characters (SMPP 3.4)")
	}
	if c.SourceAddr == "" || len(c.SourceAddr) > 20 {
		p.Add("smpp-source-addr", "required, at most 20 characters")
	}
	if c.Window < 1 || c.Window > 1000 {
		p.Addf("smpp-window", "%d is outside 1..1000", c.Window)
	}
	if c.Binds < 1 || c.Binds > 32 {
		p.Addf("smpp-binds", "%d is outside 1..32", c.Binds)
	}
	for name, d := range map[string]time.Duration{"smpp-enquire-link": c.EnquireLink, "smpp-response-timeout": c.ResponseTimeout,
		"smpp-reconnect-min": c.ReconnectMin, "smpp-reconnect-max": c.ReconnectMax, "smpp-throttle-delay": c.ThrottleDelay, "smpp-bind-wait": c.BindWait} {
		if d <= 0 {
			p.Addf(name, "must be positive")
		}
	}
	if c.ReconnectMax < c.ReconnectMin {
		p.Add("smpp-reconnect-max", "is shorter than --smpp-reconnect-min")
	}
}

// ReceiptFunc takes a delivery receipt from provider.
type ReceiptFunc func(ctx context.Context, provider string, r Receipt) error

// errSMSCUnavailable: no bound session within BindWait; nothing was sent.
var errSMSCUnavailable = errors.New("notification: SMSC not connected")

// SMPPProvider sends SMS over Binds SMPP 3.4 transceiver sessions (the PDU
// codec is gosmpp's; the session is ours, so that each behaviour the
// operators expect is explicit):
//
//   - bind_transceiver with system_id/password; receipts come back on the
//     same connection as deliver_sm and are answered with deliver_sm_resp
//     once stored (a temporary-error response makes the SMSC resend);
//   - windowed asynchronous submit_sm: up to Window requests in flight
//     over all sessions, matched to responses by sequence number, from any
//     number of senders; an urgent (OTP) send waiting for the window goes
//     before every waiting bulk one, so an OTP never queues behind a
//     campaign;
//   - concatenated messages with an 8-bit-reference UDH (esm_class 0x40),
//     GSM 03.38 unpacked (data_coding 0) or UCS-2 big-endian (0x08);
//   - enquire_link every EnquireLink; a missing answer closes the link;
//   - reconnect with doubling back-off from ReconnectMin to ReconnectMax;
//   - ESME_RTHROTTLED / ESME_RMSGQFUL pause every sender (ThrottleDelay,
//     doubling) and resubmit: throttling slows, it never fails a message.
//
// The at-most-once window: a submit_sm written but whose response never
// came (the link broke, or ResponseTimeout passed) may or may not have
// reached the SMSC; SendSMS reports ErrOutcomeUnknown and the message is
// not sent again. The same holds when a later part of a multipart message
// fails after earlier parts went out.
type SMPPProvider struct {
	cfg       SMPPConfig
	log       *slog.Logger
	onReceipt ReceiptFunc
	window    *priorityWindow
	ref       atomic.Uint32

	mu    sync.Mutex
	sess  []*smppSession // the bound sessions
	next  int            // round-robin over sess
	ready chan struct{}  // closed while a session is bound

	tmu         sync.Mutex
	pauseUntil  time.Time
	throttleRun int

	// Counters for tests, benchmarks and metrics (newSMPPCollector);
	// reconnects counts retries after a failed connect or a lost link.
	submitted, throttled, binds, reconnects atomic.Int64
}

// NewSMPPProvider returns the provider; Run connects it.
func NewSMPPProvider(cfg SMPPConfig, onReceipt ReceiptFunc, log *slog.Logger) *SMPPProvider {
	return &SMPPProvider{cfg: cfg, log: host.OrDiscard(log), onReceipt: onReceipt, window: newPriorityWindow(cfg.Window), ready: make(chan struct{})}
}

// Name is "smpp".
func (p *SMPPProvider) Name() string { return ProviderSMPP }

// Stats reports submit_sm accepted, throttling responses and binds so far.
func (p *SMPPProvider) Stats() (submitted, throttled, binds int64) {
	return p.submitted.Load(), p.throttled.Load(), p.binds.Load()
}

// state reports, for the metrics, whether a session is bound, how many
// submit_sm wait for their response, and the throttling answers and
// reconnects so far.
func (p *SMPPProvider) state() (bound bool, windowInUse int, throttled, reconnects int64) {
	p.mu.Lock()
	bound = len(p.sess) > 0
	p.mu.Unlock()
	return bound, p.window.inUse(), p.throttled.Load(), p.reconnects.Load()
}

// Run keeps Binds sessions bound until ctx ends, each redialling with
// back-off.
func (p *SMPPProvider) Run(ctx context.Context) error {
	binds := max(p.cfg.Binds, 1)
	errs := make(chan error, binds)
	for range binds {
		go func() { errs <- p.runSession(ctx) }()
	}
	var err error
	for range binds {
		err = <-errs
	}
	return err
}

// runSession keeps one session bound until ctx ends.
func (p *SMPPProvider) runSession(ctx context.Context) error {
	delay := p.cfg.ReconnectMin
	for {
		sess, err := p.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.log.Warn("notification: SMPP connect failed; retrying", slog.String("err", err.Error()), slog.Duration("in", delay))
			p.reconnects.Add(1)
			if !pause.For(ctx, delay, nil) {
				return ctx.Err()
			}
			delay = min(delay*2, p.cfg.ReconnectMax)
			continue
		}
		delay = p.cfg.ReconnectMin
		p.binds.Add(1)
		p.log.Info("notification: SMPP bound", slog.String("addr", p.cfg.Addr))
		p.setSession(sess)
		err = sess.serve(ctx, p)
		p.clearSession(sess)
		if ctx.Err() != nil {
			sess.unbind()
			return ctx.Err()
		}
		p.log.Warn("notification: SMPP link lost; reconnecting", slog.String("err", err.Error()))
		p.reconnects.Add(1)
		if !pause.For(ctx, delay, nil) {
			return ctx.Err()
		}
	}
}

func (p *SMPPProvider) setSession(s *smppSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sess = append(p.sess, s)
	if len(p.sess) == 1 {
		close(p.ready)
	}
}

func (p *SMPPProvider) clearSession(s *smppSession) {
	p.mu.Lock()
	if i := slices.Index(p.sess, s); i >= 0 {
		p.sess = slices.Delete(p.sess, i, i+1)
		if len(p.sess) == 0 {
			p.ready = make(chan struct{})
		}
	}
	p.mu.Unlock()
	s.close(errors.New("session ended"))
}

// session waits up to BindWait for a bound session, taking them in turn.
func (p *SMPPProvider) session(ctx context.Context) (*smppSession, error) {
	t := time.NewTimer(p.cfg.BindWait)
	defer t.Stop()
	for {
		p.mu.Lock()
		var s *smppSession
		if len(p.sess) > 0 {
			p.next = (p.next + 1) % len(p.sess)
			s = p.sess[p.next]
		}
		ready := p.ready
		p.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-t.C:
			return nil, errSMSCUnavailable
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dial connects and binds as a transceiver.
func (p *SMPPProvider) dial(ctx context.Context) (*smppSession, error) {
	d := net.Dialer{Timeout: p.cfg.ResponseTimeout}
	conn, err := d.DialContext(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := newSMPPSession(conn, p.cfg)
	bind := pdu.NewBindTransceiver().(*pdu.BindRequest)
	bind.SystemID, bind.Password, bind.SystemType = p.cfg.SystemID, p.cfg.Password, p.cfg.SystemType
	bind.InterfaceVersion = data.SMPP_V34
	_ = conn.SetDeadline(time.Now().Add(p.cfg.ResponseTimeout))
	if err := s.write(bind); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := pdu.Parse(s.r)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	h := resp.GetHeader()
	if h.CommandID != data.BIND_TRANSCEIVER_RESP || h.CommandStatus != data.ESME_ROK {
		conn.Close()
		return nil, fmt.Errorf("bind refused: %v", h.CommandStatus)
	}
	return s, nil
}

// smppSession is one bound connection.
type smppSession struct {
	cfg     SMPPConfig
	conn    net.Conn
	r       *bufio.Reader
	wmu     sync.Mutex
	seq     atomic.Int32
	pmu     sync.Mutex
	pending map[int32]chan pdu.PDU
	done    chan struct{}
	once    sync.Once
}

func newSMPPSession(conn net.Conn, cfg SMPPConfig) *smppSession {
	return &smppSession{cfg: cfg, conn: conn, r: bufio.NewReader(conn), pending: map[int32]chan pdu.PDU{}, done: make(chan struct{})}
}

// write sends p with the session's next sequence number.
func (s *smppSession) write(p pdu.PDU) error {
	buf := pdu.NewBuffer(make([]byte, 0, 256))
	p.Marshal(buf)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.ResponseTimeout))
	_, err := s.conn.Write(buf.Bytes())
	return err
}

// errUnsent marks a request that was never written: safe to retry.
var errUnsent = errors.New("notification: SMPP request not sent")

// call writes a request and waits for its response. A request never
// written fails with errUnsent; one written whose response never came,
// with ErrOutcomeUnknown.
func (s *smppSession) call(req pdu.PDU) (pdu.PDU, error) {
	seq := s.seq.Add(1)
	req.SetSequenceNumber(seq)
	ch := make(chan pdu.PDU, 1)
	s.pmu.Lock()
	s.pending[seq] = ch
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, seq)
		s.pmu.Unlock()
	}()
	select {
	case <-s.done:
		return nil, fmt.Errorf("%w: link closed", errUnsent)
	default:
	}
	if err := s.write(req); err != nil {
		s.close(err)
		return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	}
	t := time.NewTimer(s.cfg.ResponseTimeout)
	defer t.Stop()
	select {
	case resp := <-ch:
		return resp, nil
	case <-s.done:
		return nil, fmt.Errorf("%w: link closed before the response", ErrOutcomeUnknown)
	case <-t.C:
		s.close(errors.New("response timeout"))
		return nil, fmt.Errorf("%w: no response in %v", ErrOutcomeUnknown, s.cfg.ResponseTimeout)
	}
}

func (s *smppSession) close(error) {
	s.once.Do(func() {
		close(s.done)
		s.conn.Close()
	})
}

// unbind says goodbye politely, best effort.
func (s *smppSession) unbind() {
	_, _ = s.call(pdu.NewUnbind())
	s.close(nil)
}

// serve reads PDUs and keeps the link alive until it fails or ctx ends.
func (s *smppSession) serve(ctx context.Context, p *SMPPProvider) error {
	errc := make(chan error, 2)
	go func() { errc <- s.readLoop(ctx, p) }()
	go func() {
		t := time.NewTicker(s.cfg.EnquireLink)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				errc <- errors.New("closed")
				return
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			case <-t.C:
				resp, err := s.call(pdu.NewEnquireLink())
				if err != nil {
					s.close(err)
					errc <- fmt.Errorf("enquire_link: %w", err)
					return
				}
				if resp.GetHeader().CommandID != data.ENQUIRE_LINK_RESP {
					p.log.Warn("notification: SMPP enquire_link answered oddly")
				}
			}
		}
	}()
	err := <-errc
	if ctx.Err() == nil {
		s.close(err)
	}
	return err
}

// readLoop dispatches what the SMSC sends.
func (s *smppSession) readLoop(ctx context.Context, p *SMPPProvider) error {
	for {
		m, err := pdu.Parse(s.r)
		if err != nil {
			s.close(err)
			return fmt.Errorf("read: %w", err)
		}
		h := m.GetHeader()
		switch {
		case h.CommandID == data.DELIVER_SM:
			go s.receipt(ctx, p, m.(*pdu.DeliverSM))
		case h.CommandID == data.ENQUIRE_LINK:
			_ = s.write(m.GetResponse())
		case h.CommandID == data.UNBIND:
			_ = s.write(m.GetResponse())
			s.close(errors.New("unbound by the SMSC"))
			return errors.New("unbound by the SMSC")
		case uint32(h.CommandID)&0x80000000 != 0 || h.CommandID == data.GENERIC_NACK:
			s.pmu.Lock()
			ch := s.pending[h.SequenceNumber]
			s.pmu.Unlock()
			if ch != nil {
				ch <- m
			}
		default:
			resp := pdu.NewGenericNack()
			resp.SetSequenceNumber(h.SequenceNumber)
			g := resp.(*pdu.GenericNack)
			g.CommandStatus = data.ESME_RINVCMDID
			_ = s.write(resp)
		}
	}
}

// receipt applies one deliver_sm and answers it: ESME_ROK once stored (or
// when it is no receipt), a temporary error when storing failed so that
// the SMSC delivers it again.
func (s *smppSession) receipt(ctx context.Context, p *SMPPProvider, d *pdu.DeliverSM) {
	resp := d.GetResponse()
	raw, _ := d.Message.GetMessageData()
	tlvs := make(map[uint16][]byte, len(d.OptionalParameters))
	for tag, f := range d.OptionalParameters {
		tlvs[uint16(tag)] = f.Data
	}
	r, err := ParseDeliverSM(d.EsmClass, raw, tlvs)
	switch {
	case errors.Is(err, ErrNotReceipt):
		// Mobile-originated messages are not handled; acknowledge them.
	case err != nil:
		p.log.Warn("notification: SMPP receipt does not parse", slog.String("err", err.Error()))
	case p.onReceipt != nil:
		if aerr := p.onReceipt(ctx, ProviderSMPP, r); aerr != nil {
			p.log.Warn("notification: SMPP receipt not stored; the SMSC will resend", slog.String("err", aerr.Error()))
			setStatus(resp, data.ESME_RX_T_APPN)
		}
	}
	_ = s.write(resp)
}

// setStatus sets a response's command_status.
func setStatus(p pdu.PDU, st data.CommandStatusType) {
	if r, ok := p.(*pdu.DeliverSMResp); ok {
		r.CommandStatus = st
	}
}

// smsPart is one submit_sm's short message.
type smsPart struct {
	data   []byte
	coding data.Encoding
	udh    pdu.UDH
}

// SMPPParts encodes body as the short messages it is submitted in: GSM
// 03.38 unpacked or UCS-2 big-endian, split as MeasureSMS counts, each
// part of a longer message with a concatenation UDH of reference ref.
func SMPPParts(body string, ref byte) ([][]byte, byte, [][]byte) {
	parts := smppParts(body, ref)
	var (
		out, udhs [][]byte
		coding    byte
	)
	for _, p := range parts {
		out = append(out, p.data)
		coding = p.coding.DataCoding()
		u, _ := p.udh.MarshalBinary()
		udhs = append(udhs, u)
	}
	return out, coding, udhs
}

func smppParts(body string, ref byte) []smsPart {
	texts := SplitSMS(body)
	enc := MeasureSMS(body).Encoding
	parts := make([]smsPart, len(texts))
	for i, t := range texts {
		if enc == GSM7 {
			b, _ := EncodeGSM7(t)
			parts[i] = smsPart{data: b, coding: data.GSM7BIT}
		} else {
			u := utf16.Encode([]rune(t))
			b := make([]byte, 2*len(u))
			for j, c := range u {
				binary.BigEndian.PutUint16(b[2*j:], c)
			}
			parts[i] = smsPart{data: b, coding: data.UCS2}
		}
		if len(texts) > 1 {
			parts[i].udh = pdu.UDH{pdu.NewIEConcatMessage(byte(len(texts)), byte(i+1), ref)}
		}
	}
	return parts
}

// SendSMS submits m's parts and returns their message ids, comma-separated.
func (p *SMPPProvider) SendSMS(ctx context.Context, m SMS) (string, error) {
	parts := smppParts(m.Body, byte(p.ref.Add(1)))
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: empty message", ErrPermanentSend)
	}
	ids := make([]string, 0, len(parts))
	for i, part := range parts {
		id, err := p.submit(ctx, m.To, part, m.Urgent)
		if err != nil {
			if i > 0 && !errors.Is(err, ErrPermanentSend) {
				// Earlier parts went out: sending again would repeat them.
				return "", fmt.Errorf("%w: part %d of %d: %v", ErrOutcomeUnknown, i+1, len(parts), err)
			}
			return "", err
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, ","), nil
}

// submit sends one part, waiting out throttling, and returns its id.
func (p *SMPPProvider) submit(ctx context.Context, to string, part smsPart, urgent bool) (string, error) {
	for {
		if err := p.waitThrottle(ctx); err != nil {
			return "", err
		}
		sess, err := p.session(ctx)
		if err != nil {
			return "", err
		}
		if err := p.window.acquire(ctx, urgent); err != nil {
			return "", err
		}
		resp, err := sess.call(p.submitPDU(to, part))
		p.window.release()
		if errors.Is(err, errUnsent) {
			continue
		}
		if err != nil {
			return "", err
		}
		h := resp.GetHeader()
		switch h.CommandStatus {
		case data.ESME_ROK:
			r, ok := resp.(*pdu.SubmitSMResp)
			if !ok || !validReceiptID(r.MessageID) {
				return "", fmt.Errorf("%w: submit_sm_resp without a usable message_id", ErrOutcomeUnknown)
			}
			p.submitted.Add(1)
			p.throttleDone()
			return r.MessageID, nil
		case data.ESME_RTHROTTLED, data.ESME_RMSGQFUL:
			p.throttled.Add(1)
			p.throttle()
			continue
		case data.ESME_RINVDSTADR, data.ESME_RINVDSTTON, data.ESME_RINVDSTNPI, data.ESME_RINVMSGLEN, data.ESME_RINVESMCLASS:
			return "", fmt.Errorf("%w: SMSC refused: %v", ErrPermanentSend, h.CommandStatus)
		default:
			return "", fmt.Errorf("notification: SMSC answered %v", h.CommandStatus)
		}
	}
}

// submitPDU builds the submit_sm for one part.
func (p *SMPPProvider) submitPDU(to string, part smsPart) pdu.PDU {
	sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
	if isDigits(p.cfg.SourceAddr) {
		sm.SourceAddr = pdu.NewAddressWithTonNpi(1, 1)
	} else {
		sm.SourceAddr = pdu.NewAddressWithTonNpi(5, 0) // alphanumeric
	}
	_ = sm.SourceAddr.SetAddress(p.cfg.SourceAddr)
	sm.DestAddr = pdu.NewAddressWithTonNpi(1, 1) // international, E.164
	_ = sm.DestAddr.SetAddress(strings.TrimPrefix(to, "+"))
	_ = sm.Message.SetMessageDataWithEncoding(part.data, part.coding)
	sm.RegisteredDelivery = 1 // a receipt for success and failure
	if part.udh != nil {
		sm.Message.SetUDH(part.udh)
		sm.EsmClass |= data.SM_UDH_GSM
	}
	return sm
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// throttle pauses every sender, longer while the SMSC keeps throttling.
func (p *SMPPProvider) throttle() {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	d := p.cfg.ThrottleDelay
	for i := 0; i < p.throttleRun && d < 30*time.Second; i++ {
		d *= 2
	}
	p.throttleRun++
	if until := time.Now().Add(min(d, 30*time.Second)); until.After(p.pauseUntil) {
		p.pauseUntil = until
	}
}

func (p *SMPPProvider) throttleDone() {
	p.tmu.Lock()
	p.throttleRun = 0
	p.tmu.Unlock()
}

// waitThrottle waits until the throttling pause is over.
func (p *SMPPProvider) waitThrottle(ctx context.Context) error {
	p.tmu.Lock()
	d := time.Until(p.pauseUntil)
	p.tmu.Unlock()
	if d <= 0 {
		return nil
	}
	if !pause.For(ctx, d, nil) {
		return ctx.Err()
	}
	return nil
}

// priorityWindow is the submit window: size slots shared by every
// session, handed out first to urgent waiters, then to the others, each
// in arrival order.
type priorityWindow struct {
	mu             sync.Mutex
	size, used     int
	urgent, normal []chan struct{}
}

func newPriorityWindow(size int) *priorityWindow {
	return &priorityWindow{size: max(size, 1)}
}

// acquire takes a slot, waiting behind earlier waiters of its class (and
// a normal one behind every urgent one).
func (w *priorityWindow) acquire(ctx context.Context, urgent bool) error {
	w.mu.Lock()
	if w.used < w.size && len(w.urgent) == 0 && (urgent || len(w.normal) == 0) {
		w.used++
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	q := &w.normal
	if urgent {
		q = &w.urgent
	}
	*q = append(*q, ch)
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		i := slices.Index(*q, ch)
		if i >= 0 {
			*q = slices.Delete(*q, i, i+1)
		}
		w.mu.Unlock()
		if i < 0 {
			// Handed a slot as ctx ended: pass it on.
			w.release()
		}
		return ctx.Err()
	}
}

// release returns a slot, or hands it to the first waiter.
func (w *priorityWindow) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range []*[]chan struct{}{&w.urgent, &w.normal} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			ch <- struct{}{}
			return
		}
	}
	w.used--
}

// inUse is how many slots are taken.
func (w *priorityWindow) inUse() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.used
}
