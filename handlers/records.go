package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/handlers/session"
	"example.com/twitterlogin/models"
)

// recordStore is what the records API and the home page use.
type recordStore interface {
	InsertRecord(ctx context.Context, owner bson.ObjectID, text string, now time.Time) (*models.Record, error)
	RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]models.Record, error)
}

const (
	// dbBodyLimit bounds POST /db bodies; formBodyLimit other forms.
	dbBodyLimit   = 64 << 10
	formBodyLimit = 8 << 10
	// MaxRecordText is the longest record text, in characters.
	MaxRecordText = 1000
	// recordsShown is how many records a list returns: what a user's
	// digest holds, so a list costs two _id lookups.
	recordsShown = models.RecentRecords
)

// recordJSON is a record as the API shows it. The owner is implied: a user
// only ever sees their own records.
type recordJSON struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

func toJSON(r models.Record) recordJSON {
	return recordJSON{ID: r.ID.Hex(), Text: r.Text, CreatedAt: r.CreatedAt}
}

// userJSON is the signed-in user as GET /me shows it.
type userJSON struct {
	ID        string `json:"id"`
	TwitterID string `json:"twitter_id"`
	Handle    string `json:"handle"`
	Name      string `json:"name"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// handleMe answers GET /me with the signed-in user. It needs no store
// query of its own: the session middleware has loaded the user.
func (s *Server) handleMe(c *gin.Context) {
	u := sessionFrom(c.Request.Context()).User
	c.JSON(http.StatusOK, userJSON{ID: u.ID.Hex(), TwitterID: u.TwitterID, Handle: u.Handle, Name: u.Name, AvatarURL: u.AvatarURL})
}

// handleDBList answers GET /db with the signed-in user's records, newest
// first.
func (s *Server) handleDBList(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	records, err := s.store.RecordsByOwner(ctx, sess.User.ID, recordsShown)
	if err != nil {
		s.fail(c, fmt.Errorf("list records: %w", err))
		return
	}
	out := make([]recordJSON, 0, len(records))
	for _, r := range records {
		out = append(out, toJSON(r))
	}
	c.JSON(http.StatusOK, gin.H{"records": out})
}

// handleDBPost stores a record for the signed-in user. JSON clients get 201
// and the record; the page's form is sent back to / where it is listed.
// The owner always comes from the session, never from the request.
func (s *Server) handleDBPost(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	var (
		text string
		err  error
	)
	form := c.ContentType() == gin.MIMEPOSTForm
	switch c.ContentType() {
	case gin.MIMEJSON:
		text, err = decodeRecordJSON(c.Request.Body)
	case gin.MIMEPOSTForm:
		text, err = s.decodeRecordForm(c, sess)
	default:
		err = failure(http.StatusUnsupportedMediaType, "Send application/json or a form.", nil)
	}
	if err == nil {
		err = validateText(text)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := s.storeCtx(c)
	defer cancel()
	rec, err := s.store.InsertRecord(ctx, sess.User.ID, text, s.now())
	if err != nil {
		s.fail(c, fmt.Errorf("insert record: %w", err))
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	c.JSON(http.StatusCreated, toJSON(*rec))
}

// decodeRecordJSON reads exactly {"text": "..."}: unknown keys (a "$where",
// say) and values that are not strings (an operator object) are refused.
func decodeRecordJSON(body io.Reader) (string, error) {
	var in struct {
		Text *string `json:"text"`
	}
	if err := decodeJSONBody(body, &in, `Send a JSON object like {"text": "..."} with no other fields.`); err != nil {
		return "", err
	}
	if in.Text == nil {
		return "", failure(http.StatusBadRequest, `The field "text" is required.`, nil)
	}
	return *in.Text, nil
}

// decodeRecordForm reads the page's form: text plus the form token.
func (s *Server) decodeRecordForm(c *gin.Context, sess *session.Session) (string, error) {
	if err := s.checkForm(c, sess, "text"); err != nil {
		return "", err
	}
	return c.Request.PostForm.Get("text"), nil
}

// checkForm parses a form body and checks its CSRF token. Only the named
// fields (and the token) may appear, once each.
func (s *Server) checkForm(c *gin.Context, sess *session.Session, fields ...string) error {
	if err := c.Request.ParseForm(); err != nil {
		return bodyError(err)
	}
	allowed := map[string]bool{"csrf_token": true}
	for _, f := range fields {
		allowed[f] = true
	}
	for k, v := range c.Request.PostForm {
		if !allowed[k] || len(v) != 1 {
			return failure(http.StatusBadRequest, fmt.Sprintf("Unexpected form field %q.", k), nil)
		}
	}
	if sess == nil || !s.validCSRF(sess.ID, c.Request.PostForm.Get("csrf_token")) {
		return failure(http.StatusForbidden, "This form has expired. Reload the page and try again.", nil)
	}
	return nil
}

// validateText accepts 1 to MaxRecordText characters of printable UTF-8
// (newlines and tabs allowed).
func validateText(text string) error {
	switch n := utf8.RuneCountInString(text); {
	case !utf8.ValidString(text):
		return failure(http.StatusBadRequest, "Text must be valid UTF-8.", nil)
	case strings.TrimSpace(text) == "":
		return failure(http.StatusBadRequest, "Text must not be empty.", nil)
	case n > MaxRecordText:
		return failure(http.StatusBadRequest, fmt.Sprintf("Text must be at most %d characters, but is %d.", MaxRecordText, n), nil)
	}
	for _, r := range text {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return failure(http.StatusBadRequest, "Text must not contain control characters.", nil)
		}
	}
	return nil
}

// limitBody caps the request body; reading past it fails with 413.
func (s *Server) limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// bodyError maps a body read failure: too large is 413, anything else 400.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return failure(http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body must be at most %d bytes.", mbe.Limit), err)
	}
	return failure(http.StatusBadRequest, "The request body could not be read.", err)
}
