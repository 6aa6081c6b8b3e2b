package session

import (
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CookieName is the session cookie's name. The __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain.
const CookieName = "__Host-session"

// Issue signs a token for the session key of user uid, started at now,
// and sets it as the session cookie on w. The session itself must
// already be in the store.
func (m *Manager) Issue(w http.ResponseWriter, uid bson.ObjectID, key string, now time.Time) error {
	token, err := m.sign(uid, key, now)
	if err != nil {
		return err
	}
	SetCookie(w, CookieName, token, 0)
	return nil
}

// HasCookie reports whether r carries a session cookie, valid or not.
func (m *Manager) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(CookieName)
	return err == nil
}

// ClearCookie deletes the session cookie. Both the session middleware
// and the error page may clear it in one response; any earlier
// Set-Cookie for it is dropped so the response carries exactly one.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	h := w.Header()
	var kept []string
	for _, line := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(line, CookieName+"=") {
			kept = append(kept, line)
		}
	}
	h.Del("Set-Cookie")
	for _, line := range kept {
		h.Add("Set-Cookie", line)
	}
	SetCookie(w, CookieName, "", -1)
}

// SetCookie writes cookie name on w, as the app makes every cookie:
// HttpOnly, Secure, SameSite=Lax and Path=/ (the __Host- prefix requires
// the last two). maxAge 0 makes a browser-session cookie; a negative
// maxAge deletes it.
func SetCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	})
}
