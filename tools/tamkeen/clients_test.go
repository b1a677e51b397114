package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/services/auth"
)

// runTool runs one tamkeen command line and returns its exit code and output.
func runTool(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := func(string) (string, bool) { return "", false }
	code := run(context.Background(), args, env, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var secretOut = regexp.MustCompile(`secret: (\S+)|new secret: (\S+)`)

func TestClientsCommands(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-portal",
		"--name", "Ministry of Health portal", "--ministry", "moh", "--scopes", "payments:write,notifications:send")
	if code != 0 {
		t.Fatalf("clients create = %d; stderr:\n%s", code, errOut)
	}
	m := secretOut.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret:\n%s", out)
	}
	secret := m[1]

	if code, _, _ := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-portal", "--name", "again", "--scopes", "payments:write"); code != 1 {
		t.Errorf("creating a taken id = exit %d; want 1", code)
	}
	if code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--name", "no id"); code != 2 || !strings.Contains(errOut, "--id") {
		t.Errorf("create without --id = exit %d, %q; want 2 naming --id", code, errOut)
	}

	_, out, _ = runTool(t, "clients", "list", "--data-dir", dir)
	if !strings.Contains(out, "moh-portal") || !strings.Contains(out, "notifications:send payments:write") || !strings.Contains(out, "active") {
		t.Errorf("clients list =\n%s\nwant moh-portal, active, with its scopes", out)
	}

	authenticate := func(secret string) error {
		t.Helper()
		svc, closeDB, err := openAuthAdmin(context.Background(), serviceDB{DataDir: dir, DBEngine: "postgres"}, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		defer closeDB()
		_, err = svc.AuthenticateClient(context.Background(), "moh-portal", secret)
		return err
	}
	if err := authenticate(secret); err != nil {
		t.Fatalf("the printed secret does not authenticate: %v", err)
	}

	code, out, errOut = runTool(t, "clients", "rotate-secret", "--data-dir", dir, "--id", "moh-portal")
	m = secretOut.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("rotate-secret = %d %q %q", code, out, errOut)
	}
	if err := authenticate(secret); !errors.Is(err, auth.ErrInvalidClient) {
		t.Errorf("old secret after rotation = %v; want ErrInvalidClient", err)
	}
	if err := authenticate(m[2]); err != nil {
		t.Errorf("new secret = %v; want it to authenticate", err)
	}

	if code, _, errOut := runTool(t, "clients", "disable", "--data-dir", dir, "--id", "moh-portal"); code != 0 {
		t.Fatalf("disable = %d %s", code, errOut)
	}
	if err := authenticate(m[2]); !errors.Is(err, auth.ErrInvalidClient) {
		t.Errorf("secret of a disabled client = %v; want ErrInvalidClient", err)
	}
	if _, out, _ := runTool(t, "clients", "list", "--data-dir", dir); !strings.Contains(out, "disabled") {
		t.Errorf("list after disable =\n%s\nwant the client disabled", out)
	}
}

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	kid := regexp.MustCompile(`new signing key (\S+) is active`)
	var kids []string
	for range 2 {
		code, out, errOut := runTool(t, "keys", "rotate", "--data-dir", dir)
		m := kid.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("keys rotate = %d %q %q", code, out, errOut)
		}
		kids = append(kids, m[1])
	}
	if kids[0] == kids[1] {
		t.Errorf("two rotations gave the same kid %s", kids[0])
	}
	if code, _, _ := runTool(t, "keys", "spin"); code != 2 {
		t.Errorf("keys spin = exit %d; want 2", code)
	}
}

// TestClientsOrganization: the operator registers a client's organisation
// (what its organisation seal names) at creation or later; a name with a
// bidi control or a look-alike letter is refused, naming the field, and
// changes nothing.
func TestClientsOrganization(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-portal", "--name", "MoH",
		"--organization", "Ministry of \u202eHealth", "--scopes", "signing:seal"); code != 1 || !strings.Contains(errOut, "organization") {
		t.Errorf("create with a bidi override = exit %d, %q; want 1 naming organization", code, errOut)
	}
	if code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-portal", "--name", "MoH",
		"--organization", "وزارة الصحة - Ministry of Health", "--scopes", "signing:seal"); code != 0 {
		t.Fatalf("create with an organisation = %d %s", code, errOut)
	}
	org := func() string {
		t.Helper()
		svc, closeDB, err := openAuthAdmin(context.Background(), serviceDB{DataDir: dir, DBEngine: "postgres"}, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		defer closeDB()
		c, err := svc.Client(context.Background(), "moh-portal")
		if err != nil {
			t.Fatal(err)
		}
		return c.Organization
	}
	if got := org(); got != "وزارة الصحة - Ministry of Health" {
		t.Errorf("organisation = %q; want the one given", got)
	}
	if _, out, _ := runTool(t, "clients", "list", "--data-dir", dir); !strings.Contains(out, "ORGANIZATION") || !strings.Contains(out, "Ministry of Health") {
		t.Errorf("clients list =\n%s\nwant an ORGANIZATION column", out)
	}
	if code, _, errOut := runTool(t, "clients", "set-organization", "--data-dir", dir, "--id", "moh-portal", "--organization", "Minist\u0440y of Health"); code != 1 || !strings.Contains(errOut, "organization") {
		t.Errorf("set-organization with a Cyrillic look-alike = exit %d, %q; want 1 naming organization", code, errOut)
	}
	if code, _, errOut := runTool(t, "clients", "set-organization", "--data-dir", dir, "--id", "moh-portal"); code != 2 || !strings.Contains(errOut, "--organization") {
		t.Errorf("set-organization without --organization = exit %d, %q; want 2 naming --organization", code, errOut)
	}
	if got := org(); got != "وزارة الصحة - Ministry of Health" {
		t.Errorf("organisation after refused changes = %q; want it unchanged", got)
	}
	if code, _, errOut := runTool(t, "clients", "set-organization", "--data-dir", dir, "--id", "moh-portal", "--organization", "Ministry of Health"); code != 0 {
		t.Fatalf("set-organization = %d %s", code, errOut)
	}
	if got := org(); got != "Ministry of Health" {
		t.Errorf("organisation after set-organization = %q; want Ministry of Health", got)
	}
}

// TestClientsCreateCodeFlow registers a public loopback client and a
// confidential one with their redirect URIs.
func TestClientsCreateCodeFlow(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-app", "--name", "MoH app",
		"--public", "--loopback", "--redirect-uris", "http://127.0.0.1/callback", "--post-logout-redirect-uris", "http://127.0.0.1/callback/bye", "--max-acr", "loa2")
	if code != 0 {
		t.Fatalf("clients create --public = %d; stderr:\n%s", code, errOut)
	}
	if secretOut.MatchString(out) || !strings.Contains(out, "public") {
		t.Errorf("clients create --public printed %q; want no secret", out)
	}
	code, out, errOut = runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-web", "--name", "MoH web",
		"--redirect-uris", "https://moh.ps/cb", "--token-auth-method", "client_secret_post")
	if code != 0 || !secretOut.MatchString(out) {
		t.Fatalf("clients create (confidential) = %d, %q; stderr:\n%s", code, out, errOut)
	}
	if code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "bad", "--name", "bad", "--redirect-uris", "http://moh.ps/cb"); code == 0 {
		t.Errorf("an http redirect URI was accepted; stderr %q", errOut)
	}
	if code, _, _ := runTool(t, "clients", "create", "--data-dir", dir, "--id", "bad2", "--name", "bad", "--loopback", "--redirect-uris", "http://127.0.0.1/cb"); code == 0 {
		t.Error("--loopback without --public was accepted")
	}
	svc, closeDB, err := openAuthAdmin(context.Background(), serviceDB{DataDir: dir}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	c, err := svc.Client(context.Background(), "moh-app")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Public || !c.Loopback || c.MaxACR != auth.ACRStepUp || !c.RedirectAllowed("http://127.0.0.1:4242/callback") || !c.PostLogoutAllowed("http://127.0.0.1:1/callback/bye") {
		t.Errorf("moh-app = %+v; want a public loopback client allowed loa2", c.CodeFlow)
	}
	if c, err := svc.Client(context.Background(), "moh-web"); err != nil || c.TokenAuthMethod != auth.AuthMethodPost {
		t.Errorf("moh-web = %+v, %v; want client_secret_post", c.CodeFlow, err)
	}
}
