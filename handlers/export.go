package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// exportStore is what a download of the user's data reads; it may scan.
type exportStore interface {
	UserByID(ctx context.Context, id bson.ObjectID) (*models.User, error)
	RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]models.Record, error)
	SessionsByUser(ctx context.Context, userID bson.ObjectID, now time.Time) ([]models.Session, error)
	EventsByUser(ctx context.Context, user bson.ObjectID, limit int) ([]models.Event, error)
}

// exportAll is the limit that lists all of a user's records or events: an
// export may scan, unlike the pages.
const exportAll = 1 << 30

// exportParts says what each part of the file is, in the file itself and
// on the page that offers it.
func exportParts() map[string]string {
	return map[string]string{
		"profile":  "Your Twitter account as this site stored it at your last sign-in, and when it was first and last written.",
		"roles":    "The roles that decide which service tokens you may get.",
		"records":  "Every record you saved, newest first.",
		"sessions": "The browsers signed in as you now: the browser family, when it signed in and when it was last seen (to the minute).",
		"activity": "Your account's recent activity, newest first: sign-ins, sign-outs, sessions ended, Twitter credentials revoked, tokens issued, with the browser family and network (never a full IP address).",
	}
}

// exportFile is everything the app holds about a user, as downloaded. It
// holds no token, secret, session id, key id or encrypted value.
type exportFile struct {
	About    exportAbout     `json:"about"`
	Profile  exportProfile   `json:"profile"`
	Roles    []string        `json:"roles"`
	Records  []exportRecord  `json:"records"`
	Sessions []exportSession `json:"sessions"`
	Activity []exportEvent   `json:"activity"`
}

type exportAbout struct {
	Site        string            `json:"site"`
	GeneratedAt time.Time         `json:"generated_at"`
	Parts       map[string]string `json:"parts"`
}

type exportProfile struct {
	TwitterID string    `json:"twitter_id"`
	Handle    string    `json:"handle"`
	Name      string    `json:"name"`
	AvatarURL string    `json:"avatar_url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type exportRecord struct {
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

type exportSession struct {
	Browser   string     `json:"browser"`
	Current   bool       `json:"current"`
	CreatedAt time.Time  `json:"created_at"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"`
}

type exportEvent struct {
	Kind     models.EventKind `json:"kind"`
	At       time.Time        `json:"at"`
	Flow     string           `json:"flow,omitempty"`
	Client   string           `json:"client,omitempty"`
	IPPrefix string           `json:"ip_prefix,omitempty"`
	Detail   string           `json:"detail,omitempty"`
}

// handleYourData shows what the app holds about the user and how to
// download it.
func (s *Server) handleYourData(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	s.render(c, http.StatusOK, "yourdata", struct {
		layout
		Parts map[string]string
	}{s.layout(c, "Your data"), exportParts()})
}

// handleExport sends everything the app holds about the signed-in user as
// one JSON file, a download named for the day.
func (s *Server) handleExport(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	now := s.now().UTC()
	out, err := s.collectExport(c, sess.User, sess.ID, now)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="your-data-%s.json"`, now.Format("2006-01-02")))
	c.IndentedJSON(http.StatusOK, out)
}

// collectExport reads the user's data from the store. current is the key
// of the session asking, so the file can say which browser that is.
func (s *Server) collectExport(c *gin.Context, u *models.User, current string, now time.Time) (exportFile, error) {
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	user, err := s.store.UserByID(ctx, u.ID)
	if err != nil {
		return exportFile{}, fmt.Errorf("export: user: %w", err)
	}
	records, err := s.store.RecordsByOwner(ctx, u.ID, exportAll)
	if err != nil {
		return exportFile{}, fmt.Errorf("export: records: %w", err)
	}
	sessions, err := s.store.SessionsByUser(ctx, u.ID, now)
	if err != nil {
		return exportFile{}, fmt.Errorf("export: sessions: %w", err)
	}
	events, err := s.store.EventsByUser(ctx, u.ID, exportAll)
	if err != nil {
		return exportFile{}, fmt.Errorf("export: activity: %w", err)
	}
	out := exportFile{
		About: exportAbout{Site: s.cfg.PublicURL.String(), GeneratedAt: now, Parts: exportParts()},
		Profile: exportProfile{TwitterID: user.TwitterID, Handle: user.Handle, Name: user.Name,
			AvatarURL: user.AvatarURL, CreatedAt: user.CreatedAt, UpdatedAt: user.UpdatedAt},
		Roles:    append([]string{}, user.Roles...),
		Records:  make([]exportRecord, 0, len(records)),
		Sessions: make([]exportSession, 0, len(sessions)),
		Activity: make([]exportEvent, 0, len(events)),
	}
	for _, r := range records {
		out.Records = append(out.Records, exportRecord{Text: r.Text, CreatedAt: r.CreatedAt})
	}
	for _, x := range sessions {
		row := exportSession{Browser: browserFamily(x.UserAgent), Current: x.Key() == current, CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt}
		if !x.LastSeen.IsZero() {
			row.LastSeen = &x.LastSeen
		}
		out.Sessions = append(out.Sessions, row)
	}
	for _, e := range events {
		out.Activity = append(out.Activity, exportEvent{Kind: e.Kind, At: e.At, Flow: e.Flow, Client: e.Client, IPPrefix: e.IPPrefix, Detail: e.Detail})
	}
	return out, nil
}
