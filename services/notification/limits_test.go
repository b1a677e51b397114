package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// TestLimitsRaceFree: 16 sends at once against a limit of N let exactly N
// through, on both engines, for each limit; the refused ones answer
// RESOURCE_EXHAUSTED with a Retry-After, and no row of theirs is left.
func TestLimitsRaceFree(t *testing.T) {
	const racers = 16
	tests := []struct {
		name string
		edit func(*Config)
		// phone is the recipient of racer i; bulk sends 3-row bulk jobs.
		phone func(i int) string
		bulk  bool
		// want is how many sends (jobs) get through.
		want int
	}{
		{"client-minute", func(c *Config) { c.RecipientHourlyLimit, c.ClientMinuteLimit, c.ClientDailyLimit = 0, 5, 0 },
			func(i int) string { return fmt.Sprintf("+9705991%05d", i) }, false, 5},
		{"recipient-hourly", func(c *Config) { c.RecipientHourlyLimit, c.ClientMinuteLimit, c.ClientDailyLimit = 3, 0, 0 },
			func(int) string { return "+970599200000" }, false, 3},
		{"client-daily", func(c *Config) { c.RecipientHourlyLimit, c.ClientMinuteLimit, c.ClientDailyLimit = 0, 0, 7 },
			func(i int) string { return fmt.Sprintf("+9705993%05d", i) }, false, 7},
		// 3 messages a job, 20 a day: 6 jobs (18) fit, a 7th would be 21.
		{"client-daily bulk", func(c *Config) { c.RecipientHourlyLimit, c.ClientMinuteLimit, c.ClientDailyLimit = 10, 5, 20 },
			func(i int) string { return fmt.Sprintf("+9705994%05d", i) }, true, 6},
	}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := startAPI(t, db, tc.edit)
				client := "moh-" + strings.ReplaceAll(tc.name, " ", "-")
				ctx := a.iss.as(t, client)
				tpl, err := a.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello"})
				if err != nil {
					t.Fatal(err)
				}
				var (
					wg                sync.WaitGroup
					mu                sync.Mutex
					accepted, refused int
					other             []error
				)
				start := make(chan struct{})
				for i := range racers {
					wg.Go(func() {
						<-start
						var err error
						if tc.bulk {
							var rows []*notificationv1.BulkRecipient
							for j := range 3 {
								rows = append(rows, &notificationv1.BulkRecipient{Recipient: tc.phone(i*3 + j)})
							}
							_, err = a.api.CreateBulkJob(ctx, &notificationv1.CreateBulkJobRequest{Channel: "sms", TemplateId: tpl.GetId(), Recipients: rows})
						} else {
							_, err = a.api.SendSms(ctx, &notificationv1.SendSmsRequest{PhoneNumber: tc.phone(i), TemplateId: tpl.GetId()})
						}
						mu.Lock()
						defer mu.Unlock()
						d, ok := rpcerr.RetryAfter(err)
						switch {
						case err == nil:
							accepted++
						case code(err) == codes.ResourceExhausted && ok && d > 0:
							refused++
						default:
							other = append(other, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if accepted != tc.want || refused != racers-tc.want || len(other) > 0 {
					t.Fatalf("%d racers: %d accepted, %d refused, other errors %v; want %d accepted, the rest refused with Retry-After",
						racers, accepted, refused, other, tc.want)
				}
				perSend := 1
				if tc.bulk {
					perSend = 3
				}
				var rows int
				if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notifications WHERE client_id = $1`, client).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				if rows != tc.want*perSend {
					t.Errorf("notifications of %s = %d; want %d (no row of a refused send)", client, rows, tc.want*perSend)
				}
			})
		}
	})
}

// recordingQuerier records the statements a limit check runs and the rows
// they return.
type recordingQuerier struct {
	db      *store.DB
	queries []string
}

func (r *recordingQuerier) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r.queries = append(r.queries, q)
	return r.db.ExecContext(ctx, q, args...)
}

func (r *recordingQuerier) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r.queries = append(r.queries, q)
	return r.db.QueryContext(ctx, q, args...)
}

func (r *recordingQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	r.queries = append(r.queries, q)
	return r.db.QueryRowContext(ctx, q, args...)
}

// limitService is a service with only what the limits need: db and a
// clock.
func limitService(db *store.DB, cfg Config, now func() time.Time) *Service {
	return &Service{Kit: host.NewKit(Name, host.Env{DB: db, Now: now}, events.RelayOptions{}), cfg: cfg}
}

// seedDay writes n bulk-lane SMS of client created at now, as a campaign
// earlier in the day leaves them, with their counters.
func seedDay(tb testing.TB, s *Service, client string, n int) {
	tb.Helper()
	ctx := context.Background()
	now := s.nowUTC()
	msgs := make([]Notification, n)
	for i := range msgs {
		id := fmt.Sprintf("ntf_seed_%s_%06d", client, i)
		msgs[i] = Notification{ID: id, EventID: id, CommandID: id, ClientID: client, Channel: ChannelSMS, Lane: LaneBulk,
			TemplateID: "tpl", Language: "en", Recipient: fmt.Sprintf("+9705995%05d", i), Body: "Hello", Encoding: "gsm7", Segments: 1,
			Status: StatusDelivered, submission: submissionAccepted, ExpireAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	for lo := 0; lo < n; lo += 5000 {
		batch := msgs[lo:min(lo+5000, n)]
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			for _, m := range batch {
				if err := insertNotification(ctx, tx, m); err != nil {
					return err
				}
			}
			return s.countLimits(ctx, tx, client, batch, checkNone)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// TestLimitCheckReadsOneRowPerLimit: the work of a send's limit check does
// not grow with the day's messages. With 0 and with 25,000 of the
// client's messages today, the check of an SMS runs the same three
// statements, each reading one counter row by its primary key, and none
// touches the notifications table.
func TestLimitCheckReadsOneRowPerLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25,000 rows")
	}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := context.Background()
		cfg := DefaultConfig()
		s := limitService(db, cfg, time.Now)
		send := []Notification{{ClientID: "moh", Channel: ChannelSMS, Lane: LaneNormal, Recipient: "+970599600001"}}
		check := func() []string {
			t.Helper()
			rec := &recordingQuerier{db: db}
			if err := s.checkLimits(ctx, rec, "moh", send, checkSend); err != nil {
				t.Fatal(err)
			}
			return rec.queries
		}
		empty := check()
		seedDay(t, s, "moh", 25000)
		var today int
		if err := db.QueryRowContext(ctx, `SELECT count FROM limit_counters WHERE scope = $1 AND key = $2`, limitClientDaily, "moh").Scan(&today); err != nil || today != 25000 {
			t.Fatalf("client-daily counter = %d, %v; want 25000", today, err)
		}
		full := check()
		if len(empty) != 3 || strings.Join(empty, "\n") != strings.Join(full, "\n") {
			t.Fatalf("statements with 0 messages today %q, with 25,000 %q; want the same three", empty, full)
		}
		for _, q := range full {
			if strings.Contains(q, "notifications") || !strings.Contains(q, "FROM limit_counters WHERE scope = $1 AND key = $2") {
				t.Errorf("limit check ran %q; want a read of one limit_counters row by its primary key", q)
			}
		}
		// And the engine reads that row through the primary key's index.
		plan := explain(t, db, full[0])
		if !strings.Contains(plan, "sqlite_autoindex_limit_counters_1 (scope=? AND key=?)") && !strings.Contains(plan, "limit_counters_pkey") {
			t.Errorf("plan of the counter read = %q; want the primary key", plan)
		}
	})
}

// explain returns the plan of query q (with two text parameters) on db's
// engine; on PostgreSQL with sequential scans off, as a tiny table would
// otherwise be scanned whatever its indexes.
func explain(t *testing.T, db *store.DB, q string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		prefix := "EXPLAIN QUERY PLAN "
		if db.Engine() != store.SQLite {
			prefix = "EXPLAIN "
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, prefix+q, "client-daily", "moh")
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestLimitWindows: the windows open, refuse and close as documented:
// the day at UTC midnight, the minute and the hour from the first message
// after the previous window; Retry-After is when the window closes, and
// the sweep deletes closed windows only.
func TestLimitWindows(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	migrate(t, db)
	ctx := context.Background()
	clock := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	cfg := DefaultConfig()
	cfg.RecipientHourlyLimit, cfg.ClientMinuteLimit, cfg.ClientDailyLimit = 2, 3, 5
	s := limitService(db, cfg, func() time.Time { return clock })
	n := 0
	// send checks and counts one SMS of moh to phone at clock, as Send
	// does, and returns the limit it ran into.
	send := func(phone string) *LimitError {
		t.Helper()
		n++
		msg := []Notification{{ClientID: "moh", Channel: ChannelSMS, Lane: LaneNormal, Recipient: phone}}
		err := s.checkLimits(ctx, db, "moh", msg, checkSend)
		if err == nil {
			err = db.InTx(ctx, func(tx *sql.Tx) error { return s.countLimits(ctx, tx, "moh", msg, checkSend) })
		}
		var le *LimitError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("send %d: %v", n, err)
		}
		return le
	}
	want := func(got *LimitError, limit string, retry time.Duration) {
		t.Helper()
		switch {
		case limit == "" && got != nil:
			t.Fatalf("send %d at %s = %s (retry %v); want accepted", n, clock.Format(time.TimeOnly), got.Limit, got.RetryAfter)
		case limit != "" && (got == nil || got.Limit != limit || got.RetryAfter != retry):
			t.Fatalf("send %d at %s = %+v; want %s, retry after %v", n, clock.Format(time.TimeOnly), got, limit, retry)
		}
	}
	const a, b, c = "+970599700001", "+970599700002", "+970599700003"
	want(send(a), "", 0) // 23:00:00 opens a's hour and moh's minute
	clock = clock.Add(10 * time.Second)
	want(send(a), "", 0)
	clock = clock.Add(10 * time.Minute)
	// a's hour opened at 23:00:00: 49m50s left, rounded up as before.
	want(send(a), limitRecipientHourly, 49*time.Minute+51*time.Second)
	want(send(b), "", 0) // moh's minute opened again at 23:10:10
	want(send(b), "", 0)
	want(send(c), "", 0)
	want(send(c), limitClientMinute, time.Minute+time.Second)
	clock = clock.Add(59 * time.Second)
	want(send(c), limitClientMinute, 2*time.Second)
	clock = clock.Add(time.Second) // 23:11:10: the minute is over
	// 5 a day: a, a, b, b, c are counted; the day ends at midnight.
	want(send(c), limitClientDaily, 48*time.Minute+51*time.Second)

	var counters int
	count := func() int {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM limit_counters`).Scan(&counters); err != nil {
			t.Fatal(err)
		}
		return counters
	}
	// client-daily, client-minute and three recipients' hours.
	if got := count(); got != 5 {
		t.Fatalf("counters = %d; want 5", got)
	}
	clock = time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	if pruned, err := s.pruneLimitCounters(ctx); err != nil || pruned != 1 || count() != 4 {
		t.Fatalf("prune at 23:59 = %d, %v, %d left; want the minute gone (a's hour lasts until midnight), 4 left", pruned, err, counters)
	}
	clock = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	want(send(a), "", 0) // a new day, a new hour for a
	clock = clock.Add(time.Hour)
	if pruned, err := s.pruneLimitCounters(ctx); err != nil || pruned != 4 || count() != 1 {
		t.Fatalf("prune at 01:00 = %d, %v, %d left; want yesterday's counter, b's and c's hours, a's hour and the minute gone: only today's count left", pruned, err, counters)
	}
}

// BenchmarkLimitCheck measures the limit check of one SMS (Send's, before
// its transaction) with 0 and with 25,000 of the client's messages today.
// Before the counters it counted the day's rows: ≈10 ms at 25,000.
func BenchmarkLimitCheck(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) *store.DB
	}{
		{"sqlite", func(b *testing.B) *store.DB { return storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db")) }},
		{"postgres", func(b *testing.B) *store.DB { return storetest.PostgresDB(b, storetest.PostgresDatabase(b)) }},
	}
	for _, e := range engines {
		for _, rows := range []int{0, 25000} {
			b.Run(fmt.Sprintf("%s/rows=%d", e.name, rows), func(b *testing.B) {
				db := e.open(b)
				sets, err := Migrations()
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Migrate(context.Background(), sets...); err != nil {
					b.Fatal(err)
				}
				s := limitService(db, DefaultConfig(), time.Now)
				seedDay(b, s, "moh", rows)
				ctx := context.Background()
				send := []Notification{{ClientID: "moh", Channel: ChannelSMS, Lane: LaneNormal, Recipient: "+970599600001"}}
				b.ResetTimer()
				for b.Loop() {
					if err := s.checkLimits(ctx, db, "moh", send, checkSend); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
