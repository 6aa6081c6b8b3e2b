package devtwitter

import (
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type tokenKind int

const (
	kindAccess tokenKind = iota + 1
	kindRefresh
)

// token2 is an OAuth 2.0 access or refresh token.
type token2 struct {
	kind    tokenKind
	userID  string
	scopes  []string
	grant   string
	expires time.Time
	revoked bool
	fault   string // per-request misbehaviour of the login that minted it
}

func (t *token2) activeAt(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

// tokenResponse is X's token endpoint answer (twitter-api.md §2.3).
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Token endpoint error descriptions, in X's wording where known.
const (
	descBadCode     = "Value passed for the authorization code was invalid."
	descBadVerifier = "Value passed for the code verifier did not match the code challenge."
	descBadRedirect = "Value passed for the redirect uri did not match the uri of the authorization code."
	descBadToken    = "Value passed for the token was invalid."
)

// clientAuthenticated checks HTTP Basic client authentication (RFC 6749
// §2.3.1: id and secret form-encoded, then base64) and answers 401 if it
// fails. Only Basic is accepted: X's confidential clients must use it.
func (p *Provider) clientAuthenticated(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		ok = errors.Join(err1, err2) == nil &&
			subtle.ConstantTimeCompare([]byte(id), []byte(p.clientID)) == 1 &&
			subtle.ConstantTimeCompare([]byte(secret), []byte(p.clientSecret)) == 1
	}
	if !ok {
		p.reject("token endpoint: missing or bad Basic client authentication")
		w.Header().Set("WWW-Authenticate", `Basic realm="dev-twitter"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"unauthorized_client", "Missing valid authorization header"})
	}
	return ok
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// failToken answers a token or revoke request with a 400 OAuth error.
func (p *Provider) failToken(w http.ResponseWriter, code, desc string) {
	p.reject("token endpoint: " + desc)
	writeJSON(w, http.StatusBadRequest, oauthError{code, desc})
}

// tokenForm authenticates the client and parses the form body.
func (p *Provider) tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	w.Header().Set("Pragma", "no-cache")
	if !p.clientAuthenticated(w, r) {
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		p.failToken(w, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
		return nil, false
	}
	if err := readForm(r); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			p.reject("token endpoint: body too large")
			writeJSON(w, http.StatusRequestEntityTooLarge, oauthError{"invalid_request", "Request body too large."})
			return nil, false
		}
		p.failToken(w, "invalid_request", "Malformed form body.")
		return nil, false
	}
	if r.PostForm.Has("client_secret") {
		// RFC 6749 §2.3: one authentication method per request.
		p.failToken(w, "invalid_request", "Send the client credentials in the Authorization header only.")
		return nil, false
	}
	return r.PostForm, true
}

// handleToken is POST /2/oauth2/token.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	f, ok := p.tokenForm(w, r)
	if !ok {
		return
	}
	switch gt := f.Get("grant_type"); gt {
	case "":
		p.failToken(w, "invalid_request", "Missing required parameter [grant_type].")
	case "authorization_code":
		p.grantCode(w, r, f)
	case "refresh_token":
		p.grantRefresh(w, f)
	default:
		p.failToken(w, "unsupported_grant_type", "Value passed for the grant type was invalid.")
	}
}

// grantCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
// A code is single use: every attempt uses it up, and a second use revokes
// the tokens minted from it (RFC 6749 §4.1.2).
func (p *Provider) grantCode(w http.ResponseWriter, r *http.Request, f url.Values) {
	code, verifier := f.Get("code"), f.Get("code_verifier")
	if code == "" {
		p.failToken(w, "invalid_request", "Missing required parameter [code].")
		return
	}
	if verifier == "" {
		p.failToken(w, "invalid_request", "Missing required parameter [code_verifier].")
		return
	}
	p.mu.Lock()
	var fault string
	if c := p.codes[code]; c != nil {
		fault = c.req.fault
	}
	p.mu.Unlock()
	if p.exchangeFault(w, r, fault, false) {
		return
	}
	p.mu.Lock()
	now := p.now()
	c := p.codes[code]
	var desc string
	switch {
	case c == nil:
		desc = descBadCode
	case c.used || c.req.fault == FaultUsedCode:
		n := p.revokeGrant(c.grant)
		p.log.Warn("devtwitter: authorization code reused; tokens minted from it revoked", "revoked", n)
		desc = descBadCode
	case now.Sub(c.issued) > codeTTL || c.req.fault == FaultExpiredCode:
		desc = descBadCode
	case f.Get("redirect_uri") != c.req.redirectURI:
		desc = descBadRedirect
	case !pkceMatches(verifier, c.req.challenge, c.req.method):
		desc = descBadVerifier
	}
	if c != nil {
		c.used = true
	}
	if desc != "" {
		p.mu.Unlock()
		p.failToken(w, "invalid_request", desc)
		return
	}
	resp := p.mint(c.userID, c.req.scopes, c.grant, c.req.fault)
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth2 tokens issued", "user_id", c.userID, "grant", "authorization_code")
	writeJSON(w, http.StatusOK, resp)
}

// grantRefresh rotates a refresh token.
func (p *Provider) grantRefresh(w http.ResponseWriter, f url.Values) {
	rt := f.Get("refresh_token")
	if rt == "" {
		p.failToken(w, "invalid_request", "Missing required parameter [refresh_token].")
		return
	}
	p.mu.Lock()
	t := p.tokens2[rt]
	if t == nil || t.kind != kindRefresh || !t.activeAt(p.now()) {
		p.mu.Unlock()
		p.failToken(w, "invalid_request", descBadToken)
		return
	}
	t.revoked = true // rotation: the old refresh token stops working
	resp := p.mint(t.userID, t.scopes, t.grant, "")
	p.stats.Refreshes++
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth2 tokens issued", "user_id", t.userID, "grant", "refresh_token")
	writeJSON(w, http.StatusOK, resp)
}

// mint issues an access token, and a refresh token with offline.access;
// fault is the per-request misbehaviour they carry. The caller holds p.mu.
func (p *Provider) mint(userID string, scopes []string, grant, fault string) tokenResponse {
	now := p.now()
	resp := tokenResponse{TokenType: "bearer", ExpiresIn: int(p.accessTTL / time.Second),
		AccessToken: newToken(), Scope: strings.Join(scopes, " ")}
	p.tokens2[resp.AccessToken] = &token2{kind: kindAccess, userID: userID, scopes: scopes, grant: grant,
		expires: now.Add(p.accessTTL), fault: fault, revoked: fault == FaultRevokedToken}
	p.stats.TokensIssued++
	if slices.Contains(scopes, "offline.access") {
		resp.RefreshToken = newToken()
		p.tokens2[resp.RefreshToken] = &token2{kind: kindRefresh, userID: userID, scopes: scopes, grant: grant, expires: now.Add(refreshTokenTTL)}
	}
	return resp
}

// revokeGrant revokes every live token of a grant and returns how many.
// The caller holds p.mu.
func (p *Provider) revokeGrant(grant string) int {
	n := 0
	for _, t := range p.tokens2 {
		if t.grant == grant && !t.revoked {
			t.revoked = true
			n++
		}
	}
	p.stats.Revoked += n
	return n
}

// handleRevoke is POST /2/oauth2/revoke (RFC 7009). Unknown tokens are not
// an error; revoking a refresh token also revokes its grant's access tokens.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	f, ok := p.tokenForm(w, r)
	if !ok {
		return
	}
	token, hint := f.Get("token"), f.Get("token_type_hint")
	if token == "" {
		p.failToken(w, "invalid_request", "Missing required parameter [token].")
		return
	}
	if hint != "" && hint != "access_token" && hint != "refresh_token" {
		p.failToken(w, "unsupported_token_type", "token_type_hint must be access_token or refresh_token.")
		return
	}
	p.mu.Lock()
	if t := p.tokens2[token]; t != nil && !t.revoked {
		if t.kind == kindRefresh {
			p.revokeGrant(t.grant)
		} else {
			t.revoked = true
			p.stats.Revoked++
		}
	}
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth2 token revoke request handled")
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
}
