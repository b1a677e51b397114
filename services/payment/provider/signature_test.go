package provider

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec_test_secret")
	old := []byte("whsec_previous")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"charge.succeeded"}`)
	good := Sign(secret, now, body)
	for _, tc := range []struct {
		name    string
		secrets [][]byte
		header  string
		body    []byte
		now     time.Time
		want    error
	}{
		{"good", [][]byte{secret}, good, body, now, nil},
		{"within tolerance late", [][]byte{secret}, good, body, now.Add(5 * time.Minute), nil},
		{"within tolerance early (skew)", [][]byte{secret}, good, body, now.Add(-5 * time.Minute), nil},
		{"rotated secret", [][]byte{old, secret}, good, body, now, nil},
		{"stale", [][]byte{secret}, good, body, now.Add(5*time.Minute + time.Second), ErrStale},
		{"from the future", [][]byte{secret}, good, body, now.Add(-6 * time.Minute), ErrStale},
		{"forged with another secret", [][]byte{secret}, Sign([]byte("guess"), now, body), body, now, ErrBadSignature},
		{"body changed", [][]byte{secret}, good, []byte(`{"id":"evt_1","type":"charge.failed"}`), now, ErrBadSignature},
		{"timestamp moved", [][]byte{secret}, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, ErrBadSignature},
		{"second v1 good", [][]byte{secret}, good + ",v1=" + strings.Repeat("00", 32), body, now, nil},
		{"unknown scheme ignored", [][]byte{secret}, good + ",v0=abc", body, now, nil},
		{"empty", [][]byte{secret}, "", body, now, ErrMalformed},
		{"no t", [][]byte{secret}, "v1=" + strings.Repeat("ab", 32), body, now, ErrMalformed},
		{"no v1", [][]byte{secret}, "t=1800000000", body, now, ErrMalformed},
		{"two t", [][]byte{secret}, "t=1,t=2,v1=" + strings.Repeat("ab", 32), body, now, ErrMalformed},
		{"short v1", [][]byte{secret}, "t=1800000000,v1=abcd", body, now, ErrMalformed},
		{"t not a number", [][]byte{secret}, "t=soon,v1=" + strings.Repeat("ab", 32), body, now, ErrMalformed},
		{"huge header", [][]byte{secret}, good + strings.Repeat(",x=y", 2000), body, now, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Verify(tc.secrets, tc.header, tc.body, tc.now, 5*time.Minute)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v; want %v", err, tc.want)
			}
		})
	}
}

// FuzzParseSignature: no header crashes the parser, and a header that
// parses verifies only when it is the real signature.
func FuzzParseSignature(f *testing.F) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	f.Add(Sign(secret, now, []byte("{}")), []byte("{}"))
	f.Add("t=1,v1=", []byte(""))
	f.Add("t=1800000000,v1="+strings.Repeat("0", 64)+",v1=zz", []byte("x"))
	f.Add(",,,=,t==", []byte{0xff})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		p, err := ParseSignature(header)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSignature error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if p.Timestamp <= 0 || len(p.V1) == 0 {
			t.Fatalf("parsed %+v without a timestamp or signature", p)
		}
		signed := time.Unix(p.Timestamp, 0)
		if _, err := Verify([][]byte{secret}, header, body, signed, time.Minute); err == nil {
			real := mac(secret, strconv.FormatInt(p.Timestamp, 10), body)
			found := false
			for _, v := range p.V1 {
				found = found || bytes.Equal(v, real)
			}
			if !found {
				t.Fatalf("Verify accepted %q for body %q without the real MAC", header, body)
			}
		}
	})
}
