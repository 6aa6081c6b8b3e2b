package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// deletionStore deletes accounts; it may scan, and never runs on a normal
// request.
type deletionStore interface {
	DeleteAccount(ctx context.Context, id bson.ObjectID, meta models.Revocation, now time.Time) (models.Deletion, error)
	PendingDeletions(ctx context.Context) ([]bson.ObjectID, error)
}

// Deleting an account (issue 13): the "Your data" page posts the user's
// @handle, typed as confirmation, to /me/delete. The store deletes in an
// order that survives a crash (models/delete.go); this instance drops the
// user's sessions at once and the change feed tells the others.

// deletionTimeout bounds one deletion: it scans collections, so it may
// take longer than a normal request's store calls.
const deletionTimeout = time.Minute

// deletionSweep is how often every instance looks for deletions that a
// dead process left unfinished (besides at start-up).
const deletionSweep = 10 * time.Minute

// deletedPage is the signed-out page shown after a deletion.
type deletedPage struct {
	layout
	Handle string
	models.Deletion
}

// handleDeleteAccount deletes the signed-in user's account once they have
// typed their @handle: the Twitter credential goes to the revocation
// outbox, every session and service token ends, and the user's data is
// deleted. A wrong handle deletes nothing (400).
func (s *Server) handleDeleteAccount(c *gin.Context) {
	sess := sessionFrom(c.Request.Context())
	if err := s.checkForm(c, sess, "handle"); err != nil {
		s.fail(c, err)
		return
	}
	typed := strings.TrimPrefix(strings.TrimSpace(c.Request.PostForm.Get("handle")), "@")
	if typed == "" || !strings.EqualFold(typed, sess.User.Handle) {
		s.fail(c, failure(http.StatusBadRequest,
			fmt.Sprintf("Nothing was deleted: to delete this account, type its handle, @%s.", sess.User.Handle), nil))
		return
	}
	// A browser that goes away does not stop a deletion half way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), deletionTimeout)
	defer cancel()
	meta := models.Revocation{
		RequestID: requestIDFrom(c.Request.Context()),
		Client:    browserFamily(c.Request.UserAgent()),
		IPPrefix:  ipPrefix(c.ClientIP()),
	}
	d, err := s.deleteAccount(ctx, sess.User.ID, meta)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.logger(c).Info("account deleted", "user_id", sess.User.ID.Hex(),
		"records", d.Records, "sessions", d.Sessions, "events", d.Events)
	s.sessions.ClearCookie(c.Writer)
	c.Header("Cache-Control", "no-store")
	c.Header("Clear-Site-Data", `"cache", "cookies"`)
	page := deletedPage{
		layout:   layout{Title: "Account deleted", DevProvider: s.cfg.DevProvider},
		Handle:   sess.User.Handle,
		Deletion: d,
	}
	s.render(c, http.StatusOK, "deleted", page)
}

// deleteAccount deletes user uid in the store, drops their sessions here
// and tells the other instances (the change feed), and hands the Twitter
// credential to this instance's revocation workers.
func (s *Server) deleteAccount(ctx context.Context, uid bson.ObjectID, meta models.Revocation) (models.Deletion, error) {
	d, err := s.store.DeleteAccount(ctx, uid, meta, s.now())
	if err != nil {
		// The marker stays: the sweep finishes what was started.
		return d, fmt.Errorf("delete account: %w", err)
	}
	s.sessions.UserRevoked(ctx, uid)
	if d.OutboxID != "" {
		s.revoker.enqueue(d.OutboxID)
	}
	return d, nil
}

// sweepDeletions finishes, now and every deletionSweep until ctx ends,
// the account deletions whose marker is still there: a process died (or
// its store went away) half way through one. Finishing is idempotent, so
// every instance may sweep.
func (s *Server) sweepDeletions(ctx context.Context) {
	t := time.NewTicker(deletionSweep)
	defer t.Stop()
	for {
		n, err := s.SweepDeletions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("sweep account deletions", "err", err.Error())
		case n > 0:
			s.log.Info("finished account deletions left half way", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepDeletions finishes every account deletion left half way and
// returns how many it finished.
func (s *Server) SweepDeletions(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deletionTimeout)
	defer cancel()
	ids, err := s.store.PendingDeletions(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep deletions: %w", err)
	}
	for i, uid := range ids {
		if _, err := s.deleteAccount(ctx, uid, models.Revocation{RequestID: "deletion-sweep"}); err != nil {
			return i, fmt.Errorf("sweep deletions: %w", err)
		}
	}
	return len(ids), nil
}
