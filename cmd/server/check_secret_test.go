package main

import (
	"errors"
	"strings"
	"testing"

	"example.com/twitterlogin/handlers/devtwitter"
)

// TestCheck_WeakSecret: -check reports a weak SESSION_SECRET by the rule
// config refuses it by outside dev mode (config.LooksRandom: at least 12
// different bytes, no placeholder), and a dev-mode generated one as such.
func TestCheck_WeakSecret(t *testing.T) {
	e := newCheckEnv(t, devtwitter.Config{})
	tests := []struct {
		name   string
		secret string
		want   string // the SESSION_SECRET line's start
	}{
		{"10 different characters", strings.Repeat("abcdefghij", 4), "FAIL SESSION_SECRET: 40 bytes but only 10 different characters"},
		{"11 different characters", strings.Repeat("abcdefghijk", 4), "FAIL SESSION_SECRET: 44 bytes but only 11 different characters"},
		{"placeholder", "ci-placeholder-not-a-real-secret-0123456", "FAIL SESSION_SECRET: 40 bytes but looks like a placeholder"},
		{"12 different characters", strings.Repeat("abcdefghijkl", 3), "OK   SESSION_SECRET: 36 bytes"},
		{"generated in dev mode", "", "OK   SESSION_SECRET: not set: dev mode keeps a generated one in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCheck(t, withEnv(e.env, "SESSION_SECRET", tt.secret))
			wantLine(t, out, tt.want)
			if fail := strings.HasPrefix(tt.want, "FAIL"); fail != errors.Is(err, errCheckFailed) {
				t.Errorf("err = %v, want a failed check %v\n%s", err, fail, out)
			}
		})
	}
}
