// Package demo holds what the two whole-platform topologies of tools/ —
// `tamkeen dev` (one process) and tools/distributed (one process per
// enabler) — agree on: the demo ministry client they create, and secrets
// kept in a data directory so that a restart finds the same ones.
package demo

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
)

// ClientID is the ministry client both topologies create, with every
// scope, so that a client token can be fetched at once (DESIGN.md §8).
const ClientID = "demo-ministry"

// Name is ClientID's display name.
const Name = "Demo ministry"

// Ministry is ClientID's registered ministry (its tokens' "ministry"
// claim). The client also holds the platform-wide scopes (content:admin,
// ledger:admin), so the tour may manage other ministries (moh, mol) as the
// platform team would.
const Ministry = "demo"

// Organization is ClientID's registered organisation: what its
// organisation seal names.
const Organization = "Demo Ministry"

// PortalClientID is the public client of the authorization code flow that
// `tamkeen dev` registers for trying sign-in through the hosted pages: a
// loopback client, so any port of PortalRedirectURI matches (RFC 8252
// section 7.3), allowed to ask for the SMS step-up (acr_values=loa2).
const PortalClientID = "demo-portal"

// PortalName is PortalClientID's display name.
const PortalName = "Demo citizen portal"

// PortalRedirectURI and PortalPostLogoutURI are PortalClientID's
// registered URIs, on any port.
const (
	PortalRedirectURI   = "http://127.0.0.1/callback"
	PortalPostLogoutURI = "http://127.0.0.1/callback/bye"
)

// KeptSecret returns the secret kept in path: n random bytes in enc, made
// (mode 0600) on first use, so that a restart finds the same one.
func KeptSecret(path string, n int, enc *base64.Encoding) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := enc.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}
