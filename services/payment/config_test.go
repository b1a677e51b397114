package payment

import (
	"errors"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestConfigAsDevAndProductionLoadIt builds the service the way tamkeen dev
// does (environment only: issuer, key-encryption-key, dev mode) and the way
// a production process does (no sandbox).
func TestConfigAsDevAndProductionLoadIt(t *testing.T) {
	db := storetest.SQLite(t)
	migrate(t, db)
	nc := natstest.Connect(t, natstest.Start(t, natsembed.Options{}))
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		sandbox bool
		problem string
	}{
		{"dev", map[string]string{"TAMKEEN_ISSUER": "http://127.0.0.1:18080", "TAMKEEN_KEY_ENCRYPTION_KEY": "a2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGVzLWxvbmch", "TAMKEEN_DEV_MODE": "true"}, true, ""},
		{"production", map[string]string{"TAMKEEN_ISSUER": "https://api.tamkeen.gov.ps"}, false, ""},
		{"sandbox without a secret", map[string]string{"TAMKEEN_SANDBOX": "true"}, false, "sandbox-webhook-secret"},
		{"short secret", map[string]string{"TAMKEEN_SANDBOX": "true", "TAMKEEN_SANDBOX_WEBHOOK_SECRET": "short"}, false, "at least 16 bytes"},
		{"bad public url", map[string]string{"TAMKEEN_PUBLIC_URL": "gateway"}, false, "public-url"},
		{"tiny ttl", map[string]string{"TAMKEEN_PAYMENT_TTL": "1s"}, false, "payment-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			err := config.Load(&cfg, nil, nil, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.problem != "" {
				var ce *config.Error
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("Load = %v; want a problem about %s", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			svc, err := New(cfg, Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus})})
			if err != nil {
				t.Fatal(err)
			}
			if (svc.HTTPHandler() != nil) != tc.sandbox || (svc.Sandbox() != nil) != tc.sandbox {
				t.Fatalf("sandbox on = %v; want %v", svc.Sandbox() != nil, tc.sandbox)
			}
			if tc.sandbox && cfg.publicURL() != "http://127.0.0.1:18080" {
				t.Errorf("public URL %s; want the issuer", cfg.publicURL())
			}
		})
	}
}
