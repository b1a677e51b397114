package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/signature"
)

// pkiInitConfig is the command line of `tamkeen pki init`: where the
// signature database is, the signature enabler's own settings (KEK, names,
// URLs, policies, PKCS#11 token) and where the root key goes.
type pkiInitConfig struct {
	store.Flags
	RootKeyStore    string `flag:"root-key-store" default:"kek" usage:"where the root CA key lives: kek (sealed in the database), file (sealed, in --root-key-file, offline) or pkcs11 (HSM)"`
	RootKeyFile     string `flag:"root-key-file" usage:"file for the sealed root key with --root-key-store file"`
	IssuingKeyInHSM bool   `flag:"issuing-key-in-hsm" usage:"generate the issuing CA key in the HSM too"`
	Signature       signature.Config
}

// Validate reports what is wrong with the settings.
func (c pkiInitConfig) Validate() error {
	var p config.Problems
	c.Flags.Check(&p)
	switch c.RootKeyStore {
	case signature.KeyStoreKEK, signature.KeyStorePKCS11:
	case signature.KeyStoreFile:
		if c.RootKeyFile == "" {
			p.Add("root-key-file", "required with --root-key-store file")
		}
	default:
		p.Addf("root-key-store", "%q is not kek, file or pkcs11", c.RootKeyStore)
	}
	if (c.RootKeyStore == signature.KeyStorePKCS11 || c.IssuingKeyInHSM) && c.Signature.PKCS11Module == "" {
		p.Add("pkcs11-module", "required when a CA key goes to the HSM")
	}
	host.MergeProblems(&p, c.Signature.Validate())
	return p.Err()
}

// runPKI runs `tamkeen pki init`: it migrates the signature database and
// creates the root CA, the issuing CA, the TSA and the OCSP responder
// certificates in it, then prints their subjects and fingerprints.
func runPKI(ctx context.Context, _ string, cfg pkiInitConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	sets, err := signature.Migrations()
	if err != nil {
		return err
	}
	db, err := cfg.Open(ctx, sets...)
	if err != nil {
		return err
	}
	defer db.Close()
	s := cfg.Signature
	res, err := signature.InitPKI(ctx, db, s, signature.PKIOptions{
		RootKeyStore: cfg.RootKeyStore, RootKeyFile: cfg.RootKeyFile, IssuingKeyInHSM: cfg.IssuingKeyInHSM,
		HSM: signature.HSMConfig{Module: s.PKCS11Module, TokenLabel: s.PKCS11Token, PIN: s.PKCS11PIN},
	})
	if err != nil {
		return err
	}
	for _, c := range []struct {
		role string
		raw  []byte
		subj string
	}{
		{"root CA", res.Root.Raw, res.Root.Subject.String()},
		{"issuing CA", res.Issuing.Raw, res.Issuing.Subject.String()},
		{"TSA", res.TSA.Raw, res.TSA.Subject.String()},
		{"OCSP responder", res.OCSP.Raw, res.OCSP.Subject.String()},
	} {
		sum := sha256.Sum256(c.raw)
		fmt.Fprintf(stdout, "%-15s %s\n                SHA-256 %s\n", c.role, c.subj, hex.EncodeToString(sum[:]))
	}
	fmt.Fprintf(stdout, "root key store: %s\n", cfg.RootKeyStore)
	return nil
}
