package natsembed_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
)

func TestStartConnectJetStream(t *testing.T) {
	tests := []struct {
		name    string
		opts    natsembed.Options
		wantURL bool
	}{
		{name: "in-process", opts: natsembed.Options{ServerName: "inproc"}},
		{name: "listen random port 0", opts: natsembed.Options{Listen: true, Port: 0}, wantURL: true},
		{name: "listen random port -1", opts: natsembed.Options{Listen: true, Port: -1}, wantURL: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := natstest.Start(t, tc.opts)
			if !s.Ready() {
				t.Fatal("Ready() = false after Start; want true")
			}
			if got := s.ClientURL() != ""; got != tc.wantURL {
				t.Fatalf("ClientURL() = %q; want non-empty %v", s.ClientURL(), tc.wantURL)
			}
			if tc.wantURL {
				if p := s.Port(); p <= 0 || p == 4222 {
					t.Fatalf("Port() = %d; want a random port other than 4222", p)
				}
				if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
					t.Fatalf("ClientURL() = %q; want nats://127.0.0.1:<port>", s.ClientURL())
				}
			} else if s.Port() != 0 {
				t.Fatalf("Port() = %d for in-process server; want 0", s.Port())
			}
			nc := natstest.Connect(t, s)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
				t.Fatalf("CreateStream: %v", err)
			}
			ack, err := js.Publish(ctx, "t.x", []byte("hi"))
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if ack.Sequence != 1 {
				t.Fatalf("ack sequence = %d; want 1", ack.Sequence)
			}
		})
	}
}

func TestRestartSamePortKeepsStreams(t *testing.T) {
	dir := t.TempDir()
	s1, err := natsembed.Start(natsembed.Options{Listen: true, Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := s1.Port()
	nc, err := s1.Connect()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s1.Shutdown()
	s1.Shutdown() // idempotent
	if s1.Ready() {
		t.Fatal("Ready() = true after Shutdown; want false")
	}
	if _, err := s1.Connect(); !errors.Is(err, natsembed.ErrShutdown) {
		t.Fatalf("Connect after Shutdown: err = %v; want ErrShutdown", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("caller's StoreDir removed by Shutdown: %v", err)
	}

	s2 := natstest.Start(t, natsembed.Options{Listen: true, Port: port, StoreDir: dir})
	if s2.Port() != port {
		t.Fatalf("restarted Port() = %d; want %d", s2.Port(), port)
	}
	js2, _ := jetstream.New(natstest.Connect(t, s2))
	st, err := js2.Stream(ctx, "T")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("messages after restart = %d; want 1", info.State.Msgs)
	}
}

func TestShutdownRemovesTempStoreDir(t *testing.T) {
	s, err := natsembed.Start(natsembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.StoreDir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temp store dir missing while running: %v", err)
	}
	s.Shutdown()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temp store dir %s after Shutdown: stat err = %v; want not exist", dir, err)
	}
}

func TestStartPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s, err := natsembed.Start(natsembed.Options{Listen: true, Port: port, StoreDir: t.TempDir()})
	if err == nil {
		s.Shutdown()
		t.Fatalf("Start on taken port %d succeeded; want error", port)
	}
	if !errors.Is(err, natsembed.ErrNotReady) {
		t.Fatalf("Start on taken port: err = %v; want ErrNotReady", err)
	}
}

func TestLoggerReceivesServerLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	s := natstest.Start(t, natsembed.Options{Logger: logger})
	s.Shutdown()
	if !strings.Contains(buf.String(), "JetStream") {
		t.Fatalf("server log = %q; want lines mentioning JetStream", buf.String())
	}
}

func TestInProcessClientSurvivesNoListener(t *testing.T) {
	s := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, s, nats.Name("probe"))
	sub, err := nc.SubscribeSync("ping")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("ping", []byte("1")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("NextMsg: %v", err)
	}
	if string(m.Data) != "1" {
		t.Fatalf("got %q; want %q", m.Data, "1")
	}
}

func TestEncryptionKeyHidesStoredMessages(t *testing.T) {
	const secret = "otp-code-493817"
	tests := []struct {
		name      string
		key       string
		wantPlain bool
	}{
		{"no key stores plaintext", "", true},
		{"key encrypts at rest", "s3cr3t-test-key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := natsembed.Start(natsembed.Options{StoreDir: dir, EncryptionKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			nc, err := s.Connect()
			if err != nil {
				t.Fatal(err)
			}
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTP", Subjects: []string{"otp.>"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(ctx, "otp.sms", []byte(secret)); err != nil {
				t.Fatal(err)
			}
			nc.Close()
			s.Shutdown()

			found := false
			err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				found = found || bytes.Contains(b, []byte(secret))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.wantPlain {
				t.Fatalf("plaintext found in store = %v; want %v", found, tc.wantPlain)
			}
			if tc.key == "" {
				return
			}
			// The same key reads the store back after a restart.
			s2 := natstest.Start(t, natsembed.Options{StoreDir: dir, EncryptionKey: tc.key})
			js2, _ := jetstream.New(natstest.Connect(t, s2))
			st, err := js2.Stream(ctx, "OTP")
			if err != nil {
				t.Fatal(err)
			}
			m, err := st.GetMsg(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != secret {
				t.Fatalf("message after restart = %q; want %q", m.Data, secret)
			}
		})
	}
}
