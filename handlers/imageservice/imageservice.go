// Package imageservice is a small demo resource server: it knows nothing
// of the app's users or sessions, only the app's published keys, and lets
// a request through when its service token grants the route.
//
// Revocation: it cannot know that a token was revoked. The app refuses
// tokens issued before a user's "log out everywhere" at its own /db,
// because it reads the user's document there anyway; this service has
// no store and no call back to the app (verifying from the published
// keys alone is the point of service tokens), so it accepts a token until
// its exp. Short token lifetimes (TOKEN_LIFETIME: 10 minutes by default,
// at most an hour) bound how long a revoked token keeps working here.
//
// Routes: GET /image (a tiny image description) and GET /image/metadata
// (its metadata), each a small JSON document.
package imageservice

import (
	"encoding/json"
	"net/http"

	"example.com/twitterlogin/handlers/bearer"
)

// Audience is the service's default audience id.
const Audience = "image-service"

// New returns the service's handler: Routes guarded by v.
func New(v *bearer.Verifier) http.Handler {
	return v.Middleware(Routes())
}

// Routes returns the unguarded routes. Serve them only behind a
// bearer.Verifier (New); benchmarks use them bare to measure the guard.
func Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /image", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"id":      "sunset",
			"title":   "Sunset over the bay",
			"url":     "/image",
			"subject": subject(r),
		})
	})
	mux.HandleFunc("GET /image/metadata", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"id":        "sunset",
			"width":     1024,
			"height":    768,
			"format":    "png",
			"camera":    "demo",
			"taken":     "2024-06-21T21:04:00Z",
			"subject":   subject(r),
			"protected": true,
		})
	})
	return mux
}

// subject is the token's sub, or "" when the routes run unguarded.
func subject(r *http.Request) string {
	if c := bearer.ClaimsFrom(r.Context()); c != nil {
		return c.Subject
	}
	return ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(v)
}
