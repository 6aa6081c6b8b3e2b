package main

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/config"
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
