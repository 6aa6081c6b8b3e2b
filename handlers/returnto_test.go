package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// hostileTargets are return targets that must never be followed.
var hostileTargets = []struct{ name, next string }{
	{"protocol-relative", "//evil.example"},
	{"protocol-relative with path", "//evil.example/activity"},
	{"backslash host", `/\evil.example`},
	{"backslash later", `/a\b`},
	{"absolute https", "https://evil.example"},
	{"absolute http path", "http://evil.example/activity"},
	{"encoded slashes", "/%2F%2Fevil.example"},
	{"encoded slash lower", "/%2fevil.example"},
	{"encoded backslash", "/%5Cevil.example"},
	{"double encoded slash", "/%252F%252Fevil.example"},
	{"javascript", "javascript:alert(1)"},
	{"tab", "/%09/evil.example"},
	{"raw tab", "/\t/evil.example"},
	{"newline", "/%0d%0aSet-Cookie:x=y"},
	{"nul", "/%00"},
	{"relative", "activity"},
	{"scheme only", "https:/evil.example"},
	{"bad escape", "/%zz"},
	{"login loop", "/auth/oauth2/login"},
	{"overlong", "/" + strings.Repeat("a", maxReturnPath)},
	{"empty", ""},
}

func TestSafeReturnPath(t *testing.T) {
	for _, tc := range hostileTargets {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeReturnPath(tc.next); got != "/" {
				t.Errorf("safeReturnPath(%q) = %q, want /", tc.next, got)
			}
		})
	}
	for _, ok := range []string{"/activity", "/activity?x=1", "/db?x=1&y=a%20b", "/logout", "/a/b/c", "/" + strings.Repeat("a", maxReturnPath-1)} {
		if got := safeReturnPath(ok); got != ok {
			t.Errorf("safeReturnPath(%q) = %q, want it kept", ok, got)
		}
	}
}

// TestLogin_ReturnsToPage: a signed-out visit to a protected page goes
// through sign-in and lands back on that page, query included, for both
// flows; the target never goes to Twitter.
func TestLogin_ReturnsToPage(t *testing.T) {
	for _, flow := range flows {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t, harnessOptions{env: map[string]string{"TWITTER_FLOW": string(flow)}})
			closeOnCleanup(t, h)
			b := h.browser()

			r := b.get("/activity?x=1")
			wantStatus(t, r, http.StatusFound)
			login := r.Header.Get("Location")
			if want := "/auth/" + string(flow) + "/login?next=%2Factivity%3Fx%3D1"; login != want {
				t.Fatalf("signed-out /activity redirects to %q, want %q", login, want)
			}
			r = b.get(login)
			wantStatus(t, r, http.StatusFound)
			authorize, err := url.Parse(r.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(authorize.String(), "activity") {
				t.Errorf("the return target went to Twitter: %s", authorize)
			}
			cb := b.consent(authorize, "approve", "1001")
			r = b.get(cb.String())
			wantStatus(t, r, http.StatusFound)
			if loc := r.Header.Get("Location"); loc != "/activity?x=1" {
				t.Fatalf("callback redirects to %q, want /activity?x=1", loc)
			}
			wantPage(t, b.get("/activity?x=1"), http.StatusOK, "Account activity", "Signed in")

			// The logout page is protected the same way.
			b2 := h.browser()
			r = b2.get("/logout")
			wantStatus(t, r, http.StatusFound)
			if loc := r.Header.Get("Location"); loc != "/auth/"+string(flow)+"/login?next=%2Flogout" {
				t.Errorf("signed-out /logout redirects to %q", loc)
			}
		})
	}
}

// TestLogin_HostileReturnTargets: whatever ?next= says, a login lands on a
// local path; every hostile target lands on /.
func TestLogin_HostileReturnTargets(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	closeOnCleanup(t, h)
	for _, tc := range hostileTargets {
		for _, flow := range flows {
			t.Run(tc.name+"/"+string(flow), func(t *testing.T) {
				b := h.browser()
				r := b.get("/auth/" + string(flow) + "/login?next=" + url.QueryEscape(tc.next))
				wantStatus(t, r, http.StatusFound)
				authorize, err := url.Parse(r.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				r = b.get(b.consent(authorize, "approve", "1001").String())
				wantStatus(t, r, http.StatusFound)
				if loc := r.Header.Get("Location"); loc != "/" {
					t.Errorf("next=%q: callback redirects to %q, want /", tc.next, loc)
				}
			})
		}
	}
}
