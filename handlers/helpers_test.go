package handlers

// Assertions and small helpers shared by the HTTP tests; the harness
// itself (app, store, provider, browser) is in harness_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/twitterlogin/models"
)

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, r *response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
}

// wantJSONError checks a JSON error body with the status.
func wantJSONError(t *testing.T, r *response, status int) string {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == "" {
		t.Fatalf("body %q is not {\"error\": ...}", r.body)
	}
	return body.Error
}

// wantPage checks an HTML page with the status that contains every text.
func wantPage(t *testing.T, r *response, status int, texts ...string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q, want HTML", ct)
	}
	for _, s := range texts {
		if !strings.Contains(r.body, s) {
			t.Errorf("page does not contain %q:\n%s", s, r.body)
		}
	}
	if strings.Contains(r.body, "goroutine ") || strings.Contains(r.body, ".go:") {
		t.Errorf("page shows a stack trace:\n%s", r.body)
	}
}

// claims decodes the payload of a JWT without verifying it.
func claims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantNothingWritten checks that a failed login left no session cookie
// and no user document.
func wantNothingWritten(t *testing.T, h *harness, b *browser, twitterID string) {
	t.Helper()
	if b.cookie(sessionCookie) != "" {
		t.Error("session cookie set despite the failure")
	}
	if _, err := h.store.UserByTwitterID(context.Background(), twitterID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("user %s written despite the failure: %v", twitterID, err)
	}
}

// getWithCookie sends GET target to base with only the session cookie.
func getWithCookie(t *testing.T, base, target, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+target, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeOnCleanup stops h's revocation workers before the store closes.
func closeOnCleanup(t *testing.T, h *harness) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// checkSessionCookie asserts the attributes of the issued session cookie.
func checkSessionCookie(t *testing.T, setCookies []string) {
	t.Helper()
	for _, sc := range setCookies {
		if !strings.HasPrefix(sc, sessionCookie+"=") {
			continue
		}
		attrs := strings.Split(sc, "; ")
		has := map[string]bool{}
		for _, a := range attrs[1:] {
			k, _, _ := strings.Cut(a, "=")
			has[k] = true
			if a == "SameSite=Lax" {
				has["Lax"] = true
			}
		}
		for _, want := range []string{"HttpOnly", "Secure", "Path", "Lax"} {
			if !has[want] {
				t.Errorf("session cookie %q lacks %s", sc, want)
			}
		}
		for _, not := range []string{"Max-Age", "Expires", "Domain"} {
			if has[not] {
				t.Errorf("session cookie %q has %s; want a host-only session cookie", sc, not)
			}
		}
		if !strings.Contains(sc, "Path=/;") && !strings.HasSuffix(sc, "Path=/") {
			t.Errorf("session cookie %q: want Path=/", sc)
		}
		if len(sc) > 1024 {
			t.Errorf("session cookie is %d bytes; want it small", len(sc))
		}
		return
	}
	t.Fatalf("no %s in Set-Cookie %q", sessionCookie, setCookies)
}

func clearsCookie(setCookies []string, name string) bool {
	for _, sc := range setCookies {
		if strings.HasPrefix(sc, name+"=;") && strings.Contains(sc, "Max-Age=0") {
			return true
		}
	}
	return false
}
