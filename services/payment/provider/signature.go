package provider

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries a webhook's signature.
const SignatureHeader = "Tamkeen-Signature"

// maxSignatureHeader bounds the header we are willing to parse.
const maxSignatureHeader = 4096

// Sign returns the signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SignatureParts is a parsed signature header.
type SignatureParts struct {
	// Timestamp is the t value in Unix seconds.
	Timestamp int64
	// V1 are the v1 signatures (several during a secret rotation).
	V1 [][]byte
}

// ParseSignature parses "t=<unix>,v1=<hex>[,v1=<hex>…]". Unknown schemes
// (v0=…, v2=…) are ignored so that a sender can add one; exactly one t and
// at least one well-formed v1 are required. Errors wrap ErrMalformed.
func ParseSignature(h string) (SignatureParts, error) {
	var p SignatureParts
	if len(h) > maxSignatureHeader {
		return p, fmt.Errorf("%w: signature header longer than %d bytes", ErrMalformed, maxSignatureHeader)
	}
	seenT := false
	for item := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return p, fmt.Errorf("%w: signature header item without '='", ErrMalformed)
		}
		switch k {
		case "t":
			if seenT {
				return p, fmt.Errorf("%w: two timestamps in the signature header", ErrMalformed)
			}
			seenT = true
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ts <= 0 || len(v) > 12 {
				return p, fmt.Errorf("%w: timestamp is not Unix seconds", ErrMalformed)
			}
			p.Timestamp = ts
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return p, fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrMalformed)
			}
			p.V1 = append(p.V1, sig)
		}
	}
	if !seenT {
		return p, fmt.Errorf("%w: no timestamp in the signature header", ErrMalformed)
	}
	if len(p.V1) == 0 {
		return p, fmt.Errorf("%w: no v1 signature in the signature header", ErrMalformed)
	}
	return p, nil
}

// Verify checks header against body: one v1 must be the HMAC of one of
// secrets (the current one, and the previous during a rotation) compared
// in constant time, and t must be within tolerance of now in either
// direction (clock skew). The timestamp is checked after the signature so
// that an attacker learns nothing about it from a forged header. It
// returns the signed time.
func Verify(secrets [][]byte, header string, body []byte, now time.Time, tolerance time.Duration) (time.Time, error) {
	p, err := ParseSignature(header)
	if err != nil {
		return time.Time{}, err
	}
	ts := strconv.FormatInt(p.Timestamp, 10)
	ok := false
	for _, s := range secrets {
		want := mac(s, ts, body)
		for _, got := range p.V1 {
			if hmac.Equal(got, want) {
				ok = true
			}
		}
	}
	if !ok {
		return time.Time{}, ErrBadSignature
	}
	t := time.Unix(p.Timestamp, 0).UTC()
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return time.Time{}, fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrStale, t.Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return t, nil
}
