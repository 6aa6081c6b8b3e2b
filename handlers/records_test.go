package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestDBRefusesBadInput: every malformed request is a clear 4xx and
// stores nothing.
func TestDBRefusesBadInput(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login("oauth2", "1001")
	token := b.csrf()

	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
	}{
		{"malformed JSON", "application/json", `{"text":`, http.StatusBadRequest},
		{"not an object", "application/json", `["text"]`, http.StatusBadRequest},
		{"two objects", "application/json", `{"text":"a"}{"text":"b"}`, http.StatusBadRequest},
		{"no text", "application/json", `{}`, http.StatusBadRequest},
		{"empty text", "application/json", `{"text":""}`, http.StatusBadRequest},
		{"blank text", "application/json", `{"text":"   \n"}`, http.StatusBadRequest},
		{"text too long", "application/json", `{"text":"` + strings.Repeat("é", MaxRecordText+1) + `"}`, http.StatusBadRequest},
		{"text not a string", "application/json", `{"text":42}`, http.StatusBadRequest},
		{"operator as text", "application/json", `{"text":{"$gt":""}}`, http.StatusBadRequest},
		{"$where key", "application/json", `{"text":"a","$where":"sleep(1000)"}`, http.StatusBadRequest},
		{"dotted key", "application/json", `{"text":"a","a.b":"c"}`, http.StatusBadRequest},
		{"owner in body", "application/json", `{"text":"a","owner_id":"000000000000000000000000"}`, http.StatusBadRequest},
		{"control character", "application/json", `{"text":"a\u0000b"}`, http.StatusBadRequest},
		{"body too large", "application/json", `{"text":"` + strings.Repeat("a", dbBodyLimit) + `"}`, http.StatusRequestEntityTooLarge},
		{"plain text", "text/plain", `hello`, http.StatusUnsupportedMediaType},
		{"no content type", "", `{"text":"a"}`, http.StatusUnsupportedMediaType},
		{"form operator key", "application/x-www-form-urlencoded", url.Values{"text[$ne]": {"x"}, "csrf_token": {token}}.Encode(), http.StatusBadRequest},
		{"form repeated text", "application/x-www-form-urlencoded", "text=a&text=b&csrf_token=" + url.QueryEscape(token), http.StatusBadRequest},
		{"form without csrf token", "application/x-www-form-urlencoded", "text=a", http.StatusForbidden},
		{"form with a wrong csrf token", "application/x-www-form-urlencoded", "text=a&csrf_token=forged", http.StatusForbidden},
		{"form too large", "application/x-www-form-urlencoded", "text=" + strings.Repeat("a", dbBodyLimit) + "&csrf_token=" + url.QueryEscape(token), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post("/db", tt.contentType, tt.body)
			wantStatus(t, r, tt.status)
			if strings.Contains(r.body, "goroutine") {
				t.Errorf("stack trace in body: %s", r.body)
			}
		})
	}

	r := b.get("/db")
	wantStatus(t, r, http.StatusOK)
	if want := `{"records":[]}`; r.body != want {
		t.Errorf("after refused posts GET /db = %s, want %s", r.body, want)
	}
}

// TestDBStoresLiterally: text that looks like an operator is stored as
// text, and each user sees only their own records.
func TestDBStoresLiterally(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ada, grace := h.browser(), h.browser()
	ada.login("oauth2", "1001")
	grace.login("oauth1", "1002")

	texts := []string{`{"$gt": ""}`, "$where", "a.b.c", "<script>alert(1)</script>"}
	for _, text := range texts {
		body, _ := json.Marshal(map[string]string{"text": text})
		wantStatus(t, ada.post("/db", "application/json", string(body)), http.StatusCreated)
	}
	wantStatus(t, grace.post("/db", "application/json", `{"text":"grace's"}`), http.StatusCreated)

	var list struct{ Records []struct{ Text string } }
	if err := json.Unmarshal([]byte(ada.get("/db").body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != len(texts) {
		t.Fatalf("ada sees %d records, want %d: %+v", len(list.Records), len(texts), list.Records)
	}
	for i, r := range list.Records {
		if want := texts[len(texts)-1-i]; r.Text != want {
			t.Errorf("record %d = %q, want %q (newest first)", i, r.Text, want)
		}
	}
	page := ada.get("/")
	if strings.Contains(page.body, "<script>alert(1)</script>") {
		t.Error("record text rendered as HTML")
	}
	if strings.Contains(page.body, "grace's") {
		t.Error("ada's page shows grace's record")
	}
}

// TestCrossOriginRefused: state-changing requests from another origin are
// refused before they reach a handler, even with a valid cookie.
func TestCrossOriginRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login("oauth2", "1001")
	token := b.csrf()
	tests := []struct {
		name   string
		target string
		header []string
	}{
		{"db cross-site fetch metadata", "/db", []string{"Sec-Fetch-Site", "cross-site"}},
		{"db same-site sibling", "/db", []string{"Sec-Fetch-Site", "same-site"}},
		{"db foreign Origin", "/db", []string{"Origin", "https://evil.example"}},
		{"logout cross-site", "/logout", []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.postForm(tt.target, url.Values{"text": {"csrf"}, "csrf_token": {token}}, tt.header...)
			wantStatus(t, r, http.StatusForbidden)
		})
	}
	// The same form from the same origin works, and nothing above landed.
	r := b.postForm("/db", url.Values{"text": {"same origin"}, "csrf_token": {token}}, "Sec-Fetch-Site", "same-origin", "Origin", h.app.URL)
	wantStatus(t, r, http.StatusSeeOther)
	var list struct{ Records []struct{ Text string } }
	json.Unmarshal([]byte(b.get("/db").body), &list)
	if len(list.Records) != 1 || list.Records[0].Text != "same origin" {
		t.Errorf("records = %+v, want only the same-origin one", list.Records)
	}
	// Still signed in: the cross-site logout did nothing.
	wantPage(t, b.get("/"), http.StatusOK, "Log out")
}

// TestSecurityHeaders: every response carries the headers, including
// errors and static files.
func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	for _, target := range []string{"/", "/static/app.css", "/no-such-page", "/db"} {
		r := b.get(target)
		for k, want := range map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Cross-Origin-Opener-Policy": "same-origin",
			"Referrer-Policy":            "strict-origin-when-cross-origin",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", target, k, got, want)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, want)
			}
		}
		if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "charset=utf-8") {
			t.Errorf("%s: Content-Type %q without charset", target, ct)
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain http", target)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", target)
		}
	}
	wantPage(t, b.get("/no-such-page"), http.StatusNotFound, "Page not found.")
	r := b.post("/", "application/x-www-form-urlencoded", "")
	wantStatus(t, r, http.StatusMethodNotAllowed)
}

// TestPanicIsA500: a panicking handler yields a plain 500 page; the stack
// goes to the log only.
func TestPanicIsA500(t *testing.T) {
	h := newHarness(t, harnessOptions{routes: func(r *gin.Engine) {
		r.GET("/panic", func(c *gin.Context) { panic("kaboom") })
	}})
	r := h.browser().get("/panic")
	wantPage(t, r, http.StatusInternalServerError, "Something went wrong on our side.")
	if strings.Contains(r.body, "kaboom") {
		t.Error("panic value shown to the client")
	}
	if !strings.Contains(h.logs.String(), "kaboom") {
		t.Error("panic not logged")
	}
}
