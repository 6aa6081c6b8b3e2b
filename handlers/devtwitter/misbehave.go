package devtwitter

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Per-request misbehaviour. Add fault=<mode> to the authorize URL
// (/i/oauth2/authorize, /oauth/authenticate or /oauth/authorize), or pick
// it on the consent page: the mode travels with that one login (its
// consent, code or request token, and the tokens minted from it), so other
// logins are unaffected. [Provider.SetFault] injects failures per path for
// every request instead.
const (
	// FaultDeny answers the consent with "cancel" whatever the user picks.
	FaultDeny = "deny"
	// FaultSlow holds the token exchange (POST /2/oauth2/token or
	// /oauth/access_token) back by Config.SlowDelay.
	FaultSlow = "slow"
	// Fault5xx answers the token exchange with 503.
	Fault5xx = "5xx"
	// Fault429 answers the identity call (GET /2/users/me or
	// verify_credentials) with 429, x-rate-limit-remaining 0 and an
	// x-rate-limit-reset 15 minutes ahead.
	Fault429 = "429"
	// FaultMalformedToken answers the token exchange with 200 and a body
	// cut off in the middle.
	FaultMalformedToken = "malformed-token"
	// FaultMalformedMe answers the identity call with 200 and a JSON body
	// cut off in the middle.
	FaultMalformedMe = "malformed-me"
	// FaultExpiredCode makes the authorization code (OAuth 2.0) or request
	// token (OAuth 1.0a) expired by the time it is exchanged.
	FaultExpiredCode = "expired-code"
	// FaultUsedCode makes the code or request token already used, as if
	// the callback had been replayed.
	FaultUsedCode = "used-code"
	// FaultRevokedToken revokes the access token as soon as it is issued,
	// so the identity call answers 401.
	FaultRevokedToken = "revoked-token"
)

// FaultModes lists the per-request misbehaviour modes.
func FaultModes() []string {
	return []string{FaultDeny, FaultSlow, Fault5xx, Fault429, FaultMalformedToken,
		FaultMalformedMe, FaultExpiredCode, FaultUsedCode, FaultRevokedToken}
}

// malformedJSON is a JSON object cut off in the middle.
const malformedJSON = `{"data":{"id":"1001","name":"Ada`

// errUnknownFault is the refusal of an unknown fault= value.
var errUnknownFault = errors.New("unknown fault mode")

// parseFault checks a fault= value; "" is no fault.
func parseFault(mode string) (string, error) {
	if mode == "" {
		return "", nil
	}
	for _, m := range FaultModes() {
		if m == mode {
			return mode, nil
		}
	}
	return "", fmt.Errorf("%w %q (known: %s)", errUnknownFault, mode, strings.Join(FaultModes(), ", "))
}

// countFault records one request answered by a per-request fault.
func (p *Provider) countFault(mode string) {
	p.mu.Lock()
	p.stats.Faults++
	p.mu.Unlock()
	p.log.Info("devtwitter: per-request fault", "mode", mode)
}

// exchangeFault applies mode at a token exchange and reports whether it
// answered the request (v1 selects X's v1.1 error format). After a "slow"
// delay the exchange goes on normally, unless the client has gone.
func (p *Provider) exchangeFault(w http.ResponseWriter, r *http.Request, mode string, v1 bool) bool {
	switch mode {
	case FaultSlow:
		p.countFault(mode)
		t := time.NewTimer(p.slowDelay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true
		case <-t.C:
			return false
		}
	case Fault5xx:
		p.countFault(mode)
		if v1 {
			writeV1Error(w, http.StatusServiceUnavailable, 130, "Over capacity")
		} else {
			writeJSON(w, http.StatusServiceUnavailable, oauthError{"server_error", "Service Unavailable"})
		}
		return true
	case FaultMalformedToken:
		p.countFault(mode)
		if v1 {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`<html><body>Something went wrong`))
		} else {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":`))
		}
		return true
	}
	return false
}

// identityFault applies mode at an identity call (users/me or
// verify_credentials) and reports whether it answered the request.
func (p *Provider) identityFault(w http.ResponseWriter, mode string, v1 bool) bool {
	switch mode {
	case Fault429:
		p.countFault(mode)
		setRateLimited(w, p.now().Add(rateWindow))
		if v1 {
			writeV1Error(w, http.StatusTooManyRequests, codeRateLimited, "Rate limit exceeded")
		} else {
			writeJSON(w, http.StatusTooManyRequests, problem{"Too Many Requests", "about:blank", http.StatusTooManyRequests, "Too Many Requests"})
		}
		return true
	case FaultMalformedMe:
		p.countFault(mode)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(malformedJSON))
		return true
	}
	return false
}

// setRateLimited sets the headers of an exhausted rate-limit window.
func setRateLimited(w http.ResponseWriter, reset time.Time) {
	h := w.Header()
	h.Set("x-rate-limit-limit", fmt.Sprint(rateLimit))
	h.Set("x-rate-limit-remaining", "0")
	h.Set("x-rate-limit-reset", fmt.Sprint(reset.Unix()))
}

// accountFrom returns the id of the account a consent answer names: a
// typed account (id, handle, name, avatar), which is added with SetUser
// (or replaces the user with that id), or else the picked user.
func (p *Provider) accountFrom(v url.Values) (string, error) {
	id := strings.TrimSpace(v.Get("id"))
	if id == "" {
		return v.Get("user"), nil
	}
	u := User{
		ID:         id,
		ScreenName: strings.TrimPrefix(strings.TrimSpace(v.Get("handle")), "@"),
		Name:       strings.TrimSpace(v.Get("name")),
		AvatarURL:  strings.TrimSpace(v.Get("avatar")),
	}
	if u.Name == "" {
		u.Name = u.ScreenName
	}
	if len(u.ScreenName) > 50 || len(u.Name) > 100 || len(u.AvatarURL) > 2048 {
		return "", errors.New("handle, name or avatar URL too long")
	}
	if err := validateUser(u); err != nil {
		return "", err
	}
	p.SetUser(u)
	return u.ID, nil
}
