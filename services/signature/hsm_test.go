//go:build cgo

package signature

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// softHSM initialises a SoftHSM2 token in a temporary directory and
// returns its configuration. SOFTHSM2_CONF is process-wide, so tests using
// it do not run in parallel.
func softHSM(t *testing.T) HSMConfig {
	t.Helper()
	util := needTool(t, "softhsm2-util")
	module := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("%s missing: run deploy/local/ensure-services.sh", module)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := run(t, util, "--init-token", "--free", "--label", "tamkeen-ca", "--pin", "1234", "--so-pin", "5678"); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return HSMConfig{Module: module, TokenLabel: "tamkeen-ca", PIN: "1234"}
}

// TestRootAndIssuingKeysInSoftHSM: pki init generates the root and the
// issuing CA keys in the token, signs certificates through PKCS#11, and
// the keys are sensitive and not extractable; the service then issues
// credentials with the HSM-held issuing key.
func TestRootAndIssuingKeysInSoftHSM(t *testing.T) {
	hsmCfg := softHSM(t)
	db := storetest.SQLite(t)
	h := newHarness(t, db, func(c *Config) {
		c.PKIAutoInit = true // skip the harness's own init; done below
		c.PKCS11Module, c.PKCS11Token, c.PKCS11PIN = hsmCfg.Module, hsmCfg.TokenLabel, hsmCfg.PIN
	})
	ctx := context.Background()
	res, err := InitPKI(ctx, db, h.cfg, PKIOptions{RootKeyStore: KeyStorePKCS11, IssuingKeyInHSM: true, HSM: hsmCfg, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Issuing.CheckSignatureFrom(res.Root); err != nil {
		t.Fatalf("issuing CA not signed by the root: %v", err)
	}
	var labels []string
	rows, err := db.QueryContext(ctx, `SELECT key_ref FROM pki_objects WHERE key_store = 'pkcs11' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var l string
		rows.Scan(&l)
		labels = append(labels, l)
	}
	rows.Close()
	if len(labels) != 2 {
		t.Fatalf("%d keys in the HSM; want root and issuing", len(labels))
	}
	var sealed int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pki_objects WHERE name IN ('root', 'issuing') AND key_sealed IS NOT NULL`).Scan(&sealed)
	if sealed != 0 {
		t.Errorf("%d HSM keys also stored in the database", sealed)
	}
	tok, err := openHSM(hsmCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.close()
	for _, l := range labels {
		extractable, sensitive, err := tok.extractable(l)
		if err != nil {
			t.Fatal(err)
		}
		if extractable || !sensitive {
			t.Errorf("key %s: extractable=%v sensitive=%v; want false, true", l, extractable, sensitive)
		}
	}
	// The service signs certificates with the HSM-held issuing key.
	cred := h.newCredential(t, "cit_hsm", "")
	if cred.SerialNumber == "" {
		t.Fatal("no credential")
	}
	a, err := h.svc.ca(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.issuing.CheckSignatureFrom(res.Root); err != nil {
		t.Fatal(err)
	}
}
