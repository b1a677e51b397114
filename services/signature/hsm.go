package signature

import (
	"crypto"
	"errors"
)

// ErrNoHSM is returned when a key lives in a PKCS#11 token but the
// configuration names none, or the binary was built without cgo.
var ErrNoHSM = errors.New("signature: no PKCS#11 module available")

// HSMConfig locates a PKCS#11 token, e.g. SoftHSM2's
// /usr/lib/softhsm/libsofthsm2.so with a token initialised by
// softhsm2-util --init-token.
type HSMConfig struct {
	// Module is the path of the PKCS#11 library.
	Module string
	// TokenLabel names the token.
	TokenLabel string
	// PIN is the user PIN.
	PIN string
}

// configured reports whether a module is named.
func (c HSMConfig) configured() bool { return c.Module != "" }

// hsm is an open PKCS#11 token holding CA keys that never leave it.
type hsm interface {
	// generate makes a non-extractable key pair labelled label; alg is one
	// of the key algorithm names (ecdsa-p256, ecdsa-p384, rsa-3072).
	generate(label, alg string) (crypto.Signer, error)
	// find returns the key pair labelled label.
	find(label string) (crypto.Signer, error)
	// extractable reports the private key's CKA_EXTRACTABLE and
	// CKA_SENSITIVE attributes.
	extractable(label string) (extractable, sensitive bool, err error)
	close() error
}
