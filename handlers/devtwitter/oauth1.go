package devtwitter

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// X v1.1 error codes (twitter-api.md §1.4).
const (
	codeCouldNotAuthenticate = 32
	codeRateLimited          = 88
	codeInvalidToken         = 89
	codeTimestamp            = 135
	codeBadAuthData          = 215
	codeCallbackNotApproved  = 415
)

// v1Error is a refusal in X's v1.1 format.
type v1Error struct {
	status  int
	code    int
	message string
	reason  string // for the log only
}

var (
	errCouldNotAuthenticate = v1Error{http.StatusUnauthorized, codeCouldNotAuthenticate, "Could not authenticate you.", ""}
	errInvalidToken         = v1Error{http.StatusUnauthorized, codeInvalidToken, "Invalid or expired token.", ""}
	errTimestamp            = v1Error{http.StatusUnauthorized, codeTimestamp, "Timestamp out of bounds.", ""}
	errBadAuthentication    = v1Error{http.StatusBadRequest, codeBadAuthData, "Bad Authentication data.", ""}
	errCallbackNotApproved  = v1Error{http.StatusForbidden, codeCallbackNotApproved, "Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings", ""}
	errRateLimited          = v1Error{http.StatusTooManyRequests, codeRateLimited, "Rate limit exceeded", ""}
)

func (e v1Error) because(reason string) *v1Error {
	e.reason = reason
	return &e
}

// requestToken is an OAuth 1.0a temporary credential.
type requestToken struct {
	secret   string
	callback string
	expires  time.Time
	verifier string // set once the user approved
	userID   string
	fault    string // per-request misbehaviour, see FaultModes
}

// accessToken1 is an OAuth 1.0a token credential. It never expires.
type accessToken1 struct {
	secret  string
	userID  string
	revoked bool
	fault   string // per-request misbehaviour of the login that made it
}

type nonceKey struct{ consumer, timestamp, nonce string }

func writeV1Error(w http.ResponseWriter, status, code int, message string) {
	type item struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Errors []item `json:"errors"`
	}{[]item{{code, message}}})
}

func (p *Provider) failV1(w http.ResponseWriter, e *v1Error) {
	p.reject(e.reason, "status", e.status, "code", e.code)
	writeV1Error(w, e.status, e.code, e.message)
}

// checkSigned authenticates a parsed OAuth 1.0a request: consumer key,
// timestamp window, HMAC-SHA1 signature with any of tokenSecrets, and nonce
// uniqueness per (consumer, timestamp, nonce). The nonce is recorded only
// for correctly signed requests.
func (p *Provider) checkSigned(req *oauthRequest, tokenSecrets ...string) *v1Error {
	if subtle.ConstantTimeCompare([]byte(req.oauth["oauth_consumer_key"]), []byte(p.consumerKey)) != 1 {
		return errCouldNotAuthenticate.because("unknown consumer key")
	}
	ts, err := strconv.ParseInt(req.oauth["oauth_timestamp"], 10, 64)
	if err != nil || ts <= 0 {
		return errBadAuthentication.because("malformed oauth_timestamp")
	}
	now := p.now()
	if d := now.Sub(time.Unix(ts, 0)); d > timestampWindow || d < -timestampWindow {
		return errTimestamp.because("oauth_timestamp outside the ±300 s window")
	}
	signed := false
	for _, s := range tokenSecrets {
		if req.verify(p.consumerSecret, s) {
			signed = true
			break
		}
	}
	if !signed {
		return errCouldNotAuthenticate.because("bad signature")
	}
	key := nonceKey{req.oauth["oauth_consumer_key"], req.oauth["oauth_timestamp"], req.oauth["oauth_nonce"]}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.nonces[key]; seen {
		return errCouldNotAuthenticate.because("replayed nonce")
	}
	p.nonces[key] = now
	return nil
}

// parseSigned parses r as an OAuth 1.0a request or answers 400 code 215.
func (p *Provider) parseSigned(w http.ResponseWriter, r *http.Request) (*oauthRequest, bool) {
	req, err := parseOAuthRequest(r)
	if err != nil {
		p.failV1(w, errBadAuthentication.because(err.Error()))
		return nil, false
	}
	return req, true
}

// handleRequestToken issues a request token (RFC 5849 §2.1).
func (p *Provider) handleRequestToken(w http.ResponseWriter, r *http.Request) {
	req, ok := p.parseSigned(w, r)
	if !ok {
		return
	}
	if e := p.checkSigned(req, ""); e != nil {
		p.failV1(w, e)
		return
	}
	cb := req.oauth["oauth_callback"]
	if cb == "" {
		p.failV1(w, errBadAuthentication.because("missing oauth_callback"))
		return
	}
	token, secret := newToken(), newToken()
	p.mu.Lock()
	registered := p.callbacks[cb]
	if registered {
		p.reqTokens[token] = &requestToken{secret: secret, callback: cb, expires: p.now().Add(requestTokenTTL)}
		p.stats.RequestTokens++
	}
	p.mu.Unlock()
	if !registered {
		p.failV1(w, errCallbackNotApproved.because("unregistered oauth_callback"))
		return
	}
	p.log.Info("devtwitter: request token issued")
	writeForm(w, "oauth_token", token, "oauth_token_secret", secret, "oauth_callback_confirmed", "true")
}

// handleOAuth1Authorize serves /oauth/authenticate and /oauth/authorize
// (RFC 5849 §2.2): the consent page, or with auto= an immediate redirect.
func (p *Provider) handleOAuth1Authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("oauth_token")
	fault, err := parseFault(q.Get("fault"))
	if err != nil {
		p.renderError(w, http.StatusBadRequest, err.Error())
		return
	}
	p.mu.Lock()
	rt := p.reqTokens[token]
	valid := rt != nil && !p.now().After(rt.expires) && rt.verifier == ""
	if valid && fault != "" {
		rt.fault = fault
	}
	p.mu.Unlock()
	if !valid {
		p.reject("unknown, expired or used request token on " + r.URL.Path)
		p.renderError(w, http.StatusBadRequest, "This page is no longer valid: the request token is unknown, expired or already used. Go back to the app and sign in again.")
		return
	}
	switch auto := q.Get("auto"); auto {
	case "":
		p.showConsent(w, r, &consent{kind: kindOAuth1, reqToken: token, screenName: q.Get("screen_name")})
	case "approve", "deny":
		id, err := p.accountFrom(q)
		if err != nil {
			p.renderError(w, http.StatusBadRequest, "Invalid account: "+err.Error())
			return
		}
		p.finishOAuth1(w, r, token, p.userOrFirst(id), auto == "approve")
	default:
		p.renderError(w, http.StatusBadRequest, "auto must be approve or deny.")
	}
}

// finishOAuth1 ends the browser step: approve redirects to the callback
// with oauth_token and oauth_verifier, deny with denied=<token>.
func (p *Provider) finishOAuth1(w http.ResponseWriter, r *http.Request, token, userID string, approve bool) {
	p.mu.Lock()
	rt := p.reqTokens[token]
	if rt == nil || p.now().After(rt.expires) || rt.verifier != "" {
		p.mu.Unlock()
		p.renderError(w, http.StatusBadRequest, "This request token is unknown, expired or already used. Go back to the app and sign in again.")
		return
	}
	cb := rt.callback
	if !approve || rt.fault == FaultDeny {
		delete(p.reqTokens, token)
		p.stats.Denials++
		p.mu.Unlock()
		p.log.Info("devtwitter: oauth1 consent denied")
		if cb == "oob" {
			p.renderError(w, http.StatusOK, "You cancelled the sign-in. You can close this page.")
			return
		}
		http.Redirect(w, r, appendQuery(cb, url.Values{"denied": {token}}), http.StatusFound)
		return
	}
	u, ok := p.userByID(userID)
	if !ok {
		p.mu.Unlock()
		p.renderError(w, http.StatusBadRequest, "Unknown user.")
		return
	}
	rt.verifier, rt.userID = newToken(), u.ID
	verifier := rt.verifier
	p.stats.Approvals++
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth1 consent approved", "user_id", u.ID)
	if cb == "oob" {
		p.renderPIN(w, verifier)
		return
	}
	http.Redirect(w, r, appendQuery(cb, url.Values{"oauth_token": {token}, "oauth_verifier": {verifier}}), http.StatusFound)
}

// handleAccessToken exchanges an approved request token and its verifier
// for an access token (RFC 5849 §2.3). Any attempt uses the request token up.
func (p *Provider) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	req, ok := p.parseSigned(w, r)
	if !ok {
		return
	}
	token := req.oauth["oauth_token"]
	if token == "" {
		p.failV1(w, errBadAuthentication.because("access_token without oauth_token"))
		return
	}
	p.mu.Lock()
	rt := p.reqTokens[token]
	live := rt != nil && !p.now().After(rt.expires)
	var fault string
	if live {
		fault = rt.fault
	}
	p.mu.Unlock()
	if p.exchangeFault(w, r, fault, true) {
		return
	}
	if !live || fault == FaultExpiredCode || fault == FaultUsedCode {
		p.failV1(w, errInvalidToken.because("unknown, expired or used request token"))
		return
	}
	// X accepts the request-token secret and, like gologin sends it, none.
	if e := p.checkSigned(req, rt.secret, ""); e != nil {
		p.failV1(w, e)
		return
	}
	p.mu.Lock()
	if p.reqTokens[token] != rt { // used concurrently
		p.mu.Unlock()
		p.failV1(w, errInvalidToken.because("request token already used"))
		return
	}
	delete(p.reqTokens, token)
	verifier := req.oauth["oauth_verifier"]
	if rt.verifier == "" || subtle.ConstantTimeCompare([]byte(verifier), []byte(rt.verifier)) != 1 {
		p.mu.Unlock()
		p.failV1(w, errCouldNotAuthenticate.because("missing or wrong oauth_verifier"))
		return
	}
	u, ok := p.userByID(rt.userID)
	if !ok {
		p.mu.Unlock()
		p.failV1(w, errInvalidToken.because("user vanished"))
		return
	}
	at, as := u.ID+"-"+newToken(), newToken()
	p.access1[at] = &accessToken1{secret: as, userID: u.ID, fault: rt.fault, revoked: rt.fault == FaultRevokedToken}
	p.stats.AccessTokens++
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth1 access token issued", "user_id", u.ID)
	writeForm(w, "oauth_token", at, "oauth_token_secret", as, "user_id", u.ID, "screen_name", u.ScreenName)
}

// writeForm writes name/value pairs form-encoded in the given order with
// X's Content-Type for the OAuth 1.0a token endpoints.
func writeForm(w http.ResponseWriter, kv ...string) {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(kv[i])...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(kv[i+1])...)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"code":131,"message":"Internal error"}]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
