package handlers

import (
	"context"
	"fmt"
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
	h := newHarness(b, harnessOptions{env: env})
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
		if _, _, err := h.srv.verifySessionToken(cookie); err != nil {
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

func BenchmarkPostDB(b *testing.B) {
	h, cookie := benchHarness(b, 1, nil)
	handler := h.srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serve(b, handler, http.MethodPost, "/db", cookie, "application/json", `{"text":"benchmark record"}`, http.StatusCreated)
	}
}
