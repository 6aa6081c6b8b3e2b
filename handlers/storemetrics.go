package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// timedStore is a store that records how long each call takes in the
// store-call histogram, by operation and outcome. Methods it does not
// override (newer ones, and WatchChanges, which runs for as long as the
// server does) reach the wrapped store untimed through the embedding.
type timedStore struct {
	store
	calls *prometheus.HistogramVec
}

var _ store = timedStore{}

// observe records one call that started at start and ended with err.
func (t timedStore) observe(op string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, models.ErrNotFound):
		outcome = "not_found"
	case errors.Is(err, models.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		outcome = "unavailable"
	default:
		outcome = "error"
	}
	t.calls.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

func (t timedStore) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { t.observe("ping", start, err) }(time.Now())
	return t.store.Ping(ctx)
}

func (t timedStore) CountLiveSessions(ctx context.Context, now time.Time) (n int64, err error) {
	defer func(start time.Time) { t.observe("count_live_sessions", start, err) }(time.Now())
	return t.store.CountLiveSessions(ctx, now)
}

func (t timedStore) RecordSignIn(ctx context.Context, p models.TwitterProfile, tok models.ProviderToken, now time.Time) (id bson.ObjectID, err error) {
	defer func(start time.Time) { t.observe("record_sign_in", start, err) }(time.Now())
	return t.store.RecordSignIn(ctx, p, tok, now)
}

func (t timedStore) UserByID(ctx context.Context, id bson.ObjectID) (u *models.User, err error) {
	defer func(start time.Time) { t.observe("user_by_id", start, err) }(time.Now())
	return t.store.UserByID(ctx, id)
}

func (t timedStore) ClearProviderToken(ctx context.Context, id bson.ObjectID) (err error) {
	defer func(start time.Time) { t.observe("clear_provider_token", start, err) }(time.Now())
	return t.store.ClearProviderToken(ctx, id)
}

func (t timedStore) StartSession(ctx context.Context, sess models.Session, ev *models.Event) (created *models.Session, err error) {
	defer func(start time.Time) { t.observe("start_session", start, err) }(time.Now())
	return t.store.StartSession(ctx, sess, ev)
}

func (t timedStore) SessionByID(ctx context.Context, id string, now time.Time) (sess *models.Session, err error) {
	defer func(start time.Time) { t.observe("session_by_id", start, err) }(time.Now())
	return t.store.SessionByID(ctx, id, now)
}

func (t timedStore) DeleteSession(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { t.observe("delete_session", start, err) }(time.Now())
	return t.store.DeleteSession(ctx, id)
}

func (t timedStore) InsertRecord(ctx context.Context, owner bson.ObjectID, text string, now time.Time) (r *models.Record, err error) {
	defer func(start time.Time) { t.observe("insert_record", start, err) }(time.Now())
	return t.store.InsertRecord(ctx, owner, text, now)
}

func (t timedStore) RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) (rs []models.Record, err error) {
	defer func(start time.Time) { t.observe("records_by_owner", start, err) }(time.Now())
	return t.store.RecordsByOwner(ctx, owner, limit)
}

// The store calls of the change feed and the last_seen batches.

func (t timedStore) PublishChange(ctx context.Context, ch models.Change, now time.Time) (err error) {
	defer func(start time.Time) { t.observe("insert_change", start, err) }(time.Now())
	return t.store.PublishChange(ctx, ch, now)
}

func (t timedStore) ChangesSince(ctx context.Context, cur *models.ChangeCursor, now time.Time) (b models.ChangeBatch, err error) {
	defer func(start time.Time) { t.observe("find_changes", start, err) }(time.Now())
	return t.store.ChangesSince(ctx, cur, now)
}

func (t timedStore) DeleteOldChanges(ctx context.Context, now time.Time) (n int64, err error) {
	defer func(start time.Time) { t.observe("delete_old_changes", start, err) }(time.Now())
	return t.store.DeleteOldChanges(ctx, now)
}

func (t timedStore) TouchSessions(ctx context.Context, ids []string, now time.Time) (err error) {
	defer func(start time.Time) { t.observe("touch_sessions", start, err) }(time.Now())
	return t.store.TouchSessions(ctx, ids, now)
}
