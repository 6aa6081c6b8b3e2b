package handlers

import (
	"encoding/base64"
	"html"
	"net/http"
	"strings"
	"testing"

	"example.com/twitterlogin/config"
)

// TestAcceptableAvatar: avatars are https, or the provider's own origin,
// or, in development only, the dev provider's SVG data: URIs.
func TestAcceptableAvatar(t *testing.T) {
	svg := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte("<svg/>"))
	dev := &config.Config{Dev: true, Twitter: config.Twitter{APIBase: "http://127.0.0.1:4000"}}
	prod := &config.Config{Twitter: config.Twitter{APIBase: "https://api.x.com"}}
	tests := []struct {
		name      string
		raw       string
		dev, prod bool
	}{
		{"https", "https://pbs.twimg.com/a.png", true, true},
		{"the provider's own origin", "http://127.0.0.1:4000/avatars/1.svg", true, false},
		{"the dev provider's SVG data: URI", svg, true, false},
		{"an SVG data: URI that is not base64", "data:image/svg+xml;base64,<svg/>", false, false},
		{"other data: URIs", "data:text/html;base64,PHNjcmlwdD4=", false, false},
		{"plain http elsewhere", "http://example.com/a.png", false, false},
		{"javascript:", "javascript:alert(1)", false, false},
		{"credentials in the URL", "https://u:p@pbs.twimg.com/a.png", false, false},
		{"too long", "https://pbs.twimg.com/" + strings.Repeat("a", maxURLLen), false, false},
		{"empty", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acceptableAvatar(dev, tc.raw); got != tc.dev {
				t.Errorf("in development: %v, want %v", got, tc.dev)
			}
			if got := acceptableAvatar(prod, tc.raw); got != tc.prod {
				t.Errorf("in production: %v, want %v", got, tc.prod)
			}
		})
	}
}

// TestDevAvatarSurvivesProviderRestart: the dev provider's avatar is a
// data: URI, so it names no port that a restart changes, and the page
// shows it with a CSP that lets it load.
func TestDevAvatarSurvivesProviderRestart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login("oauth2", "1001")
	resp := b.get("/")
	body := html.UnescapeString(resp.body) // src="data:image/svg&#43;xml..."
	wantStatus(t, resp, http.StatusOK)
	if !strings.Contains(body, `class="avatar" src="data:image/svg+xml;base64,`) {
		t.Errorf("the page shows no data: avatar:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' ") || !strings.Contains(csp, " data:") {
		t.Errorf("CSP %q does not allow data: images in development", csp)
	}
	if strings.Contains(body, h.provSrv.URL) {
		t.Error("the page names the dev provider's address, which changes when it restarts")
	}
}
