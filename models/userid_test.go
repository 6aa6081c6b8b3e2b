package models_test

import (
	"testing"

	"example.com/twitterlogin/models"
)

func TestUserIDFor(t *testing.T) {
	tests := []struct {
		twitterID string
		want      string // hex, "" for an error
	}{
		{"1", "747774720000000000000001"},
		{"2244994945", "747774720000000085cfe781"},
		{"18446744073709551615", "74777472ffffffffffffffff"},
		{"18446744073709551616", ""}, // over 64 bits
		{"", ""},
		{"-1", ""},
		{"+1", ""},
		{"12a", ""},
		{"1e3", ""},
		{" 1", ""},
	}
	for _, tt := range tests {
		id, err := models.UserIDFor(tt.twitterID)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("UserIDFor(%q) = %s, want an error", tt.twitterID, id.Hex())
		case tt.want != "" && (err != nil || id.Hex() != tt.want):
			t.Errorf("UserIDFor(%q) = %s, %v; want %s", tt.twitterID, id.Hex(), err, tt.want)
		}
	}
}
