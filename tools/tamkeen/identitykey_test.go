package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/sealed"
)

// TestIdentityKeyPublic: `tamkeen identity-key public` prints the public
// half of the data dir's (or TAMKEEN_IDENTITY_KEY's) identity key — what
// auth's identity-recipient-key must be — and never the private key.
func TestIdentityKeyPublic(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := devIdentityKeys(dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, identityKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity key file: %v %v; want mode 0600", fi, err)
	}
	code, out, errOut := runTool(t, "identity-key", "public", "--data-dir", dir)
	if code != 0 || strings.TrimSpace(out) != pub {
		t.Fatalf("identity-key public --data-dir = %d %q %s; want the public key", code, out, errOut)
	}
	if strings.Contains(out+errOut, priv) {
		t.Error("identity-key public printed the private key")
	}
	if _, err := sealed.ParsePublicKey(out); err != nil {
		t.Errorf("printed key does not parse: %v", err)
	}

	var stdout, stderr bytes.Buffer
	env := func(k string) (string, bool) {
		if k == "TAMKEEN_IDENTITY_KEY" {
			return priv, true
		}
		return "", false
	}
	if code := run(context.Background(), []string{"identity-key", "public"}, env, &stdout, &stderr); code != 0 || strings.TrimSpace(stdout.String()) != pub {
		t.Errorf("identity-key public with TAMKEEN_IDENTITY_KEY = %d %q %s; want the same public key", code, stdout.String(), stderr.String())
	}
	if code, _, errOut := runTool(t, "identity-key", "public"); code != 2 || !strings.Contains(errOut, "identity-key") {
		t.Errorf("identity-key public without a key = %d %q; want 2", code, errOut)
	}
}
