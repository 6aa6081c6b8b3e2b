package config

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MaxTokenLifetime caps TOKEN_LIFETIME: service tokens cannot be revoked,
// so they must be short-lived (RFC 9068 §2.2, security.md S85).
const MaxTokenLifetime = time.Hour

// DemoAudience is the audience of the demo image service (cmd/imageservice),
// which the dev-mode role map grants to every user.
const DemoAudience = "image-service"

// Tokens configures the service tokens the app issues at POST /token.
type Tokens struct {
	// Keys are the signing key and certificate files, in the order of
	// TOKEN_KEY_FILES and TOKEN_CERT_FILES. Empty in dev mode means a
	// generated key kept in DataDir; empty outside dev mode turns service
	// tokens off.
	Keys []KeyFiles
	// RootFile (TOKEN_ROOT_FILE), if set, is a PEM file of certificate
	// authorities: every signing key's certificate chain must lead to one
	// of them, or the server refuses to start.
	RootFile string
	// Lifetime is how long an issued token lives (TOKEN_LIFETIME).
	Lifetime time.Duration
	// Audience is the app's own audience id: a token for it may call the
	// app's JSON API (/db) with a bearer token.
	Audience string
	// DefaultRoles are the roles a new user gets.
	DefaultRoles []string
	// Roles maps a role to the audiences it may ask tokens for and, for
	// each audience, the routes it may be granted.
	Roles map[string]map[string][]string
}

// KeyFiles names one signing key and its X.509 certificate (chain, leaf
// first), both PEM.
type KeyFiles struct {
	Key  string
	Cert string
}

// Allowed returns the routes that roles may be granted for audience,
// sorted and without duplicates.
func (t *Tokens) Allowed(roles []string, audience string) []string {
	var out []string
	for _, r := range roles {
		out = append(out, t.Roles[r][audience]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var roleName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// loadTokens reads the TOKEN_* variables. It runs after PUBLIC_URL is
// parsed, whose value is the default audience of the app itself.
func (c *Config) loadTokens(env func(key, def string) string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	t := &c.Tokens

	keys, certs := splitList(env("TOKEN_KEY_FILES", "")), splitList(env("TOKEN_CERT_FILES", ""))
	if len(keys) != len(certs) {
		bad("TOKEN_KEY_FILES and TOKEN_CERT_FILES must list as many files each (paired by position), but list %d and %d", len(keys), len(certs))
	} else {
		for i := range keys {
			t.Keys = append(t.Keys, KeyFiles{Key: keys[i], Cert: certs[i]})
		}
	}

	t.RootFile = env("TOKEN_ROOT_FILE", "")

	var err error
	if t.Lifetime, err = time.ParseDuration(env("TOKEN_LIFETIME", "10m")); err != nil || t.Lifetime < time.Minute || t.Lifetime > MaxTokenLifetime {
		bad("TOKEN_LIFETIME must be a duration between 1m and %s, but is %q", MaxTokenLifetime, env("TOKEN_LIFETIME", ""))
	}

	defAudience := ""
	if c.PublicURL != nil {
		defAudience = c.PublicURL.String()
	}
	t.Audience = env("TOKEN_AUDIENCE", defAudience)
	if t.Audience != "" && !validAudience(t.Audience) {
		bad("TOKEN_AUDIENCE must be 1 to 200 printable characters without spaces, but is %q", t.Audience)
	}

	t.DefaultRoles = splitList(env("TOKEN_DEFAULT_ROLES", "user"))
	for _, r := range t.DefaultRoles {
		if !roleName.MatchString(r) {
			bad("TOKEN_DEFAULT_ROLES must list role names of letters, digits, '_', '.' or '-', but has %q", r)
		}
	}

	rawRoles := env("TOKEN_ROLES", "")
	if rawRoles == "" {
		// Every user may call the app's own API, which the session cookie
		// already allows; dev mode adds the demo image service.
		t.Roles = map[string]map[string][]string{"user": {}}
		if t.Audience != "" {
			t.Roles["user"][t.Audience] = []string{"/db"}
		}
		if c.Dev {
			t.Roles["user"][DemoAudience] = []string{"/image"}
		}
	} else {
		dec := json.NewDecoder(strings.NewReader(rawRoles))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t.Roles); err != nil || dec.More() {
			bad(`TOKEN_ROLES must be one JSON object {"role": {"audience": ["/route", ...]}}, but does not parse: %v`, err)
		}
	}
	for role, auds := range t.Roles {
		if !roleName.MatchString(role) {
			bad("TOKEN_ROLES: role names are letters, digits, '_', '.' or '-', but one is %q", role)
		}
		for aud, routes := range auds {
			if !validAudience(aud) {
				bad("TOKEN_ROLES: role %q: audience must be 1 to 200 printable characters without spaces, but is %q", role, aud)
			}
			for _, r := range routes {
				if !cleanRoute(r) {
					bad("TOKEN_ROLES: role %q audience %q: routes must be clean absolute paths like /image (no '..', '//', trailing '/' or '%%'), but one is %q", role, aud, r)
				}
			}
		}
	}
	for _, r := range t.DefaultRoles {
		if _, ok := t.Roles[r]; !ok && roleName.MatchString(r) {
			bad("TOKEN_DEFAULT_ROLES names role %q, which TOKEN_ROLES does not define", r)
		}
	}
	return problems
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func validAudience(a string) bool {
	if a == "" || len(a) > 200 {
		return false
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// cleanRoute reports whether r is a canonical absolute path: the only form
// a bearer token's grant can take (package handlers/bearer matches grants
// exactly against the cleaned request path).
func cleanRoute(r string) bool {
	return strings.HasPrefix(r, "/") && path.Clean(r) == r && !strings.ContainsAny(r, "%?#\\") && len(r) <= 200
}
