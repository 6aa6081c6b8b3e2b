package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatic_NoDirectoryListing: a directory under /static/ is the app's
// 404 page, not a listing, while the assets themselves still serve.
func TestStatic_NoDirectoryListing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	for _, target := range []string{"/static/", "/static/.", "/static/no-such.css", "/static/app.css/"} {
		r := b.get(target)
		wantPage(t, r, http.StatusNotFound, "Page not found.")
		if strings.Contains(r.body, `href="app.css"`) {
			t.Errorf("GET %s lists the directory:\n%s", target, r.body)
		}
	}
	r := b.get("/static/app.css")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("GET /static/app.css: Content-Type %q, want text/css", ct)
	}
	req, err := http.NewRequest(http.MethodHead, b.abs("/static/app.css"), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.do(req), http.StatusOK)
}
