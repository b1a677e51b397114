package store

import (
	"encoding/base64"
	"strings"
	"time"
)

// NextPage trims rows, read with a limit of size+1, to one page of size
// rows and returns the page token of the next page: token of the page's
// last row, or "" when rows held no more (the last page). Reading one row
// more than the page is how a list knows there is a next page without
// counting.
func NextPage[T any](rows []T, size int, token func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, token(rows[size-1])
}

// KeysetToken is the opaque page token of a list ordered by (created_at,
// id): the position of the row (createdAt, id) that ended the page, which
// the next query starts after, so that rows inserted meanwhile neither
// shift nor repeat the pages.
func KeysetToken(createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(createdAt.Format(time.RFC3339Nano) + "|" + id))
}

// ParseKeysetToken reads a KeysetToken back; false means token is not one
// (a caller answers with a field error on its page token).
func ParseKeysetToken(token string) (createdAt time.Time, id string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, "", false
	}
	createdAt, err = time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", false
	}
	return createdAt, id, true
}
