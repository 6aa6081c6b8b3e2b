package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// activityStore is what the activity page reads and every part that notes
// an event writes.
type activityStore interface {
	RecordEvent(ctx context.Context, ev models.Event) error
	EventsByUser(ctx context.Context, user bson.ObjectID, limit int) ([]models.Event, error)
}

// eventsShown is how many events the activity page lists: what a user's
// digest holds, so the page costs two _id lookups.
const eventsShown = models.RecentEvents

type activityPage struct {
	layout
	Events []activityRow
}

// activityRow is one event as the page shows it.
type activityRow struct {
	At       time.Time
	What     string
	Flow     string
	Client   string
	IPPrefix string
	Detail   string
}

// eventLabels are the page's words for each kind of event.
var eventLabels = map[models.EventKind]string{
	models.EventSignIn:       "Signed in",
	models.EventSignInFailed: "Sign-in failed",
	models.EventSignOut:      "Signed out",
	models.EventSessionEnded: "Session ended",
	models.EventRevoke:       "Twitter access revoked",
	models.EventTokenIssued:  "Service token issued",
}

// handleActivity lists the signed-in user's recent account events, newest
// first.
func (s *Server) handleActivity(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	evs, err := s.store.EventsByUser(ctx, sess.User.ID, eventsShown)
	if err != nil {
		s.fail(c, fmt.Errorf("list events: %w", err))
		return
	}
	page := activityPage{layout: s.layout(c, "Account activity")}
	for _, ev := range evs {
		what := eventLabels[ev.Kind]
		if what == "" {
			what = string(ev.Kind)
		}
		page.Events = append(page.Events, activityRow{
			At: ev.At, What: what, Flow: flowName(ev.Flow),
			Client: ev.Client, IPPrefix: ev.IPPrefix, Detail: ev.Detail,
		})
	}
	s.render(c, http.StatusOK, "activity", page)
}

func flowName(f string) string {
	switch f {
	case "oauth1":
		return "OAuth 1.0a"
	case "oauth2":
		return "OAuth 2.0"
	}
	return ""
}

// recordEvent stores ev for user with the request's time and coarse
// client. A failure is logged, never shown: the activity log must not make
// a sign-in or logout fail.
func (s *Server) recordEvent(c *gin.Context, user bson.ObjectID, ev models.Event) {
	ev = s.requestEvent(c, user, ev)
	// Recorded even if the client has gone: what happened, happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), s.storeTimeout)
	defer cancel()
	if err := s.store.RecordEvent(ctx, ev); err != nil {
		s.logger(c).Warn("record event", "kind", ev.Kind, "user_id", user.Hex(), "err", err.Error())
	}
}

// requestEvent is ev for user with the request's time and coarse client.
func (s *Server) requestEvent(c *gin.Context, user bson.ObjectID, ev models.Event) models.Event {
	ev.UserID = user
	ev.At = s.now()
	ev.Client = browserFamily(c.Request.UserAgent())
	ev.IPPrefix = ipPrefix(c.ClientIP())
	return ev
}

// noteFailedCallback records a failed sign-in callback as an event of the
// user whose live session this browser already has. Without one no user is
// known (the callback failed before Twitter said who it was), so the
// failure is only logged, by s.fail.
func (s *Server) noteFailedCallback(c *gin.Context) {
	c.Next()
	if c.Writer.Status() < http.StatusBadRequest || !s.sessions.HasCookie(c.Request) {
		return
	}
	sess, err := s.sessions.Load(c.Request)
	if err != nil {
		return
	}
	flow := strings.TrimSuffix(strings.TrimPrefix(c.FullPath(), "/auth/"), "/callback")
	s.recordEvent(c, sess.User.ID, models.Event{Kind: models.EventSignInFailed, Flow: flow, Detail: fmt.Sprintf("status %d", c.Writer.Status())})
}

// browserFamily reduces a User-Agent to a browser family. Order matters:
// Edge and Opera also claim Chrome, and Chrome claims Safari.
func browserFamily(ua string) string {
	switch {
	case ua == "":
		return "other"
	case strings.HasPrefix(ua, "curl/"):
		return "curl"
	case strings.Contains(ua, "Edg/"), strings.Contains(ua, "Edge/"):
		return "Edge"
	case strings.Contains(ua, "OPR/"):
		return "Opera"
	case strings.Contains(ua, "Firefox/"):
		return "Firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "Chromium/"):
		return "Chrome"
	case strings.Contains(ua, "Safari/"):
		return "Safari"
	case strings.HasPrefix(ua, "Go-http-client/"):
		return "Go"
	}
	return "other"
}

// ipPrefix coarsens an IP address to its IPv4 /24 or IPv6 /48 network;
// "" when ip is not an address.
func ipPrefix(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
