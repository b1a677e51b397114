package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// newTestService returns a Service on db (migrated) with a real embedded
// NATS behind its bus.
func newTestService(t *testing.T, db *store.DB) *Service {
	t.Helper()
	ctx := context.Background()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, sets...); err != nil {
		t.Fatal(err)
	}
	ns := natstest.Start(t, natsembed.Options{})
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Argon2MemoryKiB, cfg.Argon2Time = int(testHashParams.MemoryKiB), int(testHashParams.Time)
	svc, err := New(cfg, Deps{DB: db, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestClientsStore(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newTestService(t, db)
		spec := ClientSpec{ID: "moh-portal", Name: "Ministry of Health portal", Secret: "s3cret-s3cret-s3cret", Scopes: []string{ScopePaymentsWrite, ScopeContentRead}}
		if err := svc.EnsureClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
		c, err := svc.AuthenticateClient(ctx, "moh-portal", "s3cret-s3cret-s3cret")
		if err != nil {
			t.Fatalf("AuthenticateClient(right secret) = %v; want nil", err)
		}
		if got, want := c.Scopes, []string{ScopeContentRead, ScopePaymentsWrite}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("scopes = %v; want %v", got, want)
		}
		if _, err := svc.AuthenticateClient(ctx, "moh-portal", "wrong-wrong-wrong-wrong"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("AuthenticateClient(wrong secret) = %v; want ErrInvalidClient", err)
		}
		if _, err := svc.AuthenticateClient(ctx, "nobody", "s3cret-s3cret-s3cret"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("AuthenticateClient(unknown id) = %v; want ErrInvalidClient", err)
		}

		// Ensuring again replaces the secret and scopes: the old secret stops working.
		spec.Secret, spec.Scopes = "another-secret-value", []string{ScopeLedgerRead}
		if err := svc.EnsureClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateClient(ctx, "moh-portal", "s3cret-s3cret-s3cret"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("old secret after rotation = %v; want ErrInvalidClient", err)
		}
		c, err = svc.Client(ctx, "moh-portal")
		if err != nil || len(c.Scopes) != 1 || c.Scopes[0] != ScopeLedgerRead {
			t.Errorf("Client() = %+v, %v; want scopes [%s]", c, err, ScopeLedgerRead)
		}
		if _, err := svc.Client(ctx, "nobody"); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("Client(unknown) = %v; want ErrClientNotFound", err)
		}
	})
}

func TestEnsureClientRejectsBadSpecs(t *testing.T) {
	svc := newTestService(t, storetest.SQLite(t))
	for name, tc := range map[string]struct {
		spec  ClientSpec
		field string
	}{
		"bad id":        {ClientSpec{ID: "MOH Portal", Name: "x", Secret: "0123456789abcdef"}, "client_id"},
		"short secret":  {ClientSpec{ID: "moh", Name: "x", Secret: "short"}, "client_secret"},
		"unknown scope": {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Scopes: []string{"root"}}, "scopes"},
		"no name":       {ClientSpec{ID: "moh", Secret: "0123456789abcdef"}, "name"},
	} {
		t.Run(name, func(t *testing.T) {
			err := svc.EnsureClient(context.Background(), tc.spec)
			var fe *rpcerr.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("EnsureClient = %v; want a field error on %s", err, tc.field)
			}
		})
	}
	if _, err := svc.Client(context.Background(), "moh"); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("a refused spec was stored: Client = %v", err)
	}
}
