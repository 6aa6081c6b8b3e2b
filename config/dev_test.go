package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.com/twitterlogin/config"
)

// TestDevSecrets: dev mode fills in the session secret and the token
// encryption key that are not set, keeps them in DATA_DIR and reuses them;
// set ones win, and production never generates any.
func TestDevSecrets(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		wantGenerated bool   // the session secret
		wantKeyID     string // the first token encryption key's id
		wantFiles     []string
	}{
		{"nothing set", nil, true, "dev", []string{config.DevSessionSecretFile, config.DevTokenKeyFile}},
		{"session secret set", map[string]string{"SESSION_SECRET": secret}, false, "dev", []string{config.DevTokenKeyFile}},
		{"token key set", map[string]string{"TOKEN_ENCRYPTION_KEYS": "k1:" + encKey}, true, "k1", []string{config.DevSessionSecretFile}},
		{"both set", map[string]string{"SESSION_SECRET": secret, "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey}, false, "k1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			env := map[string]string{"DATA_DIR": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			first, err := load(t, true, env)
			if err != nil {
				t.Fatal(err)
			}
			if first.GeneratedSessionSecret != tt.wantGenerated || len(first.SessionSecret) < config.MinSecretLen {
				t.Errorf("GeneratedSessionSecret = %v (%d bytes), want %v", first.GeneratedSessionSecret, len(first.SessionSecret), tt.wantGenerated)
			}
			if len(first.TokenEncryptionKeys) == 0 || first.TokenEncryptionKeys[0].ID != tt.wantKeyID {
				t.Errorf("TokenEncryptionKeys = %v, want the first with id %q", first.TokenEncryptionKeys, tt.wantKeyID)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tt.wantFiles) {
				t.Errorf("DATA_DIR holds %d files, want %q", len(entries), tt.wantFiles)
			}
			for _, name := range tt.wantFiles {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Error(err)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
				}
			}
			again, err := load(t, true, env)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.SessionSecret, first.SessionSecret) || !bytes.Equal(again.TokenEncryptionKeys[0].Key, first.TokenEncryptionKeys[0].Key) {
				t.Error("a second Load did not reuse the secrets kept in DATA_DIR")
			}
		})
	}
}

func TestDevSecrets_UnwritableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, true, map[string]string{"DATA_DIR": filepath.Join(file, "data")})
	if err == nil || !strings.Contains(err.Error(), config.DevTokenKeyFile) {
		t.Errorf("Load with DATA_DIR under a file: err = %v, want one naming %s", err, config.DevTokenKeyFile)
	}
}

// TestProductionGeneratesNothing: outside dev mode a missing secret is an
// error, never a generated one.
func TestProductionGeneratesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := load(t, false, map[string]string{"DATA_DIR": dir}); err == nil {
		t.Fatal("Load without secrets in production succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("production Load created DATA_DIR: %v", err)
	}
}

// TestLoad_WithDevProvider: in dev mode without Twitter keys, Load points
// the Twitter settings at the dev provider it is told about; with keys, or
// in production, it leaves them alone.
func TestLoad_WithDevProvider(t *testing.T) {
	const base = "http://127.0.0.1:4567"
	c, err := load(t, true, map[string]string{"DATA_DIR": t.TempDir()}, config.WithDevProvider(base))
	if err != nil {
		t.Fatal(err)
	}
	tw := c.Twitter
	if tw.APIBase != base || tw.AuthorizeBase != base {
		t.Errorf("APIBase %q, AuthorizeBase %q, want the provider's base", tw.APIBase, tw.AuthorizeBase)
	}
	if tw.ClientID == "" || tw.ClientSecret == "" || tw.ConsumerKey == "" || tw.ConsumerSecret == "" {
		t.Errorf("the dev provider's credentials are not set: %+v", tw)
	}
	withKeys, err := load(t, true, map[string]string{"DATA_DIR": t.TempDir(),
		"TWITTER_CLIENT_ID": "real-id", "TWITTER_CLIENT_SECRET": "real-secret-0123456789"}, config.WithDevProvider(base))
	if err != nil {
		t.Fatal(err)
	}
	if withKeys.DevProvider || withKeys.Twitter.APIBase == base || withKeys.Twitter.ClientID != "real-id" {
		t.Errorf("with Twitter keys set, Load used the dev provider: %+v", withKeys.Twitter)
	}
}
