package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"path/filepath"

	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// identityKeyFile is where `tamkeen dev` keeps the signature enabler's
// identity key (its private half) in the data dir.
const identityKeyFile = "identity-key"

// devIdentityKeys returns the identity key — TAMKEEN_IDENTITY_KEY when
// set, else the data dir's (made on first use) — and its public half:
// signature opens with the first, auth seals to the second.
func devIdentityKeys(dataDir string, lookupEnv func(string) (string, bool)) (private, public string, err error) {
	where := "TAMKEEN_IDENTITY_KEY"
	if v, ok := lookupEnv(where); ok && v != "" {
		private = v
	} else {
		where = filepath.Join(dataDir, identityKeyFile)
		if private, err = demo.KeptSecret(where, 32, base64.StdEncoding); err != nil {
			return "", "", err
		}
	}
	keys, err := sealed.ParsePrivateKeys(private)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", where, err)
	}
	return private, keys[0].Public().String(), nil
}

// identityKeyConfig is the command line of `tamkeen identity-key public`.
type identityKeyConfig struct {
	DataDir     string `flag:"data-dir" usage:"a tamkeen dev data dir (its identity-key file); instead of TAMKEEN_IDENTITY_KEY"`
	IdentityKey string `flag:"identity-key" secret:"true" usage:"the signature enabler's identity key (base64 of 32 bytes; the first of a comma-separated list)"`
}

const identityKeyUsage = `Usage: tamkeen identity-key public (--data-dir DIR | TAMKEEN_IDENTITY_KEY[_FILE])
Prints the public half of the signature enabler's identity key: the value of
the auth enabler's TAMKEEN_IDENTITY_RECIPIENT_KEY. Citizens' identities in
auth's events are sealed to it; only the private key opens them.
Make a private key with: openssl rand -base64 32
`

// runIdentityKey prints the public half of the identity key.
func runIdentityKey(_ context.Context, _ string, cfg identityKeyConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	if cfg.DataDir != "" {
		_, pub, err := devIdentityKeys(cfg.DataDir, func(string) (string, bool) { return "", false })
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, pub)
		return nil
	}
	if cfg.IdentityKey == "" {
		return configProblem("identity-key", "required (or --data-dir)")
	}
	keys, err := sealed.ParsePrivateKeys(cfg.IdentityKey)
	if err != nil {
		return configProblem("identity-key", err.Error())
	}
	fmt.Fprintln(stdout, keys[0].Public().String())
	return nil
}
