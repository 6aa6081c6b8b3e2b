package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"example.com/twitterlogin/handlers/devtwitter"
)

// The files in DataDir that keep dev mode's generated secrets.
const (
	DevSessionSecretFile = "dev-session-secret"
	DevTokenKeyFile      = "dev-token-encryption-key"
)

// loadDevSecrets fills in what dev mode leaves unset: the session secret
// and the token encryption key, each kept in DataDir so developers stay
// signed in and their stored tokens stay readable across restarts.
func (c *Config) loadDevSecrets() error {
	if len(c.TokenEncryptionKeys) == 0 {
		key, err := devFileKey(c.DataDir, DevTokenKeyFile, 32)
		if err != nil {
			return err
		}
		c.TokenEncryptionKeys = []NamedKey{{ID: "dev", Key: key}}
	}
	if len(c.SessionSecret) == 0 {
		secret, err := devFileKey(c.DataDir, DevSessionSecretFile, MinSecretLen)
		if err != nil {
			return err
		}
		c.SessionSecret, c.GeneratedSessionSecret = secret, true
	}
	return nil
}

// devFileKey returns n bytes of dev-mode key material kept in dir under
// name, generating it on first use.
func devFileKey(dir, name string, n int) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= n {
		return b[:n], nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b = make([]byte, n)
	rand.Read(b)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return b, nil
}

// LoadOption adds to what [Load] reads from the environment.
type LoadOption func(*loadOptions)

type loadOptions struct {
	devProvider string // the dev provider's base URL; "" if none runs
}

// WithDevProvider tells [Load] where the development Twitter provider
// serves (http://host:port). Its port is known only once it listens
// (DEV_PROVIDER_ADDR defaults to port 0), so cmd/server binds it before
// loading, at [DevProviderAddr]; in dev mode without Twitter keys Load
// then points the Twitter settings at it.
func WithDevProvider(base string) LoadOption {
	return func(o *loadOptions) { o.devProvider = base }
}

// DevProviderAddr is where the dev provider listens: DEV_PROVIDER_ADDR,
// or a free loopback port.
func DevProviderAddr(getenv func(string) string) string {
	return withDefaults(getenv)("DEV_PROVIDER_ADDR", defaultDevProviderAddr)
}

// defaultDevProviderAddr is DEV_PROVIDER_ADDR's default.
const defaultDevProviderAddr = "127.0.0.1:0"

// useDevProvider points the Twitter settings at the development Twitter
// provider serving at base, with its well-known credentials.
func (c *Config) useDevProvider(base string) {
	t := &c.Twitter
	t.APIBase, t.AuthorizeBase = base, base
	t.ConsumerKey, t.ConsumerSecret = devtwitter.DevConsumerKey, devtwitter.DevConsumerSecret
	t.ClientID, t.ClientSecret = devtwitter.DevClientID, devtwitter.DevClientSecret
}
