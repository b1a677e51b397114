package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

func TestPKIInit(t *testing.T) {
	var kek [32]byte
	if _, err := rand.Read(kek[:]); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TAMKEEN_KEY_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(kek[:])}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	db := filepath.Join(t.TempDir(), "signature.db")
	tamkeen := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, lookup, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	initPKI := func() (int, string, string) { return tamkeen("pki", "init", "--db-engine", "sqlite", "--db-dsn", db) }
	code, out, errOut := initPKI()
	if code != 0 {
		t.Fatalf("pki init = exit %d; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"SHA-256", "root key store: kek"} {
		if !strings.Contains(out, want) {
			t.Errorf("pki init output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, env["TAMKEEN_KEY_ENCRYPTION_KEY"]) {
		t.Error("the key-encryption key reached the output")
	}
	if code, _, errOut := initPKI(); code != 1 || !strings.Contains(errOut, "already") {
		t.Errorf("second pki init = exit %d, %q; want 1 saying the PKI is already initialised", code, errOut)
	}
	if code, _, errOut := tamkeen("pki", "init", "--db-engine", "sqlite", "--db-dsn", db, "--root-key-store", "file"); code != 2 || !strings.Contains(errOut, "root-key-file") {
		t.Errorf("--root-key-store file without --root-key-file = exit %d, %q; want 2 naming root-key-file", code, errOut)
	}
}
