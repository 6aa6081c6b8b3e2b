package config_test

import (
	"strings"
	"testing"

	"example.com/twitterlogin/config"
)

// TestLooksRandom pins the one secret-randomness rule that Load and
// `server -check` share.
func TestLooksRandom(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   bool
	}{
		{"openssl output", "RUPhP0cyowpm9Lyf/A4Xth8UDFrrrQu/GC7oQlXaIMw=", true},
		{"exactly 12 different bytes", "abcdefghijkl", true},
		{"11 different bytes", strings.Repeat("abcdefghijk", 4), false},
		{"8 different bytes", strings.Repeat("abcdefgh", 5), false},
		{"two bytes repeated", strings.Repeat("ab", 20), false},
		{"placeholder word", "ci-placeholder-not-a-real-secret-0123", false},
		{"placeholder in capitals", "CHANGEME-0123456789abcdefghijklmnop", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := config.LooksRandom([]byte(tt.secret)); got != tt.want {
				t.Errorf("LooksRandom(%q) = %v, want %v", tt.secret, got, tt.want)
			}
		})
	}
}

func TestDistinctBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"aaaa", 1},
		{"abab", 2},
		{"\x00\xff\x00", 2},
	}
	for _, tt := range tests {
		if got := config.DistinctBytes([]byte(tt.in)); got != tt.want {
			t.Errorf("DistinctBytes(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestIsLoopback pins the one loopback rule that config, cmd/internal/serve
// and handlers/bearer share.
func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"0.0.0.0", false},
		{"", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"10.0.0.1", false},
		{"[::1]", false},
	}
	for _, tt := range tests {
		if got := config.IsLoopback(tt.host); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
