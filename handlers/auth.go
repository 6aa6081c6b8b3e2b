package handlers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
)

// signInStore is what a sign-in writes: the login state spent, the user,
// the session and its event (loginspent.go sweeps old login states).
type signInStore interface {
	SpendLoginState(ctx context.Context, nonce string, expires time.Time) error
	DeleteSpentLogins(ctx context.Context, now time.Time) (int64, error)
	RecordSignIn(ctx context.Context, p models.TwitterProfile, tok models.ProviderToken, now time.Time) (bson.ObjectID, error)
	StartSession(ctx context.Context, sess models.Session, ev *models.Event) (*models.Session, error)
}

// Limits on what we store from Twitter's profile, well above Twitter's own
// (15-character handles, 50-character names).
const (
	maxHandleLen = 50
	maxNameLen   = 100
	maxURLLen    = 2048
	// userAgentLen is how much of the User-Agent a session remembers.
	userAgentLen = 200
)

var decimalID = regexp.MustCompile(`^[0-9]{1,20}$`)

// notices are the messages a redirect to / may ask the page to show. Only
// these fixed texts can appear, so the query string cannot inject content.
var notices = map[string]string{
	"cancelled":             "Sign-in was cancelled. You are not signed in.",
	"signed-out":            "You are signed out.",
	"signed-out-everywhere": "You are signed out on every device.",
}

// cancelLogin ends a login the user declined at Twitter: nothing is written.
func (s *Server) cancelLogin(c *gin.Context, flow config.Flow) {
	s.logger(c).Info("login cancelled", "flow", flow)
	c.Redirect(http.StatusFound, "/?notice=cancelled")
}

// loginFailed is the refusal of a callback that does not belong to a login
// this browser started (missing, forged, replayed or mismatched).
func loginFailed(cause error) error {
	return failure(http.StatusBadRequest, "This sign-in link is invalid or was already used. Please sign in again.", cause)
}

// finishLogin stores the user and their Twitter credentials, starts a new
// session, records the sign-in and sends the browser, with a fresh session
// cookie, back to the page the login started from (or home).
func (s *Server) finishLogin(c *gin.Context, p models.TwitterProfile, tok models.ProviderToken) {
	p, err := s.cleanProfile(p)
	if err != nil {
		s.fail(c, &providerError{step: "profile", err: err})
		return
	}
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	now := s.now()
	uid, err := s.store.RecordSignIn(ctx, p, tok, now)
	if err != nil {
		s.fail(c, fmt.Errorf("record sign-in: %w", err))
		return
	}
	// The user's other sessions show the new name and avatar at once.
	s.sessions.ForgetUser(uid)
	// A new session (and secret) at every login, whatever cookie the
	// browser had, so a planted session cannot be carried into this one.
	// The sign-in event is stored with it: one digest write for both.
	signIn := s.requestEvent(c, uid, models.Event{Kind: models.EventSignIn, Flow: tok.Flow})
	sess, err := s.store.StartSession(ctx, models.Session{
		UserID:    uid,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionLifetime),
		UserAgent: truncate(c.Request.UserAgent(), userAgentLen),
	}, &signIn)
	switch {
	case sess == nil:
		s.fail(c, fmt.Errorf("create session: %w", err))
		return
	case err != nil:
		// The activity log must not make a sign-in fail.
		s.logger(c).Warn("record event", "kind", signIn.Kind, "user_id", uid.Hex(), "err", err.Error())
	}
	if err := s.sessions.Issue(c.Writer, uid, sess.Key(), now); err != nil {
		s.fail(c, err)
		return
	}
	s.logger(c).Info("login", "flow", tok.Flow, "user_id", uid.Hex())
	c.Redirect(http.StatusFound, returnToFrom(c.Request.Context()))
}

// cleanProfile checks what Twitter said about the user before it is stored.
// The avatar is kept only if it is https or served by the provider itself
// (or, in development, the dev provider's data: URI), so a page never
// loads an image from an arbitrary origin.
func (s *Server) cleanProfile(p models.TwitterProfile) (models.TwitterProfile, error) {
	if !decimalID.MatchString(p.ID) || strings.Trim(p.ID, "0") == "" {
		return p, errors.New("user id is not a decimal id")
	}
	if p.Handle == "" || !utf8.ValidString(p.Handle) || !utf8.ValidString(p.Name) {
		return p, errors.New("missing or invalid handle or name")
	}
	p.Handle = truncate(p.Handle, maxHandleLen)
	p.Name = truncate(p.Name, maxNameLen)
	if p.Name == "" {
		p.Name = p.Handle
	}
	if !acceptableAvatar(s.cfg, p.AvatarURL) {
		p.AvatarURL = ""
	}
	return p, nil
}

// devAvatarPrefix starts the avatars the dev provider generates: SVG data:
// URIs, which survive its restarts on another port. They are accepted in
// development only, where the page's CSP allows data: images.
const devAvatarPrefix = "data:image/svg+xml;base64,"

// acceptableAvatar says whether the avatar URL raw may be stored and shown.
func acceptableAvatar(cfg *config.Config, raw string) bool {
	if raw == "" || len(raw) > maxURLLen {
		return false
	}
	if b64, ok := strings.CutPrefix(raw, devAvatarPrefix); ok {
		_, err := base64.StdEncoding.DecodeString(b64)
		return cfg.Dev && err == nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "https" || u.Scheme+"://"+u.Host == providerOrigin(cfg)
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
