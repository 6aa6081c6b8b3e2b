package config

import (
	"slices"
	"testing"
)

// TestRemoteDevListeners: dev mode names every listener that is not
// loopback only; production names none (it listens where it is told).
func TestRemoteDevListeners(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"dev on localhost", Config{Dev: true, Addr: "localhost:8080", DevProvider: true, DevProviderAddr: "127.0.0.1:0"}, nil},
		{"dev on ::1", Config{Dev: true, Addr: "[::1]:8080"}, nil},
		{"dev on every interface", Config{Dev: true, Addr: ":8080"}, []string{"ADDR=:8080"}},
		{"dev on a LAN address", Config{Dev: true, Addr: "192.168.1.10:8080"}, []string{"ADDR=192.168.1.10:8080"}},
		{"dev provider on every interface", Config{Dev: true, Addr: "localhost:8080", DevProvider: true, DevProviderAddr: "0.0.0.0:0"},
			[]string{"DEV_PROVIDER_ADDR=0.0.0.0:0"}},
		{"dev provider address unused with real keys", Config{Dev: true, Addr: "localhost:8080", DevProviderAddr: "0.0.0.0:0"}, nil},
		{"production on every interface", Config{Addr: ":8080"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.RemoteDevListeners(); !slices.Equal(got, tc.want) {
				t.Errorf("RemoteDevListeners = %q, want %q", got, tc.want)
			}
		})
	}
}
