// Package tokenkeys holds the app's service-token signing keys: private keys
// paired with X.509 certificates, loaded from PEM files (or generated for
// development), and the public JWK Set that publishes them.
//
// Each key's algorithm follows from its type: RSA (at least 2048 bits) signs
// RS256, ECDSA P-256 signs ES256, Ed25519 signs EdDSA. Its kid is the RFC
// 7638 JWK thumbprint of the public key, so the same key always has the
// same kid. The newest currently valid certificate's key signs; every
// loaded key is published, so tokens signed before a rotation keep
// verifying while they live.
package tokenkeys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The signing algorithms, as JOSE names them.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const MinRSABits = 2048

// ErrExpired means a certificate has expired.
var ErrExpired = errors.New("the certificate has expired")

// ErrNoSigningKey means no loaded certificate is valid right now.
var ErrNoSigningKey = errors.New("tokenkeys: no signing key with a currently valid certificate")

// Key is one signing key with its certificate chain.
type Key struct {
	// Alg is RS256, ES256 or EdDSA, by the key's type.
	Alg string
	// KID is the RFC 7638 thumbprint of the public key.
	KID string
	// X5TS256 is base64url(SHA-256(DER of the leaf certificate)).
	X5TS256 string
	// Chain is the certificate chain, leaf first.
	Chain []*x509.Certificate

	signer crypto.Signer
	method jwt.SigningMethod
}

// Cert returns the leaf certificate.
func (k *Key) Cert() *x509.Certificate { return k.Chain[0] }

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// validAt reports whether the leaf certificate is valid at t.
func (k *Key) validAt(t time.Time) bool {
	return !t.Before(k.Cert().NotBefore) && !t.After(k.Cert().NotAfter)
}

// Sign signs claims as a JWT with typ, and the kid and x5t#S256 headers.
func (k *Key) Sign(claims jwt.Claims, typ string) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = k.KID
	t.Header["x5t#S256"] = k.X5TS256
	s, err := t.SignedString(k.signer)
	if err != nil {
		return "", fmt.Errorf("sign token with key %s: %w", k.KID, err)
	}
	return s, nil
}

// NewKey pairs a private key with its certificate chain (leaf first). It
// fails if a certificate of the chain is not signed by the next one, the
// key does not match the leaf, the leaf has expired at now,
// its key usage excludes signatures, or the key is RSA under MinRSABits,
// ECDSA on a curve other than P-256, or of another type.
func NewKey(signer crypto.Signer, chain []*x509.Certificate, now time.Time) (*Key, error) {
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	if err := checkChain(chain); err != nil {
		return nil, err
	}
	leaf := chain[0]
	pub := signer.Public()
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(leaf.PublicKey) {
		return nil, errors.New("the private key does not match the certificate")
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w (at %s)", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, errors.New("the certificate's key usage does not allow digital signatures")
	}
	k := &Key{Chain: chain, signer: signer}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if n := p.N.BitLen(); n < MinRSABits {
			return nil, fmt.Errorf("RSA keys must have at least %d bits, but this one has %d", MinRSABits, n)
		}
		k.Alg, k.method = RS256, jwt.SigningMethodRS256
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA keys must be on P-256, but this one is on %s", p.Curve.Params().Name)
		}
		k.Alg, k.method = ES256, jwt.SigningMethodES256
	case ed25519.PublicKey:
		k.Alg, k.method = EdDSA, jwt.SigningMethodEdDSA
	default:
		return nil, fmt.Errorf("unsupported key type %T: use RSA, ECDSA P-256 or Ed25519", pub)
	}
	var err error
	if k.KID, err = Thumbprint(pub); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(leaf.Raw)
	k.X5TS256 = base64.RawURLEncoding.EncodeToString(sum[:])
	return k, nil
}

// checkChain checks that each certificate of chain (leaf first) is signed
// by the next one, which must be a certificate authority.
func checkChain(chain []*x509.Certificate) error {
	for i := 1; i < len(chain); i++ {
		if err := chain[i-1].CheckSignatureFrom(chain[i]); err != nil {
			return fmt.Errorf("certificate %d of the chain (%s) is not signed by the next one (%s): %w",
				i, chain[i-1].Subject, chain[i].Subject, err)
		}
	}
	return nil
}

// VerifyChain checks that k's chain leads to one of roots, at now or, for
// a certificate not valid yet, when it becomes valid.
func (k *Key) VerifyChain(roots *x509.CertPool, now time.Time) error {
	leaf := k.Chain[0]
	inter := x509.NewCertPool()
	for _, c := range k.Chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: maxTime(now, leaf.NotBefore),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("key %s: the certificate chain does not lead to a configured root: %w", k.KID, err)
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// an RSA, ECDSA or Ed25519 public key: the hash of the JSON of its
// required members only, in lexicographic order, without whitespace.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var doc string
	switch p := pub.(type) {
	case *rsa.PublicKey:
		doc = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(p.E)).Bytes()), b64(p.N.Bytes()))
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return "", errors.New("thumbprint: only P-256 ECDSA keys are supported")
		}
		raw, err := p.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		doc = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(raw[1:33]), b64(raw[33:]))
	case ed25519.PublicKey:
		doc = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, b64(p))
	default:
		return "", fmt.Errorf("thumbprint: unsupported key type %T", pub)
	}
	sum := sha256.Sum256([]byte(doc))
	return b64(sum[:]), nil
}

// Set is the app's signing keys. It is immutable and safe for concurrent
// use.
type Set struct {
	keys []*Key // newest certificate first
}

// NewSet makes a Set. It fails with no keys or with two keys of the same
// kid.
func NewSet(keys ...*Key) (*Set, error) {
	if len(keys) == 0 {
		return nil, errors.New("tokenkeys: no keys")
	}
	keys = slices.Clone(keys)
	// Newest first; the stable sort keeps the configured order on ties,
	// reversed so that the key listed last wins.
	slices.Reverse(keys)
	slices.SortStableFunc(keys, func(a, b *Key) int { return b.Cert().NotBefore.Compare(a.Cert().NotBefore) })
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.KID] {
			return nil, fmt.Errorf("tokenkeys: key %s is configured twice", k.KID)
		}
		seen[k.KID] = true
	}
	return &Set{keys: keys}, nil
}

// Keys returns every key, newest certificate first.
func (s *Set) Keys() []*Key { return slices.Clone(s.keys) }

// VerifyChains checks that every key's chain leads to one of roots
// ([Key.VerifyChain]).
func (s *Set) VerifyChains(roots *x509.CertPool, now time.Time) error {
	for _, k := range s.keys {
		if err := k.VerifyChain(roots, now); err != nil {
			return err
		}
	}
	return nil
}

// Signing returns the key that signs at now: the one with the newest
// certificate that is valid at now. A key whose certificate is not valid
// yet is published but does not sign, so verifiers can learn it first.
// It fails with ErrNoSigningKey.
func (s *Set) Signing(now time.Time) (*Key, error) {
	for _, k := range s.keys {
		if k.validAt(now) {
			return k, nil
		}
	}
	return nil, ErrNoSigningKey
}

// JWKS returns the public JWK Set document: each key with kty, use "sig",
// alg, kid, its public members, x5c (standard base64 DER, leaf first),
// x5t and x5t#S256. No private member is ever included.
func (s *Set) JWKS() ([]byte, error) {
	doc := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range s.keys {
		j, err := k.jwk()
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, j.Marshal())
	}
	return json.Marshal(doc)
}

// Storage returns the public keys as a jwkset.Storage, for verifying the
// app's own tokens without fetching its JWK Set over HTTP.
func (s *Set) Storage() (jwkset.Storage, error) {
	st := jwkset.NewMemoryStorage()
	for _, k := range s.keys {
		j, err := k.jwk()
		if err != nil {
			return nil, err
		}
		if err := st.KeyWrite(context.Background(), j); err != nil {
			return nil, fmt.Errorf("tokenkeys: %w", err)
		}
	}
	return st, nil
}

func (k *Key) jwk() (jwkset.JWK, error) {
	j, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(k.Alg), KID: k.KID, USE: jwkset.UseSig},
		X509:     jwkset.JWKX509Options{X5C: k.Chain},
	})
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("tokenkeys: JWK of key %s: %w", k.KID, err)
	}
	return j, nil
}

// CertPEM returns the certificate chain of the key that signs at now, PEM
// encoded. It fails with ErrNoSigningKey.
func (s *Set) CertPEM(now time.Time) ([]byte, error) {
	k, err := s.Signing(now)
	if err != nil {
		return nil, err
	}
	return chainPEM(k.Chain), nil
}

func chainPEM(chain []*x509.Certificate) []byte {
	var out []byte
	for _, c := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
