package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// runGateway serves s's gateway with Run on a fresh loopback listener
// until the test ends and returns its address.
func runGateway(t *testing.T, s *stack) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.gw.Run(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-errc })
	return lis.Addr().String()
}

// dialRaw opens a raw TCP connection to addr.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readUntilClosed reads c until EOF or an error and reports how long that
// took; it fails the test when c is still open after limit.
func readUntilClosed(t *testing.T, c net.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// TestSlowBodyIsCut: a client that trickles its body used to hold its
// connection for as long as it liked (only ReadHeaderTimeout was set). With
// ReadTimeout 1 s a body sent one byte every 200 ms is cut within about a
// second, although each byte arrives well before any per-read timeout.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{ReadTimeout: time.Second, SlowReadTimeout: 10 * time.Second}})
	addr := runGateway(t, s)
	c := dialRaw(t, addr)
	start := time.Now()
	_, err := io.WriteString(c, "POST /v1/payments HTTP/1.1\r\nHost: gw\r\nAuthorization: "+s.defaultAuth+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range 1000 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	if took := readUntilClosed(t, c, start, 5*time.Second); took > 3*time.Second {
		t.Errorf("slow body cut after %v; want about the 1 s read timeout", took)
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if s.rec.payment != nil {
		t.Errorf("the cut request reached the service: %v", s.rec.payment)
	}
}

// TestSlowRoutesGetTheirOwnDeadline: signing takes whole documents, so its
// route reads for SlowReadTimeout; the same 2 s upload that an ordinary
// route cuts at ReadTimeout (1 s) completes there.
// With the audit log on, the response writer is the audit's buffer, which
// must pass the deadlines on too.
func TestSlowRoutesGetTheirOwnDeadline(t *testing.T) {
	t.Parallel()
	for _, audit := range []bool{false, true} {
		t.Run("audit="+strconv.FormatBool(audit), func(t *testing.T) {
			t.Parallel()
			testSlowRoute(t, audit)
		})
	}
}

func testSlowRoute(t *testing.T, audit bool) {
	opts := stackOpts{noNATS: true, cfg: gateway.Config{ReadTimeout: time.Second, SlowReadTimeout: 10 * time.Second}}
	if audit {
		opts.db = storetest.SQLiteFile(t, filepath.Join(t.TempDir(), "gateway.db"))
		migrate(t, opts.db)
		opts.cfg.Audit, opts.cfg.AuditStampEvery = true, -1
	}
	s := newStack(t, opts)
	addr := runGateway(t, s)
	now := s.clock.Now()
	citizen := bearer(s.key.sign(t, citizenClaims(now, "cit_42", "loa2", now), nil))
	send := func(path, auth string) (int, error) {
		c := dialRaw(t, addr)
		body := `{"credential_id":"cred_1","document":"aGVsbG8="}`
		_, err := io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: gw\r\nAuthorization: "+auth+
			"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
		if err != nil {
			return 0, err
		}
		// Four pieces, 600 ms apart: 1.8 s in all.
		for i := 0; i < len(body); i += (len(body) + 3) / 4 {
			time.Sleep(600 * time.Millisecond)
			end := min(i+(len(body)+3)/4, len(body))
			if _, err := io.WriteString(c, body[i:end]); err != nil {
				return 0, err
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := send("/v1/signatures", citizen); err != nil || code != http.StatusOK {
		t.Errorf("slow upload to the signing route = %d, %v; want 200", code, err)
	}
	if code, err := send("/v1/payments", s.defaultAuth); err == nil && code < 400 {
		t.Errorf("slow upload to an ordinary route = %d; want it cut", code)
	}
}

// TestIdleKeepAliveCloses: an idle keep-alive connection is closed after
// IdleTimeout (it used to stay open for ever).
func TestIdleKeepAliveCloses(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{IdleTimeout: 500 * time.Millisecond}})
	addr := runGateway(t, s)
	c := dialRaw(t, addr)
	if _, err := io.WriteString(c, "GET /openapi.json HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server closed a plain keep-alive request; the test needs a kept connection")
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	_, err = br.ReadByte()
	took := time.Since(start)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection read = %v after %v; want EOF", err, took)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("idle connection closed after %v; want about the 500 ms idle timeout", took)
	}
}

// TestContentLengthWithTransferEncodingClosesConnection (RFC 9112 section
// 6.1): after a request with both Content-Length and Transfer-Encoding the
// server must close the connection, so that a request smuggled behind it
// is never served. net/http accepted it and kept the connection alive.
func TestContentLengthWithTransferEncodingClosesConnection(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	addr := runGateway(t, s)
	smuggled := "GET /openapi.json HTTP/1.1\r\nHost: gw\r\n\r\n"

	c := dialRaw(t, addr)
	_, err := io.WriteString(c, "POST /v1/payments HTTP/1.1\r\nHost: gw\r\nAuthorization: "+s.defaultAuth+
		"\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"2\r\n{}\r\n0\r\n\r\n"+smuggled)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read first response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// (ReadResponse turns "Connection: close" into resp.Close.)
	if !resp.Close {
		t.Errorf("CL+TE response %d: not Connection: close", resp.StatusCode)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after CL+TE the connection answered more (%v); want EOF, the smuggled request unserved", err)
	}

	// Content-Length alone keeps the connection: the pipelined request
	// after it is answered.
	c = dialRaw(t, addr)
	_, err = io.WriteString(c, "POST /v1/payments HTTP/1.1\r\nHost: gw\r\nAuthorization: "+s.defaultAuth+
		"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"+smuggled)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br = bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("Content-Length only, response %d: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
