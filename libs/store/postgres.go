package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens (without pinging) the PostgreSQL database at dsn.
func openPostgres(dsn string) (*sql.DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("%w: PostgreSQL needs a DSN (postgres://user@host:5432/db?sslmode=...)", ErrBadOptions)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN's parts, not the password.
		return nil, fmt.Errorf("%w: PostgreSQL DSN: %v", ErrBadOptions, err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	// CURRENT_TIMESTAMP::timestamp and friends then give UTC, as on SQLite.
	cfg.RuntimeParams["timezone"] = "UTC"
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(registerUTCTimestamp)), nil
}

// registerUTCTimestamp makes the connection encode TIMESTAMP (without time
// zone) parameters in UTC. pgx alone keeps a time's wall clock and drops its
// zone, so 10:00+02:00 would be stored as 10:00 instead of 08:00.
func registerUTCTimestamp(_ context.Context, conn *pgx.Conn) error {
	conn.TypeMap().RegisterType(&pgtype.Type{
		Name:  "timestamp",
		OID:   pgtype.TimestampOID,
		Codec: &utcTimestampCodec{},
	})
	return nil
}

// utcTimestampCodec is pgtype.TimestampCodec with UTC conversion on encode.
type utcTimestampCodec struct {
	pgtype.TimestampCodec
}

// PlanEncode wraps the standard plan so that it sees the time in UTC.
func (c *utcTimestampCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	next := c.TimestampCodec.PlanEncode(m, oid, format, value)
	if next == nil {
		return nil
	}
	return utcEncodePlan{next: next}
}

// utcEncodePlan converts a finite timestamp to UTC, then encodes it with next.
type utcEncodePlan struct {
	next pgtype.EncodePlan
}

// Encode implements pgtype.EncodePlan.
func (p utcEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	tv, ok := value.(pgtype.TimestampValuer)
	if !ok {
		return p.next.Encode(value, buf)
	}
	ts, err := tv.TimestampValue()
	if err != nil {
		return nil, err
	}
	if ts.Valid && ts.InfinityModifier == pgtype.Finite {
		ts.Time = ts.Time.UTC()
	}
	return p.next.Encode(ts, buf)
}
