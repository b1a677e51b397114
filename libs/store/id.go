package store

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"time"
)

// idEncoding is lower-case base32 without padding: ids that survive URLs,
// logs and case-insensitive systems.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix (such as "pay_") followed by 128 bits from
// crypto/rand in lower-case base32: an opaque, unguessable row id.
func NewID(prefix string) (string, error) {
	return NewIDFrom(rand.Reader, prefix)
}

// NewIDFrom is NewID reading its 128 bits from r, so that tests can make
// ids deterministic; nil r means crypto/rand.
func NewIDFrom(r io.Reader, prefix string) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("store: random id: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// Stamp returns t in UTC truncated to the microsecond, the precision both
// engines keep, so that a time written and read back compares equal.
func Stamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
