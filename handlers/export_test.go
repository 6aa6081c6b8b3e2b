package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"example.com/twitterlogin/config"
)

// TestExport: the download holds exactly the signed-in user's data, as a
// dated attachment, and none of the secrets the test knows.
func TestExport(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	alice, bob := h.browser(), h.browser()
	alice.login(config.OAuth2, "1001")
	bob.login(config.OAuth1, "1002")
	for _, r := range []struct {
		b    *browser
		text string
	}{{alice, "alice one"}, {alice, "alice two"}, {bob, "bob's secret diary"}} {
		wantStatus(t, r.b.post("/db", "application/json", `{"text":"`+r.text+`"}`), http.StatusCreated)
	}

	resp := alice.get("/me/export")
	wantStatus(t, resp, http.StatusOK)
	want := `attachment; filename="your-data-` + h.clock.Now().UTC().Format("2006-01-02") + `.json"`
	if got := resp.Header.Get("Content-Disposition"); got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
	var file exportFile
	if err := json.Unmarshal([]byte(resp.body), &file); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, resp.body)
	}
	var texts []string
	for _, r := range file.Records {
		texts = append(texts, r.Text)
	}
	if !slices.Equal(texts, []string{"alice two", "alice one"}) {
		t.Errorf("records %q, want alice's, newest first", texts)
	}
	if file.Profile.TwitterID != "1001" || file.Profile.Handle != "ada" || !strings.Contains(resp.body, `"roles": [`) {
		t.Errorf("profile %+v, roles %v", file.Profile, file.Roles)
	}
	if len(file.Sessions) != 1 || !file.Sessions[0].Current {
		t.Errorf("sessions %+v, want this one", file.Sessions)
	}
	if len(file.Activity) == 0 || file.Activity[len(file.Activity)-1].Kind != "sign-in" {
		t.Errorf("activity %+v, want the sign-in first of all", file.Activity)
	}
	for _, part := range []string{"profile", "roles", "records", "sessions", "activity"} {
		if file.About.Parts[part] == "" {
			t.Errorf("the header does not say what %q is", part)
		}
	}
	for name, secret := range knownSecrets(t, h, alice, bob) {
		if strings.Contains(resp.body, secret) {
			t.Errorf("the export contains %s", name)
		}
	}
	if strings.Contains(resp.body, "bob") || strings.Contains(resp.body, "1002") {
		t.Error("the export contains another user's data")
	}
}

// knownSecrets is every secret the test setup knows for the browsers'
// users, by name.
func knownSecrets(t *testing.T, h *harness, browsers ...*browser) map[string]string {
	t.Helper()
	out := map[string]string{"SESSION_SECRET": testSecret}
	for _, k := range h.cfg.TokenEncryptionKeys {
		out["token encryption key "+k.ID] = base64.StdEncoding.EncodeToString(k.Key)
	}
	for i, b := range browsers {
		cookie := b.cookie(sessionCookie)
		who := string(rune('A' + i))
		c := claims(t, cookie)
		sid, _ := c["sid"].(string)
		id, secret, _ := strings.Cut(sid, ".")
		out[who+"'s session cookie"] = cookie
		out[who+"'s session id"] = id
		out[who+"'s session secret"] = secret
		out[who+"'s token id"], _ = c["jti"].(string)
		out[who+"'s CSRF token"] = b.csrf()
		out[who+"'s user id"] = b.userID().Hex()
		u := h.user(b.userID())
		if u.Token == nil {
			t.Fatalf("%s has no stored Twitter token", who)
		}
		for name, v := range map[string]string{"access token": u.Token.AccessToken, "token secret": u.Token.TokenSecret, "refresh token": u.Token.RefreshToken} {
			if v != "" {
				out[who+"'s Twitter "+name] = v
			}
		}
	}
	return out
}

// TestYourDataPage: signed in, the page says what the file holds and
// links to it; signed out, neither the page nor the file is served.
func TestYourDataPage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	page := b.get("/")
	wantPage(t, page, http.StatusOK, `href="/your-data"`)
	wantPage(t, b.get("/your-data"), http.StatusOK, `href="/me/export" download`, "records", "sessions", "activity")

	anon := h.browser()
	if r := anon.get("/me/export"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /me/export signed out: %d, want 401", r.StatusCode)
	}
	if r := anon.get("/your-data"); r.StatusCode == http.StatusOK {
		t.Errorf("GET /your-data signed out: 200")
	}
}

// TestExportIsRateLimited: an export scans the user's records and events,
// so it counts against the per-user write limit.
func TestExportIsRateLimited(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"RATE_LIMIT_WRITES": "2/m,2"}})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	for range 2 {
		wantStatus(t, b.get("/me/export"), http.StatusOK)
	}
	r := b.get("/me/export")
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
