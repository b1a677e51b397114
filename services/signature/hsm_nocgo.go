//go:build !cgo

package signature

// openHSM is unavailable without cgo: PKCS#11 modules are C libraries.
func openHSM(HSMConfig) (hsm, error) { return nil, ErrNoHSM }
