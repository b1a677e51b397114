package notification

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// BenchmarkSMSSend is the API's send path from the accept to sent: b.N
// SMS accepted by Service.Send from 8 goroutines (normal lane, each to
// its own number) and handed to an HTTP SMS gateway that answers at once,
// timed until every provider id is recorded; on a SQLite file and on
// PostgreSQL (TAMKEEN_TEST_POSTGRES_URL).
func BenchmarkSMSSend(b *testing.B) {
	storetest.BenchEngines(b, func(b *testing.B, db *store.DB) {
		gw := &httpGateway{answer: func(n int) (int, string) { return 200, fmt.Sprintf(`{"id":"gw-%d"}`, n) }}
		srv := httptest.NewServer(gw)
		b.Cleanup(srv.Close)
		cfg := DefaultConfig()
		cfg.SMSProvider, cfg.EmailProvider = ProviderHTTP, ProviderNone
		cfg.HTTPSMS = HTTPSMSConfig{URL: srv.URL, ReceiptSecret: "receipt-secret-of-the-gateway", Timeout: 5 * time.Second}
		cfg.ClientMinuteLimit, cfg.ClientDailyLimit, cfg.RecipientHourlyLimit = 1<<30, 1<<30, 1<<30
		e := startService(b, db, cfg, Deps{})
		ctx := context.Background()
		tpl, err := e.svc.CreateTemplate(ctx, "moh", TemplateInput{Name: "t", Channel: ChannelSMS, Language: LangEnglish, Body: "Hello ((name))"})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < b.N; i += 8 {
					if _, err := e.svc.Send(ctx, "moh", SendInput{Channel: ChannelSMS, Recipient: fmt.Sprintf("+97059%07d", i),
						TemplateID: tpl.ID, Personalisation: map[string]string{"name": "Sara"}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		waitFor(b, 5*time.Minute, "every SMS sent", func() bool {
			var sent int
			err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE provider_message_id <> ''`).Scan(&sent)
			return err == nil && sent == b.N
		})
	})
}
