package devtwitter

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// applyFault answers r from an injected fault and reports whether it did.
func (p *Provider) applyFault(w http.ResponseWriter, r *http.Request) bool {
	p.mu.Lock()
	f, ok := p.faults[r.URL.Path]
	if ok {
		p.stats.Faults++
	}
	p.mu.Unlock()
	if !ok {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true // the client is gone; nothing to answer
		case <-t.C:
		}
	}
	if f.Status == 0 && f.Body == "" && !f.Malformed {
		return false
	}
	if f.Status == 0 {
		f.Status = http.StatusOK
	}
	p.log.Info("devtwitter: injected fault", "path", r.URL.Path, "status", f.Status)
	text := http.StatusText(f.Status)
	if f.Status == http.StatusTooManyRequests {
		reset := f.RateLimitReset
		if reset.IsZero() {
			reset = p.now().Add(rateWindow)
		}
		setRateLimited(w, reset)
	}
	if f.Body != "" || f.Malformed {
		body, ct := f.Body, "application/json; charset=utf-8"
		if f.Malformed {
			body = malformedJSON
		}
		if strings.HasPrefix(r.URL.Path, "/oauth/") && r.Method == http.MethodPost {
			ct = "text/html; charset=utf-8" // X's type for its form answers
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, body)
		return true
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/2/oauth2/"):
		writeJSON(w, f.Status, map[string]string{"error": "server_error", "error_description": text})
	case strings.HasPrefix(r.URL.Path, "/2/"):
		writeJSON(w, f.Status, problem{Title: text, Type: "about:blank", Status: f.Status, Detail: text})
	case strings.HasPrefix(r.URL.Path, "/1.1/"), strings.HasPrefix(r.URL.Path, "/oauth/") && r.Method == http.MethodPost:
		writeV1Error(w, f.Status, faultCode(f.Status), text)
	default:
		p.renderError(w, f.Status, "Injected fault: "+text)
	}
	return true
}

// faultCode maps an HTTP status to the v1.1 error code X uses with it.
func faultCode(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return codeCouldNotAuthenticate
	case http.StatusTooManyRequests:
		return 88
	case http.StatusForbidden:
		return 99
	case http.StatusServiceUnavailable:
		return 130 // "Over capacity"
	default:
		return 131 // "Internal error"
	}
}

// gc drops expired nonces, request tokens, consents, codes and tokens. It
// runs at most once per gcInterval.
func (p *Provider) gc() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.lastGC) < gcInterval && now.After(p.lastGC) {
		return
	}
	p.lastGC = now
	for k, seen := range p.nonces {
		if now.Sub(seen) > 2*timestampWindow {
			delete(p.nonces, k)
		}
	}
	for k, t := range p.reqTokens {
		if now.After(t.expires) {
			delete(p.reqTokens, k)
		}
	}
	for k, c := range p.consents {
		if now.After(c.expires) {
			delete(p.consents, k)
		}
	}
	for k, c := range p.codes {
		if now.Sub(c.issued) > codeRetention {
			delete(p.codes, k)
		}
	}
	for k, t := range p.tokens2 {
		if now.After(t.expires) {
			delete(p.tokens2, k)
		}
	}
	for k, rc := range p.rateLimits {
		if now.After(rc.reset) {
			delete(p.rateLimits, k)
		}
	}
}

// rateHeaders counts one call by key against the 75/15 min window, sets
// the x-rate-limit-* headers and reports whether the call is allowed.
func (p *Provider) rateHeaders(w http.ResponseWriter, key string) bool {
	p.mu.Lock()
	now := p.now()
	rc, ok := p.rateLimits[key]
	if !ok || now.After(rc.reset) {
		rc = &rateCounter{reset: now.Add(rateWindow)}
		p.rateLimits[key] = rc
	}
	allowed := rc.used < rateLimit
	if allowed {
		rc.used++
	}
	remaining, reset := rateLimit-rc.used, rc.reset
	p.mu.Unlock()
	h := w.Header()
	h.Set("x-rate-limit-limit", fmt.Sprint(rateLimit))
	h.Set("x-rate-limit-remaining", fmt.Sprint(remaining))
	h.Set("x-rate-limit-reset", fmt.Sprint(reset.Unix()))
	return allowed
}

type rateCounter struct {
	used  int
	reset time.Time
}
