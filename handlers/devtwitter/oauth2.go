package devtwitter

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// knownScope reports whether s is one of X's OAuth 2.0 scopes.
func knownScope(s string) bool {
	switch s {
	case "tweet.read", "tweet.write", "tweet.moderate.write", "users.email", "users.read",
		"follows.read", "follows.write", "offline.access", "space.read", "mute.read",
		"mute.write", "like.read", "like.write", "list.read", "list.write", "block.read",
		"block.write", "bookmark.read", "bookmark.write", "media.write", "dm.read", "dm.write":
		return true
	}
	return false
}

// authorizeRequest is a validated /i/oauth2/authorize request.
type authorizeRequest struct {
	redirectURI string
	state       string
	scopes      []string
	challenge   string
	method      string // S256 or plain
	fault       string // per-request misbehaviour, see FaultModes
}

// authCode is an issued authorization code.
type authCode struct {
	req    authorizeRequest
	userID string
	issued time.Time
	used   bool
	grant  string // id shared by every token minted from this code
}

// problem is X's v2 error body.
type problem struct {
	Title  string `json:"title"`
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// handleOAuth2Authorize validates an authorization request (RFC 6749
// §4.1.1, RFC 7636 §4.3) and shows the consent page or, with auto=, redirects.
func (p *Provider) handleOAuth2Authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirectURI := q.Get("redirect_uri")
	p.mu.Lock()
	registered := p.callbacks[redirectURI] && redirectURI != "oob"
	p.mu.Unlock()
	// RFC 6749 §4.1.2.1: never redirect to an unverified redirect_uri.
	if subtle.ConstantTimeCompare([]byte(q.Get("client_id")), []byte(p.clientID)) != 1 {
		p.reject("authorize: unknown client_id")
		p.renderError(w, http.StatusBadRequest, "Unknown client_id: this app is not registered with the development provider.")
		return
	}
	if !registered {
		p.reject("authorize: unregistered redirect_uri")
		p.renderError(w, http.StatusBadRequest, "redirect_uri is missing or not registered (exact match required).")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		p.reject("authorize: " + desc)
		v := url.Values{"error": {code}, "error_description": {desc}}
		if state != "" {
			v.Set("state", state)
		}
		http.Redirect(w, r, appendQuery(redirectURI, v), http.StatusFound)
	}
	areq := &authorizeRequest{redirectURI: redirectURI, state: state,
		scopes: strings.Fields(q.Get("scope")), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method")}
	switch rt := q.Get("response_type"); {
	case rt == "":
		fail("invalid_request", "Missing required parameter [response_type].")
		return
	case rt != "code":
		fail("unsupported_response_type", "response_type must be code.")
		return
	case state == "":
		fail("invalid_request", "Missing required parameter [state].")
		return
	case len(state) > maxStateLen:
		fail("invalid_request", "state must be at most 500 characters.")
		return
	case len(areq.scopes) == 0:
		fail("invalid_request", "Missing required parameter [scope].")
		return
	case areq.challenge == "":
		fail("invalid_request", "Missing required parameter [code_challenge].")
		return
	case areq.method != "S256" && areq.method != "plain":
		fail("invalid_request", "code_challenge_method must be S256 or plain.")
		return
	case areq.method == "S256" && !validS256Challenge(areq.challenge),
		areq.method == "plain" && !validVerifier(areq.challenge):
		fail("invalid_request", "Value passed for code_challenge is malformed.")
		return
	}
	for _, s := range areq.scopes {
		if !knownScope(s) {
			fail("invalid_scope", "Unknown scope: "+s+".")
			return
		}
	}
	var err error
	if areq.fault, err = parseFault(q.Get("fault")); err != nil {
		p.renderError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch auto := q.Get("auto"); auto {
	case "":
		p.showConsent(w, r, &consent{kind: kindOAuth2, authz: areq})
	case "approve", "deny":
		id, err := p.accountFrom(q)
		if err != nil {
			p.renderError(w, http.StatusBadRequest, "Invalid account: "+err.Error())
			return
		}
		p.finishOAuth2(w, r, areq, p.userOrFirst(id), auto == "approve")
	default:
		p.renderError(w, http.StatusBadRequest, "auto must be approve or deny.")
	}
}

// finishOAuth2 ends the browser step with a code or error=access_denied.
func (p *Provider) finishOAuth2(w http.ResponseWriter, r *http.Request, areq *authorizeRequest, userID string, approve bool) {
	if !approve || areq.fault == FaultDeny {
		p.mu.Lock()
		p.stats.Denials++
		p.mu.Unlock()
		p.log.Info("devtwitter: oauth2 consent denied")
		v := url.Values{"error": {"access_denied"}, "error_description": {"The user denied the request."}, "state": {areq.state}}
		http.Redirect(w, r, appendQuery(areq.redirectURI, v), http.StatusFound)
		return
	}
	code := newToken()
	p.mu.Lock()
	u, ok := p.userByID(userID)
	if ok {
		p.codes[code] = &authCode{req: *areq, userID: u.ID, issued: p.now(), grant: newToken()}
		p.stats.CodesIssued++
		p.stats.Approvals++
	}
	p.mu.Unlock()
	if !ok {
		p.renderError(w, http.StatusBadRequest, "Unknown user.")
		return
	}
	p.log.Info("devtwitter: oauth2 code issued", "user_id", u.ID)
	http.Redirect(w, r, appendQuery(areq.redirectURI, url.Values{"state": {areq.state}, "code": {code}}), http.StatusFound)
}
