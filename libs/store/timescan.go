package store

import (
	"database/sql"
	"fmt"
	"time"
)

// timeLayouts are the text forms a time can come back in from SQLite when
// the column has no TIMESTAMP declaration (expressions, aggregates).
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ScanTime returns a sql.Scanner that stores a non-NULL time into dst in
// UTC, whether the driver delivers a time.Time or (SQLite, for expressions
// such as MAX(created_at)) its text. Use it as rows.Scan(store.ScanTime(&t)).
func ScanTime(dst *time.Time) sql.Scanner { return timeScanner{t: dst} }

// ScanNullTime is ScanTime for a nullable column; NULL gives Valid false.
func ScanNullTime(dst *sql.NullTime) sql.Scanner { return timeScanner{nt: dst} }

type timeScanner struct {
	t  *time.Time
	nt *sql.NullTime
}

// Scan implements sql.Scanner.
func (s timeScanner) Scan(src any) error {
	var (
		t   time.Time
		err error
	)
	switch v := src.(type) {
	case nil:
		if s.nt == nil {
			return fmt.Errorf("store: scan time: NULL (use ScanNullTime for a nullable column)")
		}
		*s.nt = sql.NullTime{}
		return nil
	case time.Time:
		t = v
	case string:
		t, err = parseTime(v)
	case []byte:
		t, err = parseTime(string(v))
	default:
		return fmt.Errorf("store: scan time: unsupported %T", src)
	}
	if err != nil {
		return err
	}
	t = t.UTC()
	if s.nt != nil {
		*s.nt = sql.NullTime{Time: t, Valid: true}
	} else {
		*s.t = t
	}
	return nil
}

// parseTime reads s in any of timeLayouts; a time without an offset is UTC.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("store: scan time: %q is not a time", s)
}
