package tokenkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"example.com/twitterlogin/config"
)

// Load reads each key and certificate file pair and makes a Set. It fails,
// naming the files, on a key file readable or writable by group or others,
// unreadable or malformed PEM, or any NewKey refusal (mismatched pair,
// expired certificate, weak or unsupported key); every bad pair is
// reported.
func Load(files []config.KeyFiles, now time.Time) (*Set, error) {
	var keys []*Key
	var errs []error
	for _, f := range files {
		k, err := loadPair(f, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("token key %s with certificate %s: %w", f.Key, f.Cert, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewSet(keys...)
}

func loadPair(f config.KeyFiles, now time.Time) (*Key, error) {
	fi, err := os.Stat(f.Key)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the key file has mode %v: make it readable by its owner only (chmod 600)", fi.Mode().Perm())
	}
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, err
	}
	return ParsePEM(keyPEM, certPEM, now)
}

// ParsePEM makes a Key from a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1
// EC) and a PEM certificate chain, leaf first. It fails as NewKey does.
func ParsePEM(keyPEM, certPEM []byte, now time.Time) (*Key, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block in the key file")
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("the key file holds a %q PEM block, not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no CERTIFICATE block in the certificate file")
	}
	return NewKey(signer, chain, now)
}

// Generate makes a new key of alg (RS256 with 2048 bits, ES256 or EdDSA)
// and a self-signed certificate for it, valid from now for validity.
func Generate(alg string, now time.Time, validity time.Duration) (*Key, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("tokenkeys: unknown algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenkeys: generate %s key: %w", alg, err)
	}
	cert, err := SelfSign(signer, "twitterlogin token signing", now, now.Add(validity))
	if err != nil {
		return nil, err
	}
	return NewKey(signer, []*x509.Certificate{cert}, now)
}

// SelfSign makes a self-signed certificate for signer's key, valid from
// notBefore to notAfter, for digital signatures only.
func SelfSign(signer crypto.Signer, commonName string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tokenkeys: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore.Truncate(time.Second),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("tokenkeys: create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// PEM returns the private key (PKCS#8) and the certificate chain as PEM.
func (k *Key) PEM() (keyPEM, certPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenkeys: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), chainPEM(k.Chain), nil
}

// Development keys live in DATA_DIR/token-keys as <name>.key (mode 0600)
// and <name>.crt pairs, where name sorts by creation time.
const (
	devDir      = "token-keys"
	devValidity = 90 * 24 * time.Hour
	// devRenewBefore makes LoadDev rotate a key this close to expiry.
	devRenewBefore = 24 * time.Hour
)

// LoadDev loads the development keys kept in dir/token-keys, first
// generating an RS256 key with a self-signed certificate when there is no
// usable one (none yet, or the newest expires within a day). A key
// replaced by a newer one stays published for retain after the newer one
// was made (at least the longest token lifetime plus leeway), then its
// files are deleted.
func LoadDev(dir string, now time.Time, retain time.Duration) (*Set, error) {
	keys, err := readDev(dir, now)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || now.Add(devRenewBefore).After(keys[0].key.Cert().NotAfter) {
		k, err := writeDev(dir, now)
		if err != nil {
			return nil, err
		}
		keys = append([]devKey{k}, keys...)
	}
	// keys[0] signs; keys[i] stopped signing when keys[i-1] was made.
	out := []*Key{keys[0].key}
	for i := 1; i < len(keys); i++ {
		if now.Before(keys[i-1].key.Cert().NotBefore.Add(retain)) {
			out = append(out, keys[i].key)
			continue
		}
		for _, p := range []string{keys[i].base + ".key", keys[i].base + ".crt"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("tokenkeys: remove retired dev key: %w", err)
			}
		}
	}
	return NewSet(out...)
}

// RotateDev makes a new development key in dir/token-keys; the next
// LoadDev signs with it and keeps publishing the previous keys for their
// retention time.
func RotateDev(dir string, now time.Time) (*Key, error) {
	k, err := writeDev(dir, now)
	return k.key, err
}

type devKey struct {
	key  *Key
	base string // path without extension
}

// readDev returns the dev keys in dir, newest first. Expired ones are
// skipped (NewKey refuses them).
func readDev(dir string, now time.Time) ([]devKey, error) {
	entries, err := os.ReadDir(filepath.Join(dir, devDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("tokenkeys: read dev keys: %w", err)
	}
	var keys []devKey
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok {
			continue
		}
		base := filepath.Join(dir, devDir, name)
		k, err := loadPair(config.KeyFiles{Key: base + ".key", Cert: base + ".crt"}, now)
		if err != nil {
			if errors.Is(err, ErrExpired) {
				continue
			}
			return nil, fmt.Errorf("tokenkeys: dev key %s: %w", base, err)
		}
		keys = append(keys, devKey{key: k, base: base})
	}
	slices.SortStableFunc(keys, func(a, b devKey) int {
		if c := b.key.Cert().NotBefore.Compare(a.key.Cert().NotBefore); c != 0 {
			return c
		}
		return strings.Compare(b.base, a.base)
	})
	return keys, nil
}

func writeDev(dir string, now time.Time) (devKey, error) {
	k, err := Generate(RS256, now, devValidity)
	if err != nil {
		return devKey{}, err
	}
	keyPEM, certPEM, err := k.PEM()
	if err != nil {
		return devKey{}, err
	}
	d := filepath.Join(dir, devDir)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return devKey{}, fmt.Errorf("tokenkeys: create %s: %w", d, err)
	}
	base := filepath.Join(d, fmt.Sprintf("%020d", now.UnixNano()))
	// The certificate first: a key file without its certificate would
	// make every later start fail.
	if err := os.WriteFile(base+".crt", certPEM, 0o644); err != nil {
		return devKey{}, fmt.Errorf("tokenkeys: write dev certificate: %w", err)
	}
	if err := os.WriteFile(base+".key", keyPEM, 0o600); err != nil {
		return devKey{}, fmt.Errorf("tokenkeys: write dev key: %w", err)
	}
	return devKey{key: k, base: base}, nil
}

// LoadRoots reads a PEM file of certificate authorities, for
// [Set.VerifyChains] and bearer.Options.Roots. It fails if the file holds
// no certificate.
func LoadRoots(path string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenkeys: roots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("tokenkeys: roots: %s holds no PEM certificate", path)
	}
	return roots, nil
}
