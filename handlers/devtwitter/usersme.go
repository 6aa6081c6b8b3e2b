package devtwitter

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// handleUsersMe is GET /2/users/me with a Bearer user access token.
func (p *Provider) handleUsersMe(w http.ResponseWriter, r *http.Request) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	p.mu.Lock()
	t := p.tokens2[token]
	ok := strings.EqualFold(scheme, "Bearer") && token != "" && t != nil && t.kind == kindAccess && t.activeAt(p.now())
	var u User
	if ok {
		u, ok = p.userByID(t.userID)
	}
	p.mu.Unlock()
	if !ok {
		p.reject("users/me: missing, unknown, expired or revoked bearer token")
		writeJSON(w, http.StatusUnauthorized, problem{"Unauthorized", "about:blank", http.StatusUnauthorized, "Unauthorized"})
		return
	}
	if p.identityFault(w, t.fault, false) {
		return
	}
	if !slices.Contains(t.scopes, "users.read") || !slices.Contains(t.scopes, "tweet.read") {
		p.reject("users/me: token lacks users.read and tweet.read")
		writeJSON(w, http.StatusForbidden, problem{"Forbidden", "about:blank", http.StatusForbidden, "Forbidden"})
		return
	}
	if !p.rateHeaders(w, "v2:"+u.ID) {
		p.reject("users/me: rate limit")
		writeJSON(w, http.StatusTooManyRequests, problem{"Too Many Requests", "about:blank", http.StatusTooManyRequests, "Too Many Requests"})
		return
	}
	data := map[string]any{"id": u.ID, "name": u.Name, "username": u.ScreenName}
	for field := range strings.SplitSeq(r.URL.Query().Get("user.fields"), ",") {
		switch strings.TrimSpace(field) {
		case "profile_image_url":
			data["profile_image_url"] = avatarURL(u)
		case "created_at":
			data["created_at"] = "1815-12-10T00:00:00.000Z"
		case "description":
			data["description"] = ""
		case "protected":
			data["protected"] = false
		case "verified":
			data["verified"] = false
		}
	}
	p.mu.Lock()
	p.stats.UsersMe++
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// s256 is BASE64URL-NOPAD(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// pkceMatches checks a code_verifier against the stored challenge.
func pkceMatches(verifier, challenge, method string) bool {
	if !validVerifier(verifier) {
		return false
	}
	got := verifier
	if method == "S256" {
		got = s256(verifier)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// validVerifier reports whether v has 43-128 characters from
// [A-Z] [a-z] [0-9] - . _ ~ (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validS256Challenge reports whether c is an unpadded base64url SHA-256.
func validS256Challenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}
