package tokenkeys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/tokenkeys"
)

// authority is a certificate authority for the tests.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue makes a certificate for pub named name, signed by parent (nil:
// self-signed with key); ca says whether it may sign others.
func issue(t *testing.T, name string, pub crypto.PublicKey, parent *authority, key crypto.Signer, ca bool) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: ca,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	signerCert, signer := tmpl, key
	if parent != nil {
		signerCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newAuthority(t *testing.T, name string, parent *authority) *authority {
	t.Helper()
	k := newKey(t)
	return &authority{cert: issue(t, name, k.Public(), parent, k, true), key: k}
}

// TestNewKey_ChainLinks: each certificate of an x5c chain must be signed by
// the next, so a published chain is never one that cannot verify.
func TestNewKey_ChainLinks(t *testing.T) {
	root := newAuthority(t, "root", nil)
	inter := newAuthority(t, "intermediate", root)
	other := newAuthority(t, "other", nil)
	signer := newKey(t)
	leafOfInter := issue(t, "leaf", signer.Public(), inter, nil, false)
	leafOfRoot := issue(t, "leaf", signer.Public(), root, nil, false)
	leafOfLeaf := issue(t, "leaf", signer.Public(), &authority{cert: leafOfRoot, key: signer}, nil, false)
	tests := []struct {
		name    string
		chain   []*x509.Certificate
		wantErr string // "" for none
	}{
		{"leaf, intermediate, root", []*x509.Certificate{leafOfInter, inter.cert, root.cert}, ""},
		{"leaf and its issuer", []*x509.Certificate{leafOfRoot, root.cert}, ""},
		{"leaf alone", []*x509.Certificate{leafOfRoot}, ""},
		{"a stranger after the leaf", []*x509.Certificate{leafOfRoot, other.cert}, "certificate 1 of the chain"},
		{"intermediate and root swapped", []*x509.Certificate{leafOfInter, root.cert, inter.cert}, "certificate 1 of the chain"},
		{"signed by a certificate that is no authority", []*x509.Certificate{leafOfLeaf, leafOfRoot}, "certificate 1 of the chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokenkeys.NewKey(signer, tc.chain, time.Now())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewKey: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("NewKey = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestSet_VerifyChains: with roots configured, every key's chain must lead
// to one of them.
func TestSet_VerifyChains(t *testing.T) {
	root := newAuthority(t, "root", nil)
	inter := newAuthority(t, "intermediate", root)
	other := newAuthority(t, "other", nil)
	signer := newKey(t)
	key, err := tokenkeys.NewKey(signer, []*x509.Certificate{issue(t, "leaf", signer.Public(), inter, nil, false), inter.cert}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	selfSigned, err := tokenkeys.Generate(tokenkeys.ES256, time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := func(certs ...*x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range certs {
			p.AddCert(c)
		}
		return p
	}
	tests := []struct {
		name  string
		keys  []*tokenkeys.Key
		roots *x509.CertPool
		ok    bool
	}{
		{"chain to the root", []*tokenkeys.Key{key}, pool(root.cert), true},
		{"chain to another root", []*tokenkeys.Key{key}, pool(other.cert), false},
		{"one key of two outside the roots", []*tokenkeys.Key{key, selfSigned}, pool(root.cert), false},
		{"a self-signed key that is its own root", []*tokenkeys.Key{selfSigned}, pool(selfSigned.Cert()), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := tokenkeys.NewSet(tc.keys...)
			if err != nil {
				t.Fatal(err)
			}
			if err := set.VerifyChains(tc.roots, time.Now()); (err == nil) != tc.ok {
				t.Errorf("VerifyChains = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
