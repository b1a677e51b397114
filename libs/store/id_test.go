package store_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^pay_[a-z2-7]{26}$`)
	seen := map[string]bool{}
	for range 100 {
		id, err := store.NewID("pay_")
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(id) {
			t.Fatalf("NewID = %q; want pay_ and 26 base32 letters", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDFrom(t *testing.T) {
	t.Parallel()
	zeros := bytes.NewReader(make([]byte, 32))
	a, err := store.NewIDFrom(zeros, "x_")
	if err != nil {
		t.Fatal(err)
	}
	if want := "x_" + strings.Repeat("a", 26); a != want {
		t.Fatalf("NewIDFrom(zeros) = %q; want %q", a, want)
	}
	if _, err := store.NewIDFrom(bytes.NewReader(make([]byte, 3)), "x_"); err == nil {
		t.Fatal("NewIDFrom(short reader) = nil error; want one")
	}
	if _, err := store.NewIDFrom(errReader{}, "x_"); !errors.Is(err, errBroken) {
		t.Fatalf("NewIDFrom(broken) = %v; want it to wrap the reader's error", err)
	}
	if id, err := store.NewIDFrom(nil, "y_"); err != nil || !strings.HasPrefix(id, "y_") {
		t.Fatalf("NewIDFrom(nil) = %q, %v; want a crypto-random id", id, err)
	}
}

var errBroken = errors.New("broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestStamp(t *testing.T) {
	t.Parallel()
	in := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("PST", 2*3600))
	got := store.Stamp(in)
	want := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Stamp(%v) = %v; want %v in UTC", in, got, want)
	}
}
