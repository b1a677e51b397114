package sealed

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func newKey(t *testing.T) *PrivateKey {
	t.Helper()
	b64, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(b64)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealOpen: a blob opens with the recipient's key and its context
// only; it never contains the plaintext; sealing twice differs.
func TestSealOpen(t *testing.T) {
	k, other := newKey(t), newKey(t)
	pub, err := ParsePublicKey(k.Public().String())
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID() != k.Public().ID() {
		t.Fatalf("parsed public key id %s; want %s", pub.ID(), k.Public().ID())
	}
	msg := []byte("national id 401234567")
	blob, err := Seal(pub, "cit_a", msg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Seal(pub, "cit_a", msg)
	if bytes.Equal(blob, again) {
		t.Error("two seals of the same message are equal; want randomised")
	}
	if bytes.Contains(blob, []byte("401234567")) {
		t.Error("the blob holds the plaintext")
	}
	got, err := Open([]*PrivateKey{other, k}, "cit_a", blob)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v; want %q", got, err, msg)
	}
	for name, tc := range map[string]struct {
		keys []*PrivateKey
		ctx  string
		blob []byte
		want error
	}{
		"other context":   {[]*PrivateKey{k}, "cit_b", blob, ErrOpen},
		"other key":       {[]*PrivateKey{other}, "cit_a", blob, ErrUnknownKey},
		"tampered":        {[]*PrivateKey{k}, "cit_a", flip(blob, len(blob)-1), ErrOpen},
		"tampered enc":    {[]*PrivateKey{k}, "cit_a", flip(blob, 20), ErrOpen},
		"wrong version":   {[]*PrivateKey{k}, "cit_a", flip(blob, 0), ErrOpen},
		"truncated":       {[]*PrivateKey{k}, "cit_a", blob[:5], ErrOpen},
		"empty":           {[]*PrivateKey{k}, "cit_a", nil, ErrOpen},
		"truncated after": {[]*PrivateKey{k}, "cit_a", blob[:40], ErrOpen},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(tc.keys, tc.ctx, tc.blob); !errors.Is(err, tc.want) {
				t.Errorf("Open = %v; want %v", err, tc.want)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// TestParseKeys: bad encodings are refused with ErrBadKey; a list of
// private keys (rotation) parses, and an error names the bad entry.
func TestParseKeys(t *testing.T) {
	for name, s := range map[string]string{
		"not base64": "@@@", "short": "AAAA", "empty": "",
	} {
		if _, err := ParsePrivateKey(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePrivateKey(%s) = %v; want ErrBadKey", name, err)
		}
		if _, err := ParsePublicKey(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%s) = %v; want ErrBadKey", name, err)
		}
	}
	b64, _ := GenerateKey(rand.Reader)
	keys, err := ParsePrivateKeys(b64 + ", " + b64 + ",")
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParsePrivateKeys = %d keys, %v; want 2", len(keys), err)
	}
	if _, err := ParsePrivateKeys(" , "); !errors.Is(err, ErrBadKey) {
		t.Errorf("ParsePrivateKeys(empty list) = %v; want ErrBadKey", err)
	}
	if _, err := ParsePrivateKeys(b64 + ",xx"); err == nil || !strings.Contains(err.Error(), "key 2") {
		t.Errorf("ParsePrivateKeys(bad second) = %v; want an error naming key 2", err)
	}
}
