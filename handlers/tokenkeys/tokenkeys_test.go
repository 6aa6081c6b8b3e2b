package tokenkeys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/tokenkeys"
)

var (
	rsaOnce sync.Once
	rsaKey  *tokenkeys.Key
)

// sharedRSA generates one RSA key per test binary: slow under -race.
func sharedRSA(t *testing.T) *tokenkeys.Key {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = tokenkeys.Generate(tokenkeys.RS256, time.Now().Add(-time.Hour), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}

func TestThumbprintRFC7638Example(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got, err := tokenkeys.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s (RFC 7638 §3.1)", got, want)
	}
}

func TestGenerateEachAlgorithm(t *testing.T) {
	for _, alg := range []string{tokenkeys.RS256, tokenkeys.ES256, tokenkeys.EdDSA} {
		k := sharedRSA(t)
		if alg != tokenkeys.RS256 {
			var err error
			if k, err = tokenkeys.Generate(alg, time.Now(), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if k.Alg != alg || len(k.KID) != 43 || len(k.X5TS256) != 43 {
			t.Errorf("%s: alg %s kid %q x5t#S256 %q", alg, k.Alg, k.KID, k.X5TS256)
		}
		// Round trip through PEM gives the same key.
		keyPEM, certPEM, err := k.PEM()
		if err != nil {
			t.Fatal(err)
		}
		again, err := tokenkeys.ParsePEM(keyPEM, certPEM, time.Now())
		if err != nil || again.KID != k.KID {
			t.Errorf("%s: ParsePEM = %v, kid %v", alg, err, again)
		}
	}
}

func TestNewKeyRefuses(t *testing.T) {
	now := time.Now()
	good := sharedRSA(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	selfSign := func(s crypto.Signer, from, to time.Time) []*x509.Certificate {
		c, err := tokenkeys.SelfSign(s, "test", from, to)
		if err != nil {
			t.Fatal(err)
		}
		return []*x509.Certificate{c}
	}
	tests := []struct {
		name   string
		signer crypto.Signer
		chain  []*x509.Certificate
		want   string
	}{
		{"mismatched pair", other, good.Chain, "does not match"},
		{"expired certificate", other, selfSign(other, now.Add(-48*time.Hour), now.Add(-time.Hour)), "expired"},
		{"RSA 1024", weak, selfSign(weak, now, now.Add(time.Hour)), "at least 2048 bits"},
		{"P-384", p384, selfSign(p384, now, now.Add(time.Hour)), "P-256"},
		{"no certificate", other, nil, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenkeys.NewKey(tt.signer, tt.chain, now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKey = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func writePair(t *testing.T, dir, name string, k *tokenkeys.Key, mode os.FileMode) config.KeyFiles {
	t.Helper()
	keyPEM, certPEM, err := k.PEM()
	if err != nil {
		t.Fatal(err)
	}
	f := config.KeyFiles{Key: filepath.Join(dir, name+".key"), Cert: filepath.Join(dir, name+".crt")}
	if err := os.WriteFile(f.Key, keyPEM, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(f.Key, mode)
	if err := os.WriteFile(f.Cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	older := sharedRSA(t)
	newer, _ := tokenkeys.Generate(tokenkeys.ES256, now, time.Hour)
	files := []config.KeyFiles{writePair(t, dir, "new", newer, 0o600), writePair(t, dir, "old", older, 0o600)}
	set, err := tokenkeys.Load(files, now)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := set.Signing(now); k.KID != newer.KID {
		t.Errorf("signing key %s, want the newest certificate's %s", k.KID, newer.KID)
	}
	if n := len(set.Keys()); n != 2 {
		t.Errorf("%d keys, want both published", n)
	}

	t.Run("refuses a key file others can read", func(t *testing.T) {
		loose := writePair(t, dir, "loose", newer, 0o644)
		_, err := tokenkeys.Load([]config.KeyFiles{loose}, now)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), loose.Key) {
			t.Fatalf("Load = %v", err)
		}
	})
	t.Run("refuses a mismatched pair", func(t *testing.T) {
		mixed := config.KeyFiles{Key: files[0].Key, Cert: files[1].Cert}
		if _, err := tokenkeys.Load([]config.KeyFiles{mixed}, now); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("Load = %v", err)
		}
	})
	t.Run("refuses an expired certificate", func(t *testing.T) {
		if _, err := tokenkeys.Load(files[:1], now.Add(2*time.Hour)); !errors.Is(err, tokenkeys.ErrExpired) {
			t.Fatalf("Load = %v, want ErrExpired", err)
		}
	})
	t.Run("refuses a missing file", func(t *testing.T) {
		if _, err := tokenkeys.Load([]config.KeyFiles{{Key: filepath.Join(dir, "nope.key"), Cert: files[0].Cert}}, now); err == nil {
			t.Fatal("Load = nil error")
		}
	})
}

func TestSigningSkipsCertificatesNotValidYet(t *testing.T) {
	now := time.Now()
	current := sharedRSA(t)
	future, _ := tokenkeys.Generate(tokenkeys.ES256, now.Add(time.Hour), time.Hour)
	set, err := tokenkeys.NewSet(current, future)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := set.Signing(now); k.KID != current.KID {
		t.Errorf("signing with %s before the new certificate is valid", k.KID)
	}
	if k, _ := set.Signing(now.Add(90 * time.Minute)); k.KID != future.KID {
		t.Errorf("signing with %s once the new certificate is valid", k.KID)
	}
	if _, err := set.Signing(now.Add(72 * time.Hour)); !errors.Is(err, tokenkeys.ErrNoSigningKey) {
		t.Errorf("Signing after every certificate expired = %v", err)
	}
}

// TestJWKS: public members only; x5c is standard base64 DER that matches
// the published PEM and verifies against it; kid is the thumbprint.
func TestJWKS(t *testing.T) {
	now := time.Now()
	ec, _ := tokenkeys.Generate(tokenkeys.ES256, now.Add(-time.Minute), time.Hour)
	ed, _ := tokenkeys.Generate(tokenkeys.EdDSA, now.Add(-2*time.Minute), time.Hour)
	set, err := tokenkeys.NewSet(sharedRSA(t), ec, ed)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := set.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []map[string]any }
	if err := json.Unmarshal(doc, &jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 3 {
		t.Fatalf("%d keys published, want 3", len(jwks.Keys))
	}
	for _, jk := range jwks.Keys {
		checkPublishedKey(t, jk)
	}

	// The signing key's x5c is the published PEM certificate, and verifies
	// with it as the only root.
	signing, _ := set.Signing(now)
	certPEM, err := set.CertPEM(now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	pemCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, jk := range jwks.Keys {
		if jk["kid"] != signing.KID {
			continue
		}
		der, _ := base64.StdEncoding.DecodeString(jk["x5c"].([]any)[0].(string))
		leaf, _ := x509.ParseCertificate(der)
		if !leaf.Equal(pemCert) {
			t.Fatal("the signing key's x5c differs from token-cert.pem")
		}
		roots := x509.NewCertPool()
		roots.AddCert(pemCert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("x5c does not verify against the PEM: %v", err)
		}
		return
	}
	t.Fatal("the signing key is not published")
}

// checkPublishedKey checks one published JWK: public members only, and an
// x5c whose key has the kid's thumbprint and whose DER has the x5t#S256.
func checkPublishedKey(t *testing.T, jk map[string]any) {
	t.Helper()
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := jk[private]; ok {
			t.Errorf("key %v publishes private member %q", jk["kid"], private)
		}
	}
	for _, m := range []string{"kty", "use", "alg", "kid", "x5c", "x5t#S256"} {
		if _, ok := jk[m]; !ok {
			t.Errorf("key %v lacks %q", jk["kid"], m)
		}
	}
	if jk["use"] != "sig" {
		t.Errorf("use = %v", jk["use"])
	}
	x5c := jk["x5c"].([]any)
	der, err := base64.StdEncoding.DecodeString(x5c[0].(string))
	if err != nil {
		t.Fatalf("x5c[0] is not standard base64: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tokenkeys.Thumbprint(leaf.PublicKey)
	if kid != jk["kid"] {
		t.Errorf("kid %v, thumbprint of the x5c key %s", jk["kid"], kid)
	}
	sum := sha256.Sum256(der)
	if x5t := base64.RawURLEncoding.EncodeToString(sum[:]); x5t != jk["x5t#S256"] {
		t.Errorf("x5t#S256 %v, want %s", jk["x5t#S256"], x5t)
	}
}

func TestDevKeys(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	retain := time.Hour

	first, err := tokenkeys.LoadDev(dir, start, retain)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := first.Signing(start)
	matches, _ := filepath.Glob(filepath.Join(dir, "token-keys", "*.key"))
	if len(matches) != 1 {
		t.Fatalf("key files %v, want one", matches)
	}
	if fi, _ := os.Stat(matches[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("dev key mode %v, want 0600", fi.Mode().Perm())
	}
	if k1.Alg != tokenkeys.RS256 {
		t.Errorf("dev key alg %s, want RS256", k1.Alg)
	}

	again, err := tokenkeys.LoadDev(dir, start.Add(time.Minute), retain)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := again.Signing(start.Add(time.Minute)); k.KID != k1.KID || len(again.Keys()) != 1 {
		t.Fatalf("second start signs with %s (%d keys), want the kept key %s", k.KID, len(again.Keys()), k1.KID)
	}

	rotatedAt := start.Add(2 * time.Minute)
	k2, err := tokenkeys.RotateDev(dir, rotatedAt)
	if err != nil {
		t.Fatal(err)
	}
	after, err := tokenkeys.LoadDev(dir, rotatedAt, retain)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := after.Signing(rotatedAt); k.KID != k2.KID || len(after.Keys()) != 2 {
		t.Fatalf("after rotation signs with %s (%d keys), want %s with the old key still published", k.KID, len(after.Keys()), k2.KID)
	}

	// Once every token of the old key has expired, it is dropped.
	later := rotatedAt.Add(retain + time.Second)
	final, err := tokenkeys.LoadDev(dir, later, retain)
	if err != nil {
		t.Fatal(err)
	}
	if ks := final.Keys(); len(ks) != 1 || ks[0].KID != k2.KID {
		t.Fatalf("after retention %d keys, want only %s", len(ks), k2.KID)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "token-keys", "*.key")); len(m) != 1 {
		t.Errorf("key files after retention: %v", m)
	}
}
