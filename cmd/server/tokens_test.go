package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/tokenkeys"
)

func TestLoadTokenKeys(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	dev := &config.Config{Dev: true, DataDir: dir}
	now := time.Now()

	first, err := loadTokenKeys(dev, false, now, log)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := first.Signing(now)
	again, err := loadTokenKeys(dev, false, now.Add(time.Minute), log)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := again.Signing(now.Add(time.Minute)); k.KID != k1.KID {
		t.Errorf("restart signs with %s, want the kept dev key %s", k.KID, k1.KID)
	}
	rotated, err := loadTokenKeys(dev, true, now.Add(2*time.Minute), log)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := rotated.Signing(now.Add(2 * time.Minute)); k.KID == k1.KID || len(rotated.Keys()) != 2 {
		t.Errorf("after -rotate-token-key: signing %s with %d keys published", k.KID, len(rotated.Keys()))
	}

	prod := &config.Config{DataDir: dir}
	if keys, err := loadTokenKeys(prod, false, now, log); keys != nil || err != nil {
		t.Errorf("production without key files = %v, %v; want tokens off", keys, err)
	}
	if _, err := loadTokenKeys(prod, true, now, log); err == nil || !strings.Contains(err.Error(), "dev mode") {
		t.Errorf("-rotate-token-key in production = %v", err)
	}
	bad := &config.Config{Tokens: config.Tokens{Keys: []config.KeyFiles{{Key: filepath.Join(dir, "none.key"), Cert: filepath.Join(dir, "none.crt")}}}}
	if _, err := loadTokenKeys(bad, false, now, log); err == nil || !strings.Contains(err.Error(), "none.key") {
		t.Errorf("missing key file = %v", err)
	}
}

// TestLoadTokenKeys_RootFile: with TOKEN_ROOT_FILE, the server starts only
// if every signing key's chain leads to one of its certificates.
func TestLoadTokenKeys_RootFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pair := func(name string) (config.KeyFiles, []byte) {
		t.Helper()
		k, err := tokenkeys.Generate(tokenkeys.ES256, now.Add(-time.Minute), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, certPEM, err := k.PEM()
		if err != nil {
			t.Fatal(err)
		}
		return config.KeyFiles{Key: write(name+".key", keyPEM), Cert: write(name+".crt", certPEM)}, certPEM
	}
	signing, ownCert := pair("signing")
	_, strangerCert := pair("stranger")
	tests := []struct {
		name, roots string
		wantErr     string // "" for none
	}{
		{"the chain leads to the root", write("own-root.pem", ownCert), ""},
		{"the chain leads elsewhere", write("stranger-root.pem", strangerCert), "TOKEN_ROOT_FILE: key "},
		{"the root file holds no certificate", write("empty.pem", []byte("not PEM")), "holds no PEM certificate"},
		{"the root file is missing", filepath.Join(dir, "none.pem"), "none.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Tokens: config.Tokens{Keys: []config.KeyFiles{signing}, RootFile: tc.roots}}
			_, err := loadTokenKeys(cfg, false, now, slog.New(slog.DiscardHandler))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("loadTokenKeys: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("loadTokenKeys = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
