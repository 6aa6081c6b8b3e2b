package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenDefaults(t *testing.T) {
	dev, err := load(t, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := dev.Tokens
	if tk.Lifetime != 10*time.Minute || tk.Audience != "http://localhost:8080" || !slices.Equal(tk.DefaultRoles, []string{"user"}) || len(tk.Keys) != 0 {
		t.Errorf("dev token defaults %+v", tk)
	}
	if got := tk.Allowed([]string{"user"}, "image-service"); !slices.Equal(got, []string{"/image"}) {
		t.Errorf("dev user may get %v for image-service, want [/image]", got)
	}
	if got := tk.Allowed([]string{"user"}, "http://localhost:8080"); !slices.Equal(got, []string{"/db"}) {
		t.Errorf("dev user may get %v for the app, want [/db]", got)
	}

	prod, err := load(t, false, map[string]string{
		"SESSION_SECRET": secret, "PUBLIC_URL": "https://login.example.com", "TOKEN_ENCRYPTION_KEYS": "k1:" + encKey,
		"TWITTER_CLIENT_ID": "id", "TWITTER_CLIENT_SECRET": "s",
		"TOKEN_KEY_FILES": "/k/a.key, /k/b.key", "TOKEN_CERT_FILES": "/k/a.crt,/k/b.crt",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := prod.Tokens.Allowed([]string{"user"}, "image-service"); len(got) != 0 {
		t.Errorf("production grants the demo service by default: %v", got)
	}
	if k := prod.Tokens.Keys; len(k) != 2 || k[1].Key != "/k/b.key" || k[1].Cert != "/k/b.crt" {
		t.Errorf("keys %+v", k)
	}
}

func TestTokenSettingsRefused(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unpaired files", map[string]string{"TOKEN_KEY_FILES": "a.key,b.key", "TOKEN_CERT_FILES": "a.crt"}, "as many files"},
		{"lifetime too long", map[string]string{"TOKEN_LIFETIME": "2h"}, "TOKEN_LIFETIME must be"},
		{"lifetime not a duration", map[string]string{"TOKEN_LIFETIME": "ten"}, "TOKEN_LIFETIME must be"},
		{"roles not JSON", map[string]string{"TOKEN_ROLES": "user=/image"}, "TOKEN_ROLES must be one JSON object"},
		{"unclean route", map[string]string{"TOKEN_ROLES": `{"user":{"svc":["/image/"]}}`}, "clean absolute paths"},
		{"relative route", map[string]string{"TOKEN_ROLES": `{"user":{"svc":["image"]}}`}, "clean absolute paths"},
		{"undefined default role", map[string]string{"TOKEN_DEFAULT_ROLES": "admin"}, `role "admin"`},
		{"audience with a space", map[string]string{"TOKEN_AUDIENCE": "my app"}, "TOKEN_AUDIENCE must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, true, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
