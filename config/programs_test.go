package config_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"example.com/twitterlogin/config"
)

func TestLoadDevTwitter(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unset", nil, nil},
		{"one", map[string]string{"DEV_TWITTER_CALLBACKS": "http://a/cb"}, []string{"http://a/cb"}},
		{"trimmed, empty entries dropped", map[string]string{"DEV_TWITTER_CALLBACKS": " http://a/cb, http://b/cb,,"}, []string{"http://a/cb", "http://b/cb"}},
		{"only commas", map[string]string{"DEV_TWITTER_CALLBACKS": " , ,"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := config.LoadDevTwitter(func(k string) string { return tt.env[k] })
			if !slices.Equal(got.Callbacks, tt.want) {
				t.Errorf("Callbacks = %q, want %q", got.Callbacks, tt.want)
			}
		})
	}
}

func TestLoadImageService(t *testing.T) {
	defaults := config.ImageService{
		Addr:     "127.0.0.1:8090",
		JWKSURL:  "http://localhost:8080/.well-known/jwks.json",
		Issuer:   "http://localhost:8080",
		Audience: config.DemoAudience,
	}
	tests := []struct {
		name string
		env  map[string]string
		want config.ImageService
	}{
		{"defaults", nil, defaults},
		{"every variable", map[string]string{
			"IMAGESERVICE_ADDR": "127.0.0.1:0", "IMAGESERVICE_JWKS_URL": "https://login.example.com/.well-known/jwks.json",
			"IMAGESERVICE_ISSUER": "https://login.example.com", "IMAGESERVICE_AUDIENCE": "images",
		}, config.ImageService{Addr: "127.0.0.1:0", JWKSURL: "https://login.example.com/.well-known/jwks.json",
			Issuer: "https://login.example.com", Audience: "images"}},
		{"empty means default", map[string]string{"IMAGESERVICE_ADDR": ""}, defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := config.LoadImageService(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("LoadImageService = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestREADMEConfigurationTable: every variable any program reads has a
// row in README.md's configuration table.
func TestREADMEConfigurationTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for line := range strings.SplitSeq(section, "\n") {
		if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |"); ok {
			for _, m := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(first, -1) {
				documented[m[1]] = true
			}
		}
	}
	read := map[string]bool{}
	record := func(k string) string { read[k] = true; return "" }
	config.LoadDevTwitter(record)
	config.LoadImageService(record)
	for _, name := range config.Variables() {
		read[name] = true
	}
	for name := range read {
		if !documented[name] {
			t.Errorf("README.md's configuration table has no row for %s", name)
		}
	}
}
