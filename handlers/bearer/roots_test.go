package bearer_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/tokenkeys"
)

// TestVerifierRoots: with roots configured, a key is trusted only if its
// x5c chain leads to one of them; without, for being published.
func TestVerifierRoots(t *testing.T) {
	trusted, stranger := testKey(t, tokenkeys.ES256, "a"), testKey(t, tokenkeys.ES256, "b")
	roots := x509.NewCertPool()
	roots.AddCert(trusted.Cert())
	set, err := tokenkeys.NewSet(trusted, stranger)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := set.Storage()
	if err != nil {
		t.Fatal(err)
	}
	verifier := func(roots *x509.CertPool) *bearer.Verifier {
		v, err := bearer.New(bearer.Options{Keys: keys, Issuer: testIssuer, Audience: testAudience, Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		roots *x509.CertPool
		key   *tokenkeys.Key
		ok    bool
	}{
		{"no roots: a published key", nil, stranger, true},
		{"a key whose chain leads to a root", roots, trusted, true},
		{"a published key outside the roots", roots, stranger, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustSign(t, tc.key, claims(time.Now(), "/image"))
			if _, err := verifier(tc.roots).Verify(context.Background(), tok); (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestVerifierRoots_KeyWithoutX5C: with roots configured, a key published
// without a certificate chain is refused: there is nothing to verify.
func TestVerifierRoots_KeyWithoutX5C(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	jwks := newJWKSServer(t, k)
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(jwks.doc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, jk := range doc.Keys {
		delete(jk, "x5c")
		delete(jk, "x5t#S256")
	}
	stripped, _ := json.Marshal(doc)
	jwks.mu.Lock()
	jwks.doc = stripped
	jwks.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := bearer.RemoteKeys(ctx, bearer.RemoteOptions{URL: jwks.URL, UnknownKIDInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(k.Cert())
	for _, withRoots := range []bool{false, true} {
		o := bearer.Options{Keys: keys, Issuer: testIssuer, Audience: testAudience}
		if withRoots {
			o.Roots = roots
		}
		v, err := bearer.New(o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(ctx, mustSign(t, k, claims(time.Now(), "/image")))
		if (err == nil) == withRoots {
			t.Errorf("with roots %v: Verify = %v", withRoots, err)
		}
	}
}
