package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
)

// layout is what every page shows: the title, who is signed in, and
// whether the dev provider stands in for Twitter.
type layout struct {
	Title string
	User  *models.User
	// Avatar is the user's avatar URL, checked again as it is shown: the
	// template takes it as is (html/template would refuse the dev
	// provider's data: URIs).
	Avatar      template.URL
	CSRFToken   string
	DevProvider bool
}

// signInLink is one way to sign in.
type signInLink struct {
	URL, Label string
}

type indexPage struct {
	layout
	Notice  string
	SignIn  signInLink
	AltSign []signInLink
	Records []models.Record
	MaxText int
}

type logoutPage struct{ layout }

type errorPage struct {
	layout
	Status  int
	Message string
}

func (s *Server) layout(c *gin.Context, title string) layout {
	l := layout{Title: title, DevProvider: s.cfg.DevProvider}
	if sess := sessionFrom(c.Request.Context()); sess != nil {
		l.User = sess.User
		l.CSRFToken = s.csrfToken(sess.ID)
		if acceptableAvatar(s.cfg, sess.User.AvatarURL) {
			l.Avatar = template.URL(sess.User.AvatarURL)
		}
	}
	return l
}

// handleIndex renders the home page: a sign-in button when signed out; the
// profile, the record form and the user's records when signed in.
func (s *Server) handleIndex(c *gin.Context) {
	page := indexPage{
		layout:  s.layout(c, "Sign in with Twitter"),
		Notice:  notices[c.Query("notice")],
		MaxText: MaxRecordText,
	}
	if sess := sessionFrom(c.Request.Context()); sess != nil {
		ctx, cancel := s.storeCtx(c)
		defer cancel()
		records, err := s.store.RecordsByOwner(ctx, sess.User.ID, recordsShown)
		if err != nil {
			s.fail(c, fmt.Errorf("list records: %w", err))
			return
		}
		page.Records = records
		c.Header("Cache-Control", "no-store")
	} else {
		page.SignIn = signInLink{URL: "/auth/" + string(s.cfg.Flow) + "/login", Label: "Sign in with Twitter"}
		for _, f := range s.cfg.Flows {
			if f != s.cfg.Flow {
				page.AltSign = append(page.AltSign, signInLink{URL: "/auth/" + string(f) + "/login", Label: flowLabel(f)})
			}
		}
	}
	s.render(c, http.StatusOK, "index", page)
}

func flowLabel(f config.Flow) string {
	if f == config.OAuth1 {
		return "Sign in with Twitter (OAuth 1.0a)"
	}
	return "Sign in with Twitter (OAuth 2.0)"
}

// handleLogoutPage shows a button that posts to /logout: a GET never
// changes state, so a link or image elsewhere cannot sign anyone out.
func (s *Server) handleLogoutPage(c *gin.Context) {
	if sessionFrom(c.Request.Context()) == nil {
		c.Redirect(http.StatusFound, "/")
		return
	}
	c.Header("Cache-Control", "no-store")
	s.render(c, http.StatusOK, "logout", logoutPage{s.layout(c, "Sign out")})
}

// handleLogout ends the session on the server (so a kept copy of the cookie
// is refused from now on), removes the stored Twitter credentials, clears
// the cookie, and then has the credentials revoked at Twitter in the
// background (revoke.go).
func (s *Server) handleLogout(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if sess != nil {
		if err := s.checkForm(c, sess); err != nil {
			s.fail(c, err)
			return
		}
		ctx, cancel := s.storeCtx(c)
		defer cancel()
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
			s.fail(c, fmt.Errorf("delete session: %w", err))
			return
		}
		s.sessions.SessionRevoked(ctx, sess.ID)
		s.logger(c).Info("logout", "user_id", sess.User.ID.Hex())
		if err := s.forgetTwitterCredentials(ctx, c, sess.User, "logout"); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.leave(c, "signed-out")
}

// forgetTwitterCredentials moves the user's stored Twitter credentials to
// the revocation outbox once their session (or all of them) has ended, so
// that they are revoked at Twitter in the background (outbox.go) even if
// this process dies; the response never waits for Twitter. A user deleted
// meanwhile has nothing left to forget.
func (s *Server) forgetTwitterCredentials(ctx context.Context, c *gin.Context, user *models.User, reason string) error {
	meta := models.Revocation{
		Reason:    reason,
		RequestID: requestIDFrom(c.Request.Context()),
		Client:    browserFamily(c.Request.UserAgent()),
		IPPrefix:  ipPrefix(c.ClientIP()),
	}
	outboxID, err := s.store.MoveTokenToOutbox(ctx, user.ID, meta, s.now())
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("move provider token to the revocation outbox: %w", err)
	}
	s.sessions.UserRevoked(ctx, user.ID)
	s.afterLogout(c, user.ID, outboxID, reason)
	return nil
}

// leave clears this browser's session cookie, asks it to drop anything it
// cached or stored for this origin, and sends it home with a notice.
func (s *Server) leave(c *gin.Context, notice string) {
	s.sessions.ClearCookie(c.Writer)
	c.Header("Cache-Control", "no-store")
	c.Header("Clear-Site-Data", `"cache", "cookies"`)
	c.Redirect(http.StatusSeeOther, "/?notice="+notice)
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (s *Server) render(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.logger(c).Error("render", "template", name, "err", err.Error())
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Something went wrong on our side.\n"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}
