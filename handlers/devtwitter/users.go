package devtwitter

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
)

// User is an account of the fake X.
type User struct {
	// ID is the user's decimal id (v1.1 id_str, v2 data.id).
	ID string
	// ScreenName is the handle (v1.1 screen_name, v2 username).
	ScreenName string
	// Name is the display name.
	Name string
	// AvatarURL is the profile image URL. When empty the provider serves a
	// generated image at /avatars/{id}.svg and reports its absolute URL,
	// built from the request's Host with scheme http.
	AvatarURL string
}

// DefaultUsers returns the friendly users the provider has when
// [Config.Users] is empty. Each call returns a fresh slice.
func DefaultUsers() []User {
	return []User{
		{ID: "1001", ScreenName: "ada", Name: "Ada Lovelace"},
		{ID: "1002", ScreenName: "grace", Name: "Grace Hopper"},
		{ID: "1003", ScreenName: "alan", Name: "Alan Turing"},
	}
}

// SetUser adds u, or replaces the user with the same ID (for example to
// rename a user between two logins). An invalid user is logged and ignored.
func (p *Provider) SetUser(u User) {
	if err := validateUser(u); err != nil {
		p.log.Warn("devtwitter: user ignored", "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.users {
		if p.users[i].ID == u.ID {
			p.users[i] = u
			return
		}
	}
	p.users = append(p.users, u)
}

// userByID returns the user with id. The caller holds p.mu.
func (p *Provider) userByID(id string) (User, bool) {
	for _, u := range p.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// lookupUser is userByID for callers that do not hold p.mu.
func (p *Provider) lookupUser(id string) (User, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.userByID(id)
}

// userOrFirst returns id, or the first user's id when id is empty.
func (p *Provider) userOrFirst(id string) string {
	if id != "" {
		return id
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.users) == 0 {
		return ""
	}
	return p.users[0].ID
}

// avatarURL is u's profile image URL: the one set for u, or else the
// generated image as a data: URI. A URL to the provider itself would break
// when it restarts on another port, and would be plain http in a field
// named profile_image_url_https.
func avatarURL(u User) string {
	if u.AvatarURL != "" {
		return u.AvatarURL
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(avatarSVG(u)))
}

func validateUser(u User) error {
	if n, err := strconv.ParseInt(u.ID, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != u.ID {
		return fmt.Errorf("user id %q must be a decimal number", u.ID)
	}
	if u.ScreenName == "" {
		return fmt.Errorf("user %s: screen name is required", u.ID)
	}
	if u.AvatarURL != "" {
		if a, err := url.Parse(u.AvatarURL); err != nil || (a.Scheme != "http" && a.Scheme != "https") || a.Host == "" {
			return fmt.Errorf("user %s: avatar URL must be an absolute http(s) URL", u.ID)
		}
	}
	return nil
}
