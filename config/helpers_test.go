package config_test

import (
	"testing"

	"example.com/twitterlogin/config"
)

// load runs Load with env. Dev mode (-dev or APP_ENV) keeps its
// generated secrets in DATA_DIR (default "data", relative), so it runs in
// a temporary directory.
func load(t *testing.T, dev bool, env map[string]string, opts ...config.LoadOption) (*config.Config, error) {
	t.Helper()
	t.Chdir(t.TempDir())
	return config.Load(func(k string) string { return env[k] }, dev, opts...)
}
