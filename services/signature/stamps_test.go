package signature

import (
	"context"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// TestStampSealedVerifiesWithOpenSSL: a stamp the payment enabler issued
// (its stamp_issued event on the PAYMENT stream) comes back sealed on
// tamkeen.signature.stamp_sealed as a compact JWS whose x5c chain openssl
// verifies against the platform's root and whose ES256 signature openssl
// verifies over the JWS signing input, with the stamp's fields in the
// payload; a changed payload does not verify.
func TestStampSealedVerifiesWithOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	h := newHarness(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus := h.svc.Bus
	if err := bus.EnsureStream(ctx, events.ServiceStream("payment", 1)); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStream(ctx, events.ServiceStream(Name, 1)); err != nil {
		t.Fatal(err)
	}
	sealed := make(chan *paymentv1.Stamp, 4)
	stop, err := bus.Consume(ctx, events.ConsumerConfig{Stream: "SIGNATURE", Durable: "test-stamps",
		FilterSubjects: []string{events.Subject(Name, "stamp_sealed")}}, func(_ context.Context, ev events.Event) error {
		var st paymentv1.Stamp
		if err := ev.UnmarshalData(&st); err != nil {
			return err
		}
		sealed <- &st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	issued := h.clock.Now().UTC().Truncate(time.Second)
	stamp := &paymentv1.Stamp{Serial: "PS-7K2QD-M9X4T-0B8ZN-W3RJF", Status: "valid", Value: 500, Currency: "ILS", FeeType: "court-fee",
		Department: "dept:courts", Buyer: "moj-portal", PaymentId: "pay_1", IssueTime: timestamppb.New(issued),
		ExpireTime: timestamppb.New(issued.Add(365 * 24 * time.Hour))}
	ev, err := events.Factory{Source: "tamkeen/payment"}.New("tamkeen.payment.stamp_issued.v1", stamp)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, events.Subject("payment", "stamp_issued"), ev); err != nil {
		t.Fatal(err)
	}
	var got *paymentv1.Stamp
	select {
	case got = <-sealed:
	case <-ctx.Done():
		t.Fatal("no stamp_sealed event")
	}
	if got.GetSerial() != stamp.GetSerial() {
		t.Fatalf("sealed serial = %q; want %q", got.GetSerial(), stamp.GetSerial())
	}
	parts := strings.Split(got.GetSignedStamp(), ".")
	if len(parts) != 3 {
		t.Fatalf("signed stamp %q is not a compact JWS", got.GetSignedStamp())
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64url %q: %v", s, err)
		}
		return b
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil || header.Alg != "ES256" || len(header.X5C) != 2 {
		t.Fatalf("JWS header = %s (%v); want ES256 with a two-certificate x5c", dec(parts[0]), err)
	}
	var claims StampClaims
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	want := StampClaims{Issuer: h.cfg.Organization, Serial: stamp.Serial, Value: 500, Currency: "ILS", FeeType: "court-fee",
		Department: "dept:courts", Buyer: "moj-portal", PaymentID: "pay_1", IssuedAt: issued.Unix(), Expires: issued.Add(365 * 24 * time.Hour).Unix()}
	if claims != want {
		t.Errorf("claims = %+v; want %+v", claims, want)
	}

	// Offline verification with openssl: the chain, then the signature.
	root, _ := h.caFiles(t)
	dir := t.TempDir()
	leaf, issuing := filepath.Join(dir, "seal.pem"), filepath.Join(dir, "issuing.pem")
	for i, p := range []string{leaf, issuing} {
		der, err := base64.StdEncoding.DecodeString(header.X5C[i])
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, p, der)
	}
	if out, err := run(t, "openssl", "verify", "-CAfile", root, "-untrusted", issuing, leaf); err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify of the seal's chain: %v\n%s", err, out)
	}
	subject, err := run(t, "openssl", "x509", "-in", leaf, "-noout", "-subject")
	if err != nil || !strings.Contains(subject, h.cfg.Organization) || !strings.Contains(subject, "NTRPS-"+PlatformSealClient) {
		t.Errorf("seal subject = %q (%v); want the platform organisation %q", subject, err, h.cfg.Organization)
	}
	pub := filepath.Join(dir, "pub.pem")
	if out, err := run(t, "openssl", "x509", "-in", leaf, "-pubkey", "-noout", "-out", pub); err != nil {
		t.Fatalf("openssl x509 -pubkey: %v\n%s", err, out)
	}
	raw := dec(parts[2])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
	if err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(dir, "sig.der")
	if err := os.WriteFile(sigFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(input string) (string, error) {
		in := filepath.Join(dir, "input.txt")
		if err := os.WriteFile(in, []byte(input), 0o600); err != nil {
			t.Fatal(err)
		}
		return run(t, "openssl", "dgst", "-sha256", "-verify", pub, "-signature", sigFile, in)
	}
	if out, err := verify(parts[0] + "." + parts[1]); err != nil || !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl dgst -verify of the JWS: %v\n%s", err, out)
	}
	forged := strings.Replace(string(dec(parts[1])), `"value":500`, `"value":50000`, 1)
	if out, err := verify(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged))); err == nil || strings.Contains(out, "Verified OK") {
		t.Errorf("a stamp with a changed value verified: %s", out)
	}
}
