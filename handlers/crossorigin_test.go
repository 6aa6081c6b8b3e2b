package handlers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCrossOriginRefused_JSONAndCounted: a cross-origin refusal is JSON
// for API clients and JSON routes, plain text for others, and shows in the
// request metrics as a 403.
func TestCrossOriginRefused_JSONAndCounted(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	metricsSrv := httptest.NewServer(h.srv.MetricsHandler())
	t.Cleanup(metricsSrv.Close)
	b := h.browser()
	cross := []string{"Sec-Fetch-Site", "cross-site"}
	tests := []struct {
		name, target, contentType, accept string
		json                              bool
	}{
		{"page route, Accept JSON", "/logout", "", "application/json", true},
		{"JSON route, no Accept", "/db", "", "", true},
		{"JSON route, JSON body", "/db", "application/json", "", true},
		// As in fail: an HTML form gets a page, whatever the route.
		{"JSON route, browser form", "/db", "application/x-www-form-urlencoded", "text/html", false},
		{"page route, browser form", "/logout", "application/x-www-form-urlencoded", "text/html", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(tt.target, tt.contentType, "", append(cross, "Accept", tt.accept)...)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if !tt.json {
				wantStatus(t, r, http.StatusForbidden)
				if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Errorf("a browser form got JSON: %s", r.body)
				}
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q, want the app's JSON errors' one", ct)
			}
			wantJSONError(t, r, http.StatusForbidden)
		})
	}

	resp, err := http.Get(metricsSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := `twitterlogin_http_requests_total{method="POST",route="cross-origin-refused",status="403"} 5`
	if !strings.Contains(string(raw), want) {
		t.Errorf("metrics lack %s", want)
	}
}
