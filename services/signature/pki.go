package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

// Names of the CA objects in pki_objects.
const (
	objRoot    = "root"
	objIssuing = "issuing"
	objTSA     = "tsa"
	objOCSP    = "ocsp"
)

// Where a CA object's private key lives.
const (
	// KeyStoreKEK: PKCS #8 sealed with the key-encryption key, in the database.
	KeyStoreKEK = "kek"
	// KeyStoreFile: PKCS #8 sealed with the key-encryption key, in a file
	// outside the database (an offline root).
	KeyStoreFile = "file"
	// KeyStorePKCS11: in an HSM, reached through PKCS#11; never extractable.
	KeyStorePKCS11 = "pkcs11"
)

var (
	// ErrPKIExists is returned by InitPKI when the database already holds a CA.
	ErrPKIExists = errors.New("signature: the PKI is already initialised")
	// ErrNoPKI is wrapped when an operation needs the CA and `tamkeen pki
	// init` has not been run (and pki-auto-init is off).
	ErrNoPKI = errors.New("the PKI is not initialised: run tamkeen pki init")
)

var (
	oidExtKeyUsage       = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidOCSPNoCheck       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidGivenName         = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname           = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidOrganizationIdent = asn1.ObjectIdentifier{2, 5, 4, 97}
)

// PKIOptions says how `tamkeen pki init` (or pki-auto-init) builds the CA
// hierarchy. Names, URLs and policies come from the service Config.
type PKIOptions struct {
	// RootKeyStore is KeyStoreKEK (default), KeyStoreFile or KeyStorePKCS11.
	RootKeyStore string
	// RootKeyFile is where KeyStoreFile writes the sealed root key.
	RootKeyFile string
	// IssuingKeyInHSM puts the issuing CA's key in the HSM too.
	IssuingKeyInHSM bool
	// HSM locates the token for the PKCS#11 stores.
	HSM HSMConfig
	// Rand is the source of key and serial randomness; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// PKIResult reports what InitPKI made.
type PKIResult struct {
	Root, Issuing, TSA, OCSP *x509.Certificate
}

// pkiObject is one row of pki_objects.
type pkiObject struct {
	name     string
	cert     *x509.Certificate
	keyStore string
	keyRef   string
	sealed   []byte
}

// InitPKI creates the root CA, the issuing CA, the TSA certificate (with a
// critical timeStamping extended key usage) and the OCSP responder
// certificate, and stores them with their keys in db (migrated with
// Migrations). The root key goes where opts.RootKeyStore says; the others
// are sealed with cfg's key-encryption key. It returns ErrPKIExists when a
// CA is already there.
func InitPKI(ctx context.Context, db *store.DB, cfg Config, opts PKIOptions) (*PKIResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rnd, now := host.OrCryptoRand(opts.Rand), host.OrNow(opts.Now)
	seal, err := newSealer(cfg.KeyEncryptionKey, rnd)
	if err != nil {
		return nil, err
	}
	exists, err := pkiExists(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("signature: read PKI: %w", err)
	}
	if exists {
		return nil, ErrPKIExists
	}
	var token hsm
	if opts.RootKeyStore == KeyStorePKCS11 || opts.IssuingKeyInHSM {
		if token, err = openHSM(opts.HSM); err != nil {
			return nil, err
		}
		defer token.close()
	}
	t0 := now().UTC().Add(-time.Minute).Truncate(time.Second)
	suffix := t0.Format("20060102T150405Z")

	newKey := func(name, alg string, inHSM bool) (crypto.Signer, pkiObject, error) {
		obj := pkiObject{name: name}
		if inHSM {
			label := "tamkeen-" + name + "-" + suffix
			k, err := token.generate(label, alg)
			obj.keyStore, obj.keyRef = KeyStorePKCS11, label
			return k, obj, err
		}
		k, err := generateKey(alg, rnd)
		if err != nil {
			return nil, obj, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, obj, err
		}
		obj.keyStore = KeyStoreKEK
		obj.sealed, err = seal.seal(der, "pki/"+name)
		return k, obj, err
	}

	rootKey, root, err := newKey(objRoot, AlgECDSAP384, opts.RootKeyStore == KeyStorePKCS11)
	if err != nil {
		return nil, err
	}
	if opts.RootKeyStore == KeyStoreFile {
		if opts.RootKeyFile == "" {
			return nil, errors.New("signature: the file root key store needs a root key file")
		}
		blob := pem.EncodeToMemory(&pem.Block{Type: "TAMKEEN SEALED PRIVATE KEY", Bytes: root.sealed})
		if err := os.WriteFile(opts.RootKeyFile, blob, 0o600); err != nil {
			return nil, fmt.Errorf("signature: write root key: %w", err)
		}
		root.keyStore, root.keyRef, root.sealed = KeyStoreFile, opts.RootKeyFile, nil
	}
	issuingKey, issuing, err := newKey(objIssuing, AlgECDSAP384, opts.IssuingKeyInHSM)
	if err != nil {
		return nil, err
	}
	tsaKey, tsa, err := newKey(objTSA, AlgECDSAP256, false)
	if err != nil {
		return nil, err
	}
	ocspKey, ocspObj, err := newKey(objOCSP, AlgECDSAP256, false)
	if err != nil {
		return nil, err
	}

	org := []string{cfg.Organization}
	country := []string{cfg.Country}
	policies, _ := parseOIDs(cfg.CertificatePolicies)
	urls := cfg.pkiURLs()

	// Both CAs only sign certificates and CRLs; maxPathLen is how many
	// CAs may stand below one (the issuing CA signs end entities only).
	caTmpl := func(name string, life time.Duration, maxPathLen int) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: cfg.Organization + " " + name, Organization: org, Country: country},
			NotBefore:             t0,
			NotAfter:              t0.Add(life),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLen:            maxPathLen,
			MaxPathLenZero:        maxPathLen == 0,
		}
	}
	rootTmpl := caTmpl("Root CA", 20*365*24*time.Hour, 1)
	if root.cert, err = issueCert(rnd, rootTmpl, nil, rootKey.Public(), rootKey); err != nil {
		return nil, fmt.Errorf("signature: root CA: %w", err)
	}
	issuingTmpl := caTmpl("Signing CA", 10*365*24*time.Hour, 0)
	issuingTmpl.PolicyIdentifiers = policies
	if issuing.cert, err = issueCert(rnd, issuingTmpl, root.cert, issuingKey.Public(), rootKey); err != nil {
		return nil, fmt.Errorf("signature: issuing CA: %w", err)
	}
	ekuTS, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	tsaTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cfg.Organization + " Time-Stamping Authority", Organization: org, Country: country},
		NotBefore:             t0,
		NotAfter:              t0.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: ekuTS}},
		OCSPServer:            []string{urls.ocsp},
		IssuingCertificateURL: []string{urls.ca},
		CRLDistributionPoints: []string{urls.crl},
	}
	if tsa.cert, err = issueCert(rnd, tsaTmpl, issuing.cert, tsaKey.Public(), issuingKey); err != nil {
		return nil, fmt.Errorf("signature: TSA certificate: %w", err)
	}
	nullDER, _ := asn1.Marshal(asn1.NullRawValue)
	ocspTmpl := &x509.Certificate{
		Subject:         pkix.Name{CommonName: cfg.Organization + " OCSP Responder", Organization: org, Country: country},
		NotBefore:       t0,
		NotAfter:        t0.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: nullDER}},
	}
	if ocspObj.cert, err = issueCert(rnd, ocspTmpl, issuing.cert, ocspKey.Public(), issuingKey); err != nil {
		return nil, fmt.Errorf("signature: OCSP certificate: %w", err)
	}

	created := store.Stamp(now())
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		for _, o := range []pkiObject{root, issuing, tsa, ocspObj} {
			if err := insertPKIObject(ctx, tx, o, created); err != nil {
				if store.IsUniqueViolation(err) {
					return ErrPKIExists
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("signature: store PKI: %w", err)
	}
	return &PKIResult{Root: root.cert, Issuing: issuing.cert, TSA: tsa.cert, OCSP: ocspObj.cert}, nil
}

// issueCert signs tmpl with signer (self-signed when parent is nil), adding
// a random 127-bit serial and the key identifiers.
func issueCert(rnd io.Reader, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial(rnd)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if tmpl.SubjectKeyId == nil {
		tmpl.SubjectKeyId, err = subjectKeyID(pub)
		if err != nil {
			return nil, err
		}
	}
	if parent == nil {
		parent = tmpl
	}
	tmpl.SignatureAlgorithm = signatureAlgorithmFor(signer.Public())
	der, err := x509.CreateCertificate(rnd, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// signatureAlgorithmFor picks SHA-384 for P-384 issuers, SHA-256 otherwise.
func signatureAlgorithmFor(pub crypto.PublicKey) x509.SignatureAlgorithm {
	switch keyAlgorithmOf(pub) {
	case AlgECDSAP384:
		return x509.ECDSAWithSHA384
	case AlgECDSAP256:
		return x509.ECDSAWithSHA256
	}
	return x509.SHA256WithRSA
}

// randomSerial is a positive 127-bit serial number (RFC 5280: at most 20
// octets; CA/B Forum: at least 64 random bits).
func randomSerial(rnd io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // fixed length, never zero
	return new(big.Int).SetBytes(b), nil
}

// subjectKeyID is the SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 (1)).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.Key.Bytes)
	return sum[:], nil
}

// parseOIDs reads a comma-separated list of dotted OIDs.
func parseOIDs(s string) ([]asn1.ObjectIdentifier, error) {
	var out []asn1.ObjectIdentifier
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		oid, err := parseOID(part)
		if err != nil {
			return nil, err
		}
		out = append(out, oid)
	}
	return out, nil
}

// parseOID reads one dotted OID.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, arc := range strings.Split(s, ".") {
		var n int
		if _, err := fmt.Sscanf(arc, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != arc {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 || oid[0] > 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	return oid, nil
}

// authority is the loaded CA: certificates and signers.
type authority struct {
	root       *x509.Certificate
	issuing    *x509.Certificate
	issuingKey crypto.Signer
	tsa        *x509.Certificate
	tsaKey     crypto.Signer
	ocsp       *x509.Certificate
	ocspKey    crypto.Signer
	roots      *x509.CertPool
	inter      *x509.CertPool
	hsm        hsm
}

// loadAuthority reads the CA objects and opens their online keys (not the
// root's: it is only needed by pki init). It returns ErrNoPKI when there is
// no CA.
func loadAuthority(ctx context.Context, db *store.DB, seal *sealer, hsmCfg HSMConfig) (*authority, error) {
	objs := map[string]pkiObject{}
	err := pkiObjects(ctx, db, func(o pkiObject, der []byte) error {
		var err error
		if o.cert, err = x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("PKI object %s: %w", o.name, err)
		}
		objs[o.name] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, ErrNoPKI
	}
	for _, name := range []string{objRoot, objIssuing, objTSA, objOCSP} {
		if _, ok := objs[name]; !ok {
			return nil, fmt.Errorf("PKI object %s is missing", name)
		}
	}
	a := &authority{root: objs[objRoot].cert, issuing: objs[objIssuing].cert, tsa: objs[objTSA].cert, ocsp: objs[objOCSP].cert}
	open := func(o pkiObject) (crypto.Signer, error) {
		switch o.keyStore {
		case KeyStoreKEK:
			der, err := seal.open(o.sealed, "pki/"+o.name)
			if err != nil {
				return nil, fmt.Errorf("PKI key %s: %w", o.name, err)
			}
			return parsePrivateKey(der)
		case KeyStorePKCS11:
			if a.hsm == nil {
				if a.hsm, err = openHSM(hsmCfg); err != nil {
					return nil, err
				}
			}
			return a.hsm.find(o.keyRef)
		}
		return nil, fmt.Errorf("PKI key %s: key store %q cannot be used online", o.name, o.keyStore)
	}
	if a.issuingKey, err = open(objs[objIssuing]); err != nil {
		return nil, err
	}
	if a.tsaKey, err = open(objs[objTSA]); err != nil {
		return nil, err
	}
	if a.ocspKey, err = open(objs[objOCSP]); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		k crypto.Signer
		c *x509.Certificate
	}{{a.issuingKey, a.issuing}, {a.tsaKey, a.tsa}, {a.ocspKey, a.ocsp}} {
		if !publicKeysEqual(p.k.Public(), p.c.PublicKey) {
			return nil, fmt.Errorf("PKI: the key of %q does not match its certificate", p.c.Subject.CommonName)
		}
	}
	a.roots = x509.NewCertPool()
	a.roots.AddCert(a.root)
	a.inter = x509.NewCertPool()
	a.inter.AddCert(a.issuing)
	return a, nil
}

// publicKeysEqual compares two public keys by their PKIX encoding.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

// chainPEM is the issuing CA then the root, in PEM.
func (a *authority) chainPEM() string {
	var b strings.Builder
	for _, c := range []*x509.Certificate{a.issuing, a.root} {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}
