package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// revokeRecorder stands in front of the dev provider and notes, per
// token, the revocations the provider served, and the tokens its token
// endpoint issued. While held it answers every revocation 503 itself, as
// a Twitter outage would.
type revokeRecorder struct {
	next http.Handler

	mu      sync.Mutex
	held    bool
	refused int            // revocations answered 503 while held
	revoked map[string]int // token: revocations served with 200
	issued  []issuedToken  // token endpoint answers, oldest first
}

// issuedToken is one answer of the OAuth 2.0 token endpoint.
type issuedToken struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func newRevokeRecorder(next http.Handler) *revokeRecorder {
	return &revokeRecorder{next: next, revoked: map[string]int{}}
}

var oauthTokenParam = regexp.MustCompile(`oauth_token="([^"]*)"`)

// revokedToken returns the token a revocation request revokes, "" if r is
// not one. It leaves r's body readable.
func revokedToken(r *http.Request) string {
	switch {
	case r.Method != http.MethodPost:
		return ""
	case strings.HasPrefix(r.URL.Path, "/1.1/oauth/invalidate_token"):
		m := oauthTokenParam.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			return ""
		}
		tok, _ := url.QueryUnescape(m[1])
		return tok
	case r.URL.Path == "/2/oauth2/revoke":
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f, _ := url.ParseQuery(string(body))
		return f.Get("token")
	}
	return ""
}

// statusWriter keeps the status and body of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (rr *revokeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := revokedToken(r)
	rr.mu.Lock()
	held := rr.held && tok != ""
	if held {
		rr.refused++
	}
	rr.mu.Unlock()
	if held {
		http.Error(w, `{"error":"over capacity"}`, http.StatusServiceUnavailable)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rr.next.ServeHTTP(sw, r)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	switch {
	case tok != "" && sw.status == http.StatusOK:
		rr.revoked[tok]++
	case r.URL.Path == "/2/oauth2/token" && sw.status == http.StatusOK:
		var it issuedToken
		if json.Unmarshal(sw.body.Bytes(), &it) == nil {
			rr.issued = append(rr.issued, it)
		}
	}
}

// hold makes the recorder refuse (true) or pass on (false) revocations.
func (rr *revokeRecorder) hold(on bool) {
	rr.mu.Lock()
	rr.held = on
	rr.mu.Unlock()
}

// counts returns the refused revocations and a copy of the served ones.
func (rr *revokeRecorder) counts() (int, map[string]int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make(map[string]int, len(rr.revoked))
	for k, v := range rr.revoked {
		out[k] = v
	}
	return rr.refused, out
}

// lastIssued returns the token endpoint's latest answer.
func (rr *revokeRecorder) lastIssued() issuedToken {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.issued) == 0 {
		return issuedToken{}
	}
	return rr.issued[len(rr.issued)-1]
}
