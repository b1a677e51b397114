package notification

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// commitLog records, in PostgreSQL itself, which committed transactions
// wrote the service's tables: a row trigger notes the writing
// transaction's id and the table, and a rolled-back transaction takes its
// notes with it. The relay marking outbox rows published is libs/events'
// and not counted (only inserts into the outbox are).
type commitLog struct{ db *store.DB }

// countedTables are the notification service's tables an SMS send writes.
var countedTables = []string{"notifications", "sms_parts", "sms_receipts", "usage_daily", "limit_counters", "idempotency_keys", "callbacks"}

func newCommitLog(t *testing.T, db *store.DB) *commitLog {
	t.Helper()
	stmts := []string{
		`CREATE TABLE test_commits (xid BIGINT NOT NULL, tbl TEXT NOT NULL, PRIMARY KEY (xid, tbl))`,
		`CREATE FUNCTION test_note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO test_commits VALUES (txid_current(), TG_TABLE_NAME) ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$`,
		`CREATE TRIGGER test_note_commit AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION test_note_commit()`,
	}
	for _, tbl := range countedTables {
		stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER test_note_commit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION test_note_commit()`, tbl))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &commitLog{db: db}
}

// commits lists the committed write transactions so far, each as the
// tables it wrote, in order.
func (c *commitLog) commits(t *testing.T) []string {
	t.Helper()
	rows, err := c.db.QueryContext(context.Background(), `SELECT string_agg(tbl, '+' ORDER BY tbl) FROM test_commits GROUP BY xid ORDER BY xid`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.CollectRows(rows, func(r store.Row) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSMSCommits counts the commits one SMS makes from the API's accept
// on, on PostgreSQL. The accept (row, outbox, idempotency key, limit
// counters) is one commit. Through a provider that deduplicates by
// reference and answers at once, the send (sending, its attempt, the
// provider's id, metering) is one more, and a receipt with delivered one:
// before, the claim (sending) had a commit of its own before the provider
// was called, and a receipt was stored before it settled the
// notification, five commits through the HTTP gateway. Through SMPP, which
// cannot deduplicate, the claim is still committed before submit_sm, so a
// crash between the submit and the record does not send it twice. The
// status history is the same: created, sending, delivered.
func TestSMSCommits(t *testing.T) {
	const secret = "receipt-secret-of-the-gateway"
	receipt := []byte(`{"id":"gw-commits","status":"delivered"}`)
	tests := []struct {
		name string
		cfg  func(c *Config, gateway string)
		// receipt delivers the message after the provider's id is recorded.
		receipt func(t *testing.T, a *apiEnv)
		want    []string
		status  []string
	}{
		{"HTTP gateway", func(c *Config, gateway string) {
			c.SMSProvider = ProviderHTTP
			c.HTTPSMS = HTTPSMSConfig{URL: gateway, ReceiptSecret: secret, Timeout: 5 * time.Second}
		}, func(t *testing.T, a *apiEnv) {
			if err := a.svc.ReceiveHTTPReceipt(context.Background(), ProviderHTTP, receipt, SignCallback(secret, time.Now(), receipt)); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"idempotency_keys+limit_counters+notifications+outbox", // accepted
			"notifications+outbox+sms_parts+usage_daily",           // sending, with the provider's id
			"notifications+outbox+sms_receipts",                    // delivered
		}, []string{StatusCreated, StatusSending, StatusDelivered}},
		{"dev inbox", func(c *Config, _ string) {
			c.SMSProvider, c.DevMode = ProviderDevInbox, true
		}, nil, []string{
			"idempotency_keys+limit_counters+notifications+outbox", // accepted
			"notifications+outbox+sms_parts+usage_daily",           // sending and delivered
		}, []string{StatusCreated, StatusSending, StatusDelivered}},
		{"SMPP, receipts off", nil, nil, []string{
			"idempotency_keys+limit_counters+notifications+outbox", // accepted
			"notifications+outbox",                                 // claimed (in_flight), before submit_sm
			"notifications+sms_parts+usage_daily",                  // the SMSC's id
		}, []string{StatusCreated, StatusSending}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := &httpGateway{answer: func(n int) (int, string) { return 200, `{"id":"gw-commits"}` }}
			srv := httptest.NewServer(gw)
			t.Cleanup(srv.Close)
			a := startAPI(t, storetest.Postgres(t), func(c *Config) {
				if tc.cfg != nil {
					tc.cfg(c, srv.URL)
				}
			})
			moh := a.iss.as(t, "moh")
			tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello ((name))"})
			if err != nil {
				t.Fatal(err)
			}
			// The test SMSC's receipts come at once, often before the id is
			// recorded: their commits depend on timing.
			a.center.mu.Lock()
			a.center.receipts = false
			a.center.mu.Unlock()
			log := newCommitLog(t, a.db)

			n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000061", TemplateId: tpl.GetId(),
				Personalisation: map[string]string{"name": "Sara"}, IdempotencyKey: "k-61"})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the provider's id to be recorded", func() bool {
				row, err := getNotification(context.Background(), a.db, "id", n.GetId())
				return err == nil && row.ProviderMessageID != ""
			})
			if tc.receipt != nil {
				tc.receipt(t, a)
			}
			a.waitNotification(t, moh, n.GetId(), tc.status[len(tc.status)-1])
			waitFor(t, 10*time.Second, "the status events", func() bool { return len(a.status.of(n.GetId())) == len(tc.status) })
			if got := a.status.of(n.GetId()); !slices.Equal(got, tc.status) {
				t.Errorf("status events %v; want %v", got, tc.status)
			}
			if got := log.commits(t); !slices.Equal(got, tc.want) {
				t.Fatalf("one SMS made %d commits:\n\t%s\nwant %d:\n\t%s", len(got), strings.Join(got, "\n\t"), len(tc.want), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
