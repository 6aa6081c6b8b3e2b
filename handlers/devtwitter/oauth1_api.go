package devtwitter

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// authenticateUser1 authenticates an API call signed with an access token.
func (p *Provider) authenticateUser1(w http.ResponseWriter, r *http.Request) (string, User, bool) {
	req, ok := p.parseSigned(w, r)
	if !ok {
		return "", User{}, false
	}
	token := req.oauth["oauth_token"]
	if token == "" {
		p.failV1(w, errBadAuthentication.because("user-context call without oauth_token"))
		return "", User{}, false
	}
	p.mu.Lock()
	at := p.access1[token]
	p.mu.Unlock()
	if at == nil || at.revoked {
		p.failV1(w, errInvalidToken.because("unknown or invalidated access token"))
		return "", User{}, false
	}
	if e := p.checkSigned(req, at.secret); e != nil {
		p.failV1(w, e)
		return "", User{}, false
	}
	u, ok := p.lookupUser(at.userID)
	if !ok {
		p.failV1(w, errInvalidToken.because("user vanished"))
		return "", User{}, false
	}
	return token, u, true
}

// handleVerifyCredentials returns the v1.1 user object of the caller.
func (p *Provider) handleVerifyCredentials(w http.ResponseWriter, r *http.Request) {
	token, u, ok := p.authenticateUser1(w, r)
	if !ok {
		return
	}
	p.mu.Lock()
	var fault string
	if at := p.access1[token]; at != nil {
		fault = at.fault
	}
	p.mu.Unlock()
	if p.identityFault(w, fault, true) {
		return
	}
	if !p.rateHeaders(w, "v1:"+u.ID) {
		p.failV1(w, errRateLimited.because("verify_credentials rate limit"))
		return
	}
	q := r.URL.Query()
	id, _ := strconv.ParseInt(u.ID, 10, 64) // validated by validateUser
	avatar := avatarURL(u)
	body := v1User{
		ID: id, IDStr: u.ID, Name: u.Name, ScreenName: u.ScreenName,
		CreatedAt:            "Mon Dec 10 00:00:00 +0000 1815",
		ProfileImageURL:      avatar,
		ProfileImageURLHTTPS: avatar,
		DefaultProfileImage:  u.AvatarURL == "",
	}
	if v := q.Get("include_entities"); v != "false" && v != "f" && v != "0" {
		body.Entities = json.RawMessage(`{"description":{"urls":[]}}`)
	}
	if v := q.Get("include_email"); v == "true" || v == "t" || v == "1" {
		// The dev app has no "Request email addresses" permission and the
		// users have no email, so X's answer would be null.
		body.Email = json.RawMessage(`null`)
	}
	p.mu.Lock()
	p.stats.VerifyCredentials++
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// v1User is the subset of X's v1.1 User object the fake returns.
type v1User struct {
	ID                   int64           `json:"id"`
	IDStr                string          `json:"id_str"`
	Name                 string          `json:"name"`
	ScreenName           string          `json:"screen_name"`
	Location             string          `json:"location"`
	Description          string          `json:"description"`
	URL                  *string         `json:"url"`
	Entities             json.RawMessage `json:"entities,omitempty"`
	Protected            bool            `json:"protected"`
	FollowersCount       int             `json:"followers_count"`
	FriendsCount         int             `json:"friends_count"`
	CreatedAt            string          `json:"created_at"`
	Verified             bool            `json:"verified"`
	StatusesCount        int             `json:"statuses_count"`
	ProfileImageURL      string          `json:"profile_image_url"`
	ProfileImageURLHTTPS string          `json:"profile_image_url_https"`
	DefaultProfileImage  bool            `json:"default_profile_image"`
	Email                json.RawMessage `json:"email,omitempty"`
}

// handleInvalidateToken revokes the access token the request is signed with.
func (p *Provider) handleInvalidateToken(w http.ResponseWriter, r *http.Request) {
	token, u, ok := p.authenticateUser1(w, r)
	if !ok {
		return
	}
	p.mu.Lock()
	if at := p.access1[token]; at != nil && !at.revoked {
		at.revoked = true
		p.stats.Revoked++
	}
	p.mu.Unlock()
	p.log.Info("devtwitter: oauth1 access token invalidated", "user_id", u.ID)
	writeJSON(w, http.StatusOK, map[string]string{"access_token": token})
}
