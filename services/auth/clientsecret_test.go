package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// otherKEK is a second key-encryption key, for what a replaced KEK does.
const otherKEK = "b3RoZXItdGFta2Vlbi1rZXktZW5jcnlwdGlvbi1rZXk="

// chosenSecret is a secret a caller picked: too short for the MAC scheme.
const chosenSecret = "0123456789abcdef"

// newSecret is a secret as Tamkeen generates one: n random bytes, URL-safe
// base64 without padding.
func newSecret(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// quickSlots makes a request that finds every argon2 slot taken give up
// after 20 ms instead of 5 s.
func quickSlots(c *Config) { c.HashWait = 20 * time.Millisecond }

// holdSlots takes every argon2 slot of svc until the test ends or release
// is called: while they are held, anything that needs an argon2id
// computation is refused with a *RetryError, so a success proves that no
// slot was taken.
func holdSlots(t *testing.T, svc *Service) (release func()) {
	t.Helper()
	n := svc.cfg.HashConcurrency
	for range n {
		if err := svc.hasher.acquire(context.Background()); err != nil {
			t.Fatalf("take an argon2 slot: %v", err)
		}
	}
	done := false
	release = func() {
		if !done {
			done = true
			for range n {
				svc.hasher.release()
			}
		}
	}
	t.Cleanup(release)
	return release
}

// storedSecret reads a client's stored secret value.
func storedSecret(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	_, stored, err := selectClientWithSecret(context.Background(), db, id)
	if err != nil {
		t.Fatalf("read client %s: %v", id, err)
	}
	return stored
}

func TestGeneratedSecret(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		secret string
		want   bool
	}{
		"32 random bytes (CLI, rotate-secret)": {newSecret(t, 32), true},
		"24 random bytes (tamkeen dev)":        {newSecret(t, 24), true},
		"23 random bytes":                      {newSecret(t, 23), false},
		"16 characters":                        {chosenSecret, false},
		"one character repeated":               {strings.Repeat("a", 43), false},
		"a phrase":                             {"the-ministry-of-health-portal-secret", false},
		"padded base64":                        {base64.URLEncoding.EncodeToString(make([]byte, 32)), false},
		"standard alphabet":                    {"+/" + newSecret(t, 32)[2:], false},
		"not canonical (low bits set)":         {newSecret(t, 32)[:42] + "B", false},
		"too long":                             {newSecret(t, 200), false},
	} {
		if got := generatedSecret(tc.secret); got != tc.want {
			t.Errorf("%s: generatedSecret(%q) = %v; want %v", name, tc.secret, got, tc.want)
		}
	}
}

func TestVerifyClientMAC(t *testing.T) {
	t.Parallel()
	keys, err := deriveKeys([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	other, err := deriveKeys([]byte("fedcba9876543210fedcba9876543210"))
	must(t, err)
	secret := newSecret(t, 32)
	stored := clientSecretMAC(keys.lookup, "moh-portal", secret)
	if !strings.HasPrefix(stored, "$hmac-sha256$k="+clientMACKeyID(keys.lookup)+"$") || len(stored) != len("$hmac-sha256$k=12345678$")+64 {
		t.Fatalf("stored = %q; want $hmac-sha256$k=<8 hex>$<64 hex>", stored)
	}
	if clientSecretMAC(keys.lookup, "moh-portal", secret) != stored {
		t.Error("two MACs of one secret differ; want a deterministic MAC")
	}
	for name, tc := range map[string]struct {
		key            []byte
		id, secret, st string
		ok             bool
		err            error
	}{
		"right secret":          {keys.lookup, "moh-portal", secret, stored, true, nil},
		"wrong secret":          {keys.lookup, "moh-portal", newSecret(t, 32), stored, false, nil},
		"copied to a client":    {keys.lookup, "mof-fees", secret, stored, false, nil},
		"dummy":                 {keys.lookup, "moh-portal", secret, dummyClientMAC(keys.lookup), false, nil},
		"another KEK":           {other.lookup, "moh-portal", secret, stored, false, errOtherKey},
		"no key id":             {keys.lookup, "moh-portal", secret, "$hmac-sha256$" + stored[len(stored)-64:], false, errBadHash},
		"short MAC":             {keys.lookup, "moh-portal", secret, stored[:len(stored)-2], false, errBadHash},
		"argon2id is not a MAC": {keys.lookup, "moh-portal", secret, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", false, errBadHash},
	} {
		ok, err := verifyClientMAC(tc.key, tc.id, tc.secret, tc.st)
		if ok != tc.ok || !errors.Is(err, tc.err) {
			t.Errorf("%s: verifyClientMAC = %v, %v; want %v, %v", name, ok, err, tc.ok, tc.err)
		}
	}
}

// TestClientSecretMAC: a generated secret is stored as a MAC and
// authenticates with every argon2 slot taken; a wrong secret, an unknown
// id and a public client are refused, also without a slot; a chosen
// secret stays argon2id (and so needs a slot).
func TestClientSecretMAC(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, quickSlots)
		secret := newSecret(t, 32)
		must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: secret, Scopes: []string{scope.ContentRead}}))
		must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "mof-fees", Name: "MoF", Secret: chosenSecret, Scopes: []string{scope.ContentRead}}))
		must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "demo-portal", Name: "Portal", CodeFlow: CodeFlow{Public: true, RedirectURIs: []string{"https://moh.ps/cb"}}}))
		if st := storedSecret(t, db, "moh-portal"); !isClientMAC(st) {
			t.Fatalf("generated secret stored as %.20q…; want the MAC scheme", st)
		}
		if st := storedSecret(t, db, "mof-fees"); !strings.HasPrefix(st, "$argon2id$") {
			t.Fatalf("chosen secret stored as %.20q…; want argon2id", st)
		}

		holdSlots(t, e.svc)
		const n = 100
		okCount := 0
		for range n {
			c, err := e.svc.AuthenticateClient(ctx, "moh-portal", secret)
			if err != nil || c.ID != "moh-portal" {
				t.Fatalf("AuthenticateClient(MAC client, all argon2 slots taken) = %+v, %v; want the client", c, err)
			}
			okCount++
		}
		t.Logf("%s: %d of %d MAC authentications with all %d argon2 slots taken", db.Engine(), okCount, n, e.svc.cfg.HashConcurrency)
		for name, tc := range map[string]struct{ id, secret string }{
			"wrong secret":   {"moh-portal", newSecret(t, 32)},
			"short secret":   {"moh-portal", "x"},
			"unknown client": {"nobody", secret},
			"public client":  {"demo-portal", secret},
		} {
			if _, err := e.svc.AuthenticateClient(ctx, tc.id, tc.secret); !errors.Is(err, ErrInvalidClient) {
				t.Errorf("%s, all argon2 slots taken: AuthenticateClient = %v; want ErrInvalidClient (and no slot needed)", name, err)
			}
		}
		var retry *RetryError
		if _, err := e.svc.AuthenticateClient(ctx, "mof-fees", chosenSecret); !errors.As(err, &retry) {
			t.Errorf("chosen-secret client, all argon2 slots taken: AuthenticateClient = %v; want a *RetryError (argon2id needs a slot)", err)
		}
	})
}

// TestClientSecretUpgrade: a generated secret stored as argon2id (as every
// secret was before MACs) authenticates once through argon2id and is then
// stored as a MAC, which the next authentication uses; failures, chosen
// secrets and disabled clients are not re-stored.
func TestClientSecretUpgrade(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, quickSlots)
		secret := newSecret(t, 32)
		legacy, err := hashSecret(secret, testHashParams)
		must(t, err)
		for _, id := range []string{"moh-portal", "moe-exams"} {
			must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: id, Name: id, Secret: chosenSecret, Scopes: []string{scope.ContentRead}}))
			if ok, err := updateClientSecret(ctx, db, id, legacy, e.clock.Now()); !ok || err != nil {
				t.Fatalf("store a legacy hash: %v, %v", ok, err)
			}
		}
		must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "mof-fees", Name: "MoF", Secret: chosenSecret, Scopes: []string{scope.ContentRead}}))
		chosenStored := storedSecret(t, db, "mof-fees")

		if _, err := e.svc.AuthenticateClient(ctx, "moh-portal", newSecret(t, 32)); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("wrong secret on a legacy row = %v; want ErrInvalidClient", err)
		}
		if st := storedSecret(t, db, "moh-portal"); st != legacy {
			t.Fatalf("after a failure the stored value is %.20q…; want the legacy hash unchanged", st)
		}
		must(t, e.svc.DisableClient(ctx, "moe-exams"))
		if _, err := e.svc.AuthenticateClient(ctx, "moe-exams", secret); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("disabled client = %v; want ErrInvalidClient", err)
		}
		if st := storedSecret(t, db, "moe-exams"); st != legacy {
			t.Errorf("disabled client's stored value is %.20q…; want the legacy hash unchanged", st)
		}

		if c, err := e.svc.AuthenticateClient(ctx, "moh-portal", secret); err != nil || c.ID != "moh-portal" {
			t.Fatalf("first authentication (argon2id) = %+v, %v; want the client", c, err)
		}
		upgraded := storedSecret(t, db, "moh-portal")
		if !isClientMAC(upgraded) || upgraded != clientSecretMAC(e.svc.keys.lookup, "moh-portal", secret) {
			t.Fatalf("after a success the stored value is %.20q…; want the secret's MAC", upgraded)
		}
		if _, err := e.svc.AuthenticateClient(ctx, "mof-fees", chosenSecret); err != nil {
			t.Fatalf("chosen-secret client = %v", err)
		}
		if st := storedSecret(t, db, "mof-fees"); st != chosenStored {
			t.Errorf("chosen secret re-stored as %.20q…; want its argon2id hash kept", st)
		}

		holdSlots(t, e.svc)
		if c, err := e.svc.AuthenticateClient(ctx, "moh-portal", secret); err != nil || c.ID != "moh-portal" {
			t.Fatalf("second authentication, all argon2 slots taken = %+v, %v; want the client through the MAC", c, err)
		}
		if _, err := e.svc.AuthenticateClient(ctx, "moh-portal", newSecret(t, 32)); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("wrong secret after the upgrade = %v; want ErrInvalidClient", err)
		}
	})
}

// TestClientSecretRotation: a rotated secret is a MAC that works without
// argon2 and ends the old one; a MAC made under another KEK is refused
// until the secret is rotated under the running one.
func TestClientSecretRotation(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, quickSlots)
		first := newSecret(t, 32)
		must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: first, Scopes: []string{scope.ContentRead}}))
		release := holdSlots(t, e.svc)
		second, err := e.svc.RotateClientSecret(ctx, "moh-portal")
		if err != nil {
			t.Fatalf("RotateClientSecret, all argon2 slots taken = %v", err)
		}
		if !generatedSecret(second) || !isClientMAC(storedSecret(t, db, "moh-portal")) {
			t.Fatalf("rotated secret %q stored as %.20q…; want a generated secret stored as a MAC", second, storedSecret(t, db, "moh-portal"))
		}
		if _, err := e.svc.AuthenticateClient(ctx, "moh-portal", second); err != nil {
			t.Errorf("new secret = %v; want it to work", err)
		}
		if _, err := e.svc.AuthenticateClient(ctx, "moh-portal", first); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("old secret = %v; want ErrInvalidClient", err)
		}
		release()

		// The same database under a replaced KEK: the MAC no longer
		// verifies, whatever the secret, until the secret is rotated.
		replaced := newEnv(t, db, func(c *Config) { c.KeyEncryptionKey = otherKEK })
		if _, err := replaced.svc.AuthenticateClient(ctx, "moh-portal", second); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("MAC under another KEK = %v; want ErrInvalidClient", err)
		}
		third, err := replaced.svc.RotateClientSecret(ctx, "moh-portal")
		must(t, err)
		if _, err := replaced.svc.AuthenticateClient(ctx, "moh-portal", third); err != nil {
			t.Errorf("secret rotated under the new KEK = %v; want it to work", err)
		}
	})
}

// TestClientThrottleWithMACs: the token endpoint's failure limits are what
// they were with argon2id: 10 failures per client and source within a
// minute lock that source (the 10th failure answers 429), other sources
// keep working, and 100 failures from all sources lock every source.
func TestClientThrottleWithMACs(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, quickSlots)
		if e.svc.cfg.ClientMaxFailures != 10 || e.svc.cfg.ClientIDMaxFailures != 100 {
			t.Fatalf("defaults = %d per source, %d per client; want 10 and 100", e.svc.cfg.ClientMaxFailures, e.svc.cfg.ClientIDMaxFailures)
		}
		secret := newSecret(t, 32)
		must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: secret, Scopes: []string{scope.ContentRead}}))
		holdSlots(t, e.svc)
		token := func(secret, source string) error {
			_, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moh-portal", ClientSecret: secret, Source: source})
			return err
		}
		var retry *RetryError
		for i := 1; i <= 10; i++ {
			err := token("wrong", "10.0.0.1")
			if i < 10 && !errors.Is(err, ErrInvalidClient) || i == 10 && !errors.As(err, &retry) {
				t.Fatalf("failure %d from one source = %v; want invalid_client before the 10th and a *RetryError at it", i, err)
			}
		}
		if err := token(secret, "10.0.0.1"); !errors.As(err, &retry) {
			t.Errorf("right secret from the locked source = %v; want a *RetryError", err)
		}
		if err := token(secret, "10.0.0.2"); err != nil {
			t.Errorf("right secret from another source = %v; want a token", err)
		}
		// 90 more failures, 9 per source (under the per-source limit):
		// the 100th of the client locks it from every source.
		failures := 10
		for src := 3; failures < 100; src++ {
			for range 9 {
				if failures == 100 {
					break
				}
				failures++
				err := token("wrong", fmt.Sprintf("10.0.0.%d", src))
				if failures < 100 && !errors.Is(err, ErrInvalidClient) || failures == 100 && !errors.As(err, &retry) {
					t.Fatalf("failure %d of the client = %v; want invalid_client before the 100th and a *RetryError at it", failures, err)
				}
			}
		}
		if err := token(secret, "10.0.0.200"); !errors.As(err, &retry) {
			t.Errorf("right secret from a fresh source after 100 failures = %v; want a *RetryError", err)
		}
	})
}

// BenchmarkAuthenticateClient is one client authentication on SQLite
// (reading the client included) with each stored scheme, and with an
// unknown client id, which must cost what a MAC client costs. The argon2id
// case uses the production (OWASP) parameters and a chosen secret, which
// stays argon2id. Figures in docs/benchmarks.md.
func BenchmarkAuthenticateClient(b *testing.B) {
	e := sqliteEnv(b, func(c *Config) {
		p := DefaultHashParams
		c.Argon2MemoryKiB, c.Argon2Time, c.Argon2Threads = int(p.MemoryKiB), int(p.Time), int(p.Threads)
	})
	ctx := context.Background()
	generated := newSecret(b, 32)
	must(b, e.svc.CreateClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: generated, Scopes: []string{scope.ContentRead}}))
	must(b, e.svc.CreateClient(ctx, ClientSpec{ID: "mof-fees", Name: "MoF", Secret: chosenSecret, Scopes: []string{scope.ContentRead}}))
	for _, bc := range []struct {
		name, id, secret string
		want             error
	}{
		{"hmac-sha256", "moh-portal", generated, nil},
		{"unknown-client", "nobody", generated, ErrInvalidClient},
		{"argon2id-owasp-19MiB", "mof-fees", chosenSecret, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.AuthenticateClient(ctx, bc.id, bc.secret); !errors.Is(err, bc.want) {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTokenSuccessWritesNoThrottle: a token request from a pair with no
// failures reads the throttle and writes nothing to it (it used to delete
// the pair's counter on every success, a write and, on SQLite, a commit per
// token); a success after failures still clears them. PostgreSQL, where a
// statement-level trigger sees a DELETE even when it deletes no row.
func TestTokenSuccessWritesNoThrottle(t *testing.T) {
	db := storetest.PostgresDB(t, storetest.PostgresDatabase(t))
	ctx := context.Background()
	e := newEnv(t, db, quickSlots)
	if _, err := db.ExecContext(ctx, `
		CREATE TABLE throttle_deletes (at TIMESTAMPTZ NOT NULL DEFAULT now());
		CREATE FUNCTION count_throttle_delete() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN INSERT INTO throttle_deletes DEFAULT VALUES; RETURN NULL; END $$;
		CREATE TRIGGER throttle_delete AFTER DELETE ON login_throttle FOR EACH STATEMENT EXECUTE FUNCTION count_throttle_delete();`); err != nil {
		t.Fatal(err)
	}
	deletes := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM throttle_deletes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	secret := newSecret(t, 32)
	must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: secret, Scopes: []string{scope.ContentRead}}))
	token := func(secret string) error {
		_, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moh-portal", ClientSecret: secret, Source: "10.0.0.1"})
		return err
	}
	for range 5 {
		must(t, token(secret))
	}
	if n := deletes(); n != 0 {
		t.Fatalf("5 tokens with no failures ran %d DELETEs on login_throttle; want 0", n)
	}
	// Nine failures (one short of the lock), a success, nine more: the
	// success cleared the first nine, so the pair is not locked.
	for round := range 2 {
		for i := range 9 {
			if err := token("wrong"); !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("round %d failure %d = %v; want invalid_client", round, i+1, err)
			}
		}
		must(t, token(secret))
	}
	if n := deletes(); n != 2 {
		t.Fatalf("two successes after failures ran %d DELETEs; want 2", n)
	}
}
