package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/twitterlogin/models"
)

// benchHarness signs one user in, with users-1 more in the store, and
// returns the harness and the session cookie.
func benchHarness(b *testing.B, users int, env map[string]string) (*harness, string) {
	b.Helper()
	return benchHarnessWith(b, users, harnessOptions{env: env})
}

func benchHarnessWith(b *testing.B, users int, opts harnessOptions) (*harness, string) {
	b.Helper()
	h := newHarness(b, opts)
	ctx := context.Background()
	for i := range users - 1 {
		p := models.TwitterProfile{ID: fmt.Sprint(900000 + i), Handle: fmt.Sprint("u", i), Name: "Seeded"}
		if _, err := h.store.UpsertTwitterUser(ctx, p, models.ProviderToken{Flow: "oauth2", AccessToken: "x"}, h.clock.Now()); err != nil {
			b.Fatal(err)
		}
	}
	br := h.browser()
	br.login("oauth2", "1001")
	return h, br.cookie(sessionCookie)
}

// serve runs one request through the app's whole handler (CSRF
// protection, gin, middleware) without the network.
func serve(b *testing.B, h http.Handler, method, target, cookie, contentType, body string, want int) {
	b.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d, want %d: %s", method, target, rec.Code, want, rec.Body)
	}
}

func BenchmarkVerifySessionToken(b *testing.B) {
	h, cookie := benchHarness(b, 1, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := h.srv.sessions.Verify(cookie); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticatedMe is the authentication of a signed-in request
// (cookie, JWT, session and user) and nothing else: GET /me. "cached" is
// the default; "uncached" (SESSION_CACHE_TTL=0) queries the store each
// time, which on the embedded store grows with the number of users.
func BenchmarkAuthenticatedMe(b *testing.B) {
	for _, users := range []int{100, 1000} {
		for _, mode := range []struct{ name, ttl string }{{"cached", "5s"}, {"uncached", "0s"}} {
			b.Run(fmt.Sprintf("users=%d/%s", users, mode.name), func(b *testing.B) {
				h, cookie := benchHarness(b, users, map[string]string{"SESSION_CACHE_TTL": mode.ttl})
				handler := h.srv.Handler()
				b.ReportAllocs()
				for b.Loop() {
					serve(b, handler, http.MethodGet, "/me", cookie, "", "", http.StatusOK)
				}
			})
		}
	}
}

// BenchmarkMeVsTokenOnly compares GET /me of a signed-in user served
// from the session cache with a bare handler that only verifies the
// cookie's JWT, parsing it on every request. /me parses a token only the
// first time the instance sees it, and then only re-checks its claims,
// so it can be the faster: the difference is the app's per-request path
// (gin, middleware, metrics, cache lookups) less the parse it saves. It
// logs at warn, as the load tests run the app.
func BenchmarkMeVsTokenOnly(b *testing.B) {
	h, cookie := benchHarnessWith(b, 1, harnessOptions{logLevel: slog.LevelWarn})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		want    int
	}{
		{"token-only", h.srv.TokenOnlyHandler(), http.StatusNoContent},
		{"me-cached", h.srv.Handler(), http.StatusOK},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, tc.handler, http.MethodGet, "/me", cookie, "", "", tc.want)
			}
		})
	}
}

func BenchmarkIndexSignedIn(b *testing.B) {
	h, cookie := benchHarness(b, 1, nil)
	handler := h.srv.Handler()
	for range 20 {
		serve(b, handler, http.MethodPost, "/db", cookie, "application/json", `{"text":"a record to list"}`, http.StatusCreated)
	}
	b.ReportAllocs()
	for b.Loop() {
		serve(b, handler, http.MethodGet, "/", cookie, "", "", http.StatusOK)
	}
}

// BenchmarkIndexSignedIn100Records is the signed-in home page of a user
// with 100 records (a full page) over real HTTP: session, record query,
// template and the loopback network.
func BenchmarkIndexSignedIn100Records(b *testing.B) {
	const records = 100
	h, cookie := benchHarness(b, 1, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range records {
		body := fmt.Sprintf(`{"text":"record %03d"}`, i)
		fetch(b, client, http.MethodPost, h.app.URL+"/db", cookie, "application/json", body, http.StatusCreated)
	}
	page := fetch(b, client, http.MethodGet, h.app.URL+"/", cookie, "", "", http.StatusOK)
	n := strings.Count(page, "<li><time ")
	if n != records || !strings.Contains(page, "record 000") || !strings.Contains(page, "record 099") {
		b.Fatalf("GET / lists %d records, want all %d (record 000 to 099)", n, records)
	}
	b.ReportAllocs()
	for b.Loop() {
		fetch(b, client, http.MethodGet, h.app.URL+"/", cookie, "", "", http.StatusOK)
	}
}

// fetch sends one request with the session cookie over the network and
// returns the body, failing unless the status is want.
func fetch(b *testing.B, client *http.Client, method, target, cookie, contentType, body string, want int) string {
	b.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d (%v): %s", method, target, resp.StatusCode, want, err, raw)
	}
	return string(raw)
}

func BenchmarkPostDB(b *testing.B) {
	h, cookie := benchHarness(b, 1, nil)
	handler := h.srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serve(b, handler, http.MethodPost, "/db", cookie, "application/json", `{"text":"benchmark record"}`, http.StatusCreated)
	}
}
