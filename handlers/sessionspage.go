package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// sessionsStore is what the sessions page, logout and "log out
// everywhere" use.
type sessionsStore interface {
	SessionsByUser(ctx context.Context, userID bson.ObjectID, now time.Time) ([]models.Session, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSession(ctx context.Context, userID bson.ObjectID, id string) (bool, error)
	DeleteUserSessions(ctx context.Context, userID bson.ObjectID) (int64, error)
	RevokeTokens(ctx context.Context, id bson.ObjectID, at time.Time) error
}

// sessionRow is one of the user's sessions as the sessions page shows it.
// Handle names it in forms: a keyed hash, so the page never shows session
// ids.
type sessionRow struct {
	Handle    string
	Current   bool
	Browser   string
	CreatedAt time.Time
	LastSeen  time.Time
}

type sessionsPage struct {
	layout
	Sessions []sessionRow
}

// sessionHandle is the public name of session sid in forms.
func (s *Server) sessionHandle(sid string) string {
	m := hmac.New(sha256.New, s.keys.csrf)
	m.Write([]byte("session handle\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// handleSessions lists the signed-in user's live sessions, each with a way
// to end it, and a way to end them all.
func (s *Server) handleSessions(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	list, err := s.store.SessionsByUser(ctx, sess.User.ID, s.now())
	if err != nil {
		s.fail(c, fmt.Errorf("list sessions: %w", err))
		return
	}
	page := sessionsPage{layout: s.layout(c, "Your sessions")}
	for _, x := range list {
		page.Sessions = append(page.Sessions, sessionRow{
			Handle:    s.sessionHandle(x.ID),
			Current:   x.Key() == sess.ID,
			Browser:   browserFamily(x.UserAgent),
			CreatedAt: x.CreatedAt,
			LastSeen:  x.LastSeen,
		})
	}
	c.Header("Cache-Control", "no-store")
	s.render(c, http.StatusOK, "sessions", page)
}

// handleEndSession ends one of the user's sessions, named by its handle.
// Ending the current one signs this browser out.
func (s *Server) handleEndSession(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if err := s.checkForm(c, sess, "session"); err != nil {
		s.fail(c, err)
		return
	}
	handle := c.Request.PostForm.Get("session")
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	list, err := s.store.SessionsByUser(ctx, sess.User.ID, s.now())
	if err != nil {
		s.fail(c, fmt.Errorf("list sessions: %w", err))
		return
	}
	var sid string // the session's key
	for _, x := range list {
		if hmac.Equal([]byte(s.sessionHandle(x.ID)), []byte(handle)) {
			sid = x.Key()
		}
	}
	if sid == "" {
		s.fail(c, failure(http.StatusNotFound, "That session has already ended.", nil))
		return
	}
	if _, err := s.store.DeleteUserSession(ctx, sess.User.ID, sid); err != nil {
		s.fail(c, fmt.Errorf("end session: %w", err))
		return
	}
	s.sessions.SessionRevoked(ctx, sid)
	s.logger(c).Info("session ended", "user_id", sess.User.ID.Hex(), "current", sid == sess.ID)
	s.recordEvent(c, sess.User.ID, models.Event{Kind: models.EventSessionEnded, Detail: "ended from the sessions page"})
	if sid == sess.ID {
		s.leave(c, "signed-out")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, "/sessions")
}

// handleEndAllSessions signs the user out everywhere: the service tokens
// issued so far are revoked (refused at /db from now on), every session
// ends and the stored Twitter credentials are removed, as at logout.
func (s *Server) handleEndAllSessions(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if err := s.checkForm(c, sess); err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	// Tokens first: if this fails, the sessions stand and the user can
	// try again from any of them.
	if err := s.store.RevokeTokens(ctx, sess.User.ID, s.now()); err != nil {
		s.fail(c, fmt.Errorf("revoke service tokens: %w", err))
		return
	}
	n, err := s.store.DeleteUserSessions(ctx, sess.User.ID)
	if err != nil {
		s.fail(c, fmt.Errorf("end all sessions: %w", err))
		return
	}
	s.logger(c).Info("signed out everywhere", "user_id", sess.User.ID.Hex(), "sessions", n)
	if err := s.forgetTwitterCredentials(ctx, c, sess.User, "log out everywhere"); err != nil {
		s.fail(c, err)
		return
	}
	s.leave(c, "signed-out-everywhere")
}
