//go:build cgo

package signature

import (
	"crypto"
	"crypto/elliptic"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// pkcs11Token is an hsm on crypto11.
type pkcs11Token struct {
	ctx *crypto11.Context
}

// openHSM logs in to the token cfg names.
func openHSM(cfg HSMConfig) (hsm, error) {
	if !cfg.configured() {
		return nil, ErrNoHSM
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		return nil, fmt.Errorf("signature: open PKCS#11 token %q: %w", cfg.TokenLabel, err)
	}
	return &pkcs11Token{ctx: ctx}, nil
}

func (t *pkcs11Token) generate(label, alg string) (crypto.Signer, error) {
	id := []byte(label)
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case AlgECDSAP256:
		k, err = t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P256())
	case AlgECDSAP384:
		k, err = t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P384())
	case AlgRSA3072:
		k, err = t.ctx.GenerateRSAKeyPairWithLabel(id, []byte(label), 3072)
	default:
		return nil, fmt.Errorf("signature: key algorithm %q not supported in the HSM", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("signature: generate %s key %q in the HSM: %w", alg, label, err)
	}
	return k, nil
}

func (t *pkcs11Token) find(label string) (crypto.Signer, error) {
	k, err := t.ctx.FindKeyPair(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("signature: find HSM key %q: %w", label, err)
	}
	if k == nil {
		return nil, fmt.Errorf("signature: HSM key %q not found", label)
	}
	return k, nil
}

func (t *pkcs11Token) extractable(label string) (bool, bool, error) {
	k, err := t.ctx.FindKeyPair(nil, []byte(label))
	if err != nil || k == nil {
		return false, false, fmt.Errorf("signature: find HSM key %q: %v", label, err)
	}
	attrs, err := t.ctx.GetAttributes(k, []crypto11.AttributeType{crypto11.CkaExtractable, crypto11.CkaSensitive})
	if err != nil {
		return false, false, err
	}
	isTrue := func(a *crypto11.Attribute) bool { return a != nil && len(a.Value) == 1 && a.Value[0] == 1 }
	return isTrue(attrs[crypto11.CkaExtractable]), isTrue(attrs[crypto11.CkaSensitive]), nil
}

func (t *pkcs11Token) close() error { return t.ctx.Close() }
