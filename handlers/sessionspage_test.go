package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var sessionHandleField = regexp.MustCompile(`name="session" value="([^"]+)"`)

// TestSessionsPage: a user sees each signed-in browser, can end another
// one (which is then refused at once), and can log out everywhere.
func TestSessionsPage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	laptop, phone, tablet := h.browser(), h.browser(), h.browser()
	laptop.login("oauth2", "1001")
	phone.login("oauth1", "1001")
	tablet.login("oauth2", "1001")
	other := h.browser()
	other.login("oauth2", "1002")

	page := laptop.get("/sessions")
	wantPage(t, page, http.StatusOK, "Your sessions", "(this browser)", "Log out everywhere")
	handles := sessionHandleField.FindAllStringSubmatch(page.body, -1)
	if len(handles) != 3 {
		t.Fatalf("sessions page lists %d sessions, want 3:\n%s", len(handles), page.body)
	}
	if strings.Contains(page.body, claims(t, phone.cookie(sessionCookie))["sid"].(string)) {
		t.Error("the page shows a session id")
	}

	// End the phone's session from the laptop. Handles are opaque, so try
	// the rows not marked as this browser until the phone is refused.
	ended := false
	for _, row := range strings.Split(page.body, "<li>")[1:] {
		m := sessionHandleField.FindStringSubmatch(row)
		if m == nil || strings.Contains(row, "(this browser)") {
			continue
		}
		r := laptop.postForm("/sessions/end", url.Values{"session": {m[1]}, "csrf_token": {laptop.csrf()}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/sessions" {
			t.Fatalf("ending another session redirects to %q", loc)
		}
		if phone.get("/me").StatusCode == http.StatusUnauthorized {
			ended = true
			break
		}
	}
	if !ended {
		t.Fatal("no handle ended the phone's session")
	}
	wantStatus(t, laptop.get("/me"), http.StatusOK)

	// Another user's handle means nothing here.
	otherHandle := sessionHandleField.FindStringSubmatch(other.get("/sessions").body)[1]
	wantStatus(t, laptop.postForm("/sessions/end", url.Values{"session": {otherHandle}, "csrf_token": {laptop.csrf()}}), http.StatusNotFound)
	wantStatus(t, other.get("/me"), http.StatusOK)
	// No CSRF token, no effect.
	wantStatus(t, laptop.postForm("/sessions/end-all", url.Values{}), http.StatusForbidden)

	// Log out everywhere: the laptop and the tablet are both refused, the
	// Twitter token is gone, the other user is untouched.
	uid := laptop.userID()
	r := laptop.postForm("/sessions/end-all", url.Values{"csrf_token": {laptop.csrf()}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?notice=signed-out-everywhere" {
		t.Errorf("end-all redirects to %q", loc)
	}
	wantStatus(t, laptop.get("/me"), http.StatusUnauthorized)
	wantStatus(t, tablet.get("/me"), http.StatusUnauthorized)
	wantStatus(t, other.get("/me"), http.StatusOK)
	if u := h.user(uid); u.Token != nil {
		t.Error("Twitter token kept after logging out everywhere")
	}
	wantPage(t, laptop.get("/?notice=signed-out-everywhere"), http.StatusOK, "signed out on every device")
}

// TestEndSession_RecordsActivity: ending another session from the sessions
// page shows on /activity, as the README promises.
func TestEndSession_RecordsActivity(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	laptop, phone := h.browser(), h.browser()
	laptop.login("oauth2", "1001")
	phone.login("oauth2", "1001")
	var handle string
	for _, row := range strings.Split(laptop.get("/sessions").body, "<li>")[1:] {
		if m := sessionHandleField.FindStringSubmatch(row); m != nil && !strings.Contains(row, "(this browser)") {
			handle = m[1]
		}
	}
	if handle == "" {
		t.Fatal("the sessions page lists no other session")
	}
	r := laptop.postForm("/sessions/end", url.Values{"session": {handle}, "csrf_token": {laptop.csrf()}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, phone.get("/me"), http.StatusUnauthorized)

	if got := laptop.activityKinds(); !slices.Contains(got, "Session ended") {
		t.Errorf("activity = %q, want a %q row", got, "Session ended")
	}
	wantPage(t, laptop.get("/activity"), http.StatusOK, "<td>ended from the sessions page</td>")
}
