package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

// timedStore records how long each store call takes in the store-call
// histogram, by operation and outcome. It wraps the store as a field, not
// by embedding it, so that every method is timed: a method added to the
// store interface and not here is a compile error, not a gap in the
// metrics.
type timedStore struct {
	next  store
	calls *prometheus.HistogramVec
}

var _ store = timedStore{}

// timed runs call as operation op and records its duration and outcome.
func timed[R any](t timedStore, op string, call func() (R, error)) (R, error) {
	start := time.Now()
	r, err := call()
	t.calls.WithLabelValues(op, storeOutcome(err)).Observe(time.Since(start).Seconds())
	return r, err
}

// timedErr is timed for calls that return only an error.
func timedErr(t timedStore, op string, call func() error) error {
	_, err := timed(t, op, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

// storeOutcome is the outcome label of a call that ended with err.
func storeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, models.ErrNotFound):
		return "not_found"
	case errors.Is(err, models.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	}
	return "error"
}

func (t timedStore) Ping(ctx context.Context) error {
	return timedErr(t, "ping", func() error { return t.next.Ping(ctx) })
}

func (t timedStore) CountLiveSessions(ctx context.Context, now time.Time) (int64, error) {
	return timed(t, "count_live_sessions", func() (int64, error) { return t.next.CountLiveSessions(ctx, now) })
}

func (t timedStore) RecordSignIn(ctx context.Context, p models.TwitterProfile, tok models.ProviderToken, now time.Time) (bson.ObjectID, error) {
	return timed(t, "record_sign_in", func() (bson.ObjectID, error) { return t.next.RecordSignIn(ctx, p, tok, now) })
}

func (t timedStore) UserByID(ctx context.Context, id bson.ObjectID) (*models.User, error) {
	return timed(t, "user_by_id", func() (*models.User, error) { return t.next.UserByID(ctx, id) })
}

func (t timedStore) ReplaceProviderToken(ctx context.Context, id bson.ObjectID, oldGeneration int64, tok models.ProviderToken) (bool, error) {
	return timed(t, "replace_provider_token", func() (bool, error) { return t.next.ReplaceProviderToken(ctx, id, oldGeneration, tok) })
}

func (t timedStore) ClearProviderTokenGeneration(ctx context.Context, id bson.ObjectID, generation int64) (bool, error) {
	return timed(t, "clear_provider_token_generation", func() (bool, error) { return t.next.ClearProviderTokenGeneration(ctx, id, generation) })
}

func (t timedStore) ClaimTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64, until, now time.Time) (bool, error) {
	return timed(t, "claim_token_refresh", func() (bool, error) { return t.next.ClaimTokenRefresh(ctx, id, generation, until, now) })
}

func (t timedStore) ReleaseTokenRefresh(ctx context.Context, id bson.ObjectID, generation int64) error {
	return timedErr(t, "release_token_refresh", func() error { return t.next.ReleaseTokenRefresh(ctx, id, generation) })
}

func (t timedStore) StartSession(ctx context.Context, sess models.Session, ev *models.Event) (*models.Session, error) {
	return timed(t, "start_session", func() (*models.Session, error) { return t.next.StartSession(ctx, sess, ev) })
}

func (t timedStore) SessionByID(ctx context.Context, id string, now time.Time) (*models.Session, error) {
	return timed(t, "session_by_id", func() (*models.Session, error) { return t.next.SessionByID(ctx, id, now) })
}

func (t timedStore) DeleteSession(ctx context.Context, id string) error {
	return timedErr(t, "delete_session", func() error { return t.next.DeleteSession(ctx, id) })
}

func (t timedStore) InsertRecord(ctx context.Context, owner bson.ObjectID, text string, now time.Time) (*models.Record, error) {
	return timed(t, "insert_record", func() (*models.Record, error) { return t.next.InsertRecord(ctx, owner, text, now) })
}

func (t timedStore) RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]models.Record, error) {
	return timed(t, "records_by_owner", func() ([]models.Record, error) { return t.next.RecordsByOwner(ctx, owner, limit) })
}

// WatchChanges runs for as long as the server does: a duration that says
// nothing, so it is passed through untimed.
func (t timedStore) WatchChanges(ctx context.Context, ready func(), fn func(models.Change)) error {
	return t.next.WatchChanges(ctx, ready, fn)
}

func (t timedStore) RecordEvent(ctx context.Context, ev models.Event) error {
	return timedErr(t, "record_event", func() error { return t.next.RecordEvent(ctx, ev) })
}

func (t timedStore) EventsByUser(ctx context.Context, user bson.ObjectID, limit int) ([]models.Event, error) {
	return timed(t, "events_by_user", func() ([]models.Event, error) { return t.next.EventsByUser(ctx, user, limit) })
}

func (t timedStore) SessionsByUser(ctx context.Context, userID bson.ObjectID, now time.Time) ([]models.Session, error) {
	return timed(t, "sessions_by_user", func() ([]models.Session, error) { return t.next.SessionsByUser(ctx, userID, now) })
}

func (t timedStore) TouchSessions(ctx context.Context, ids []string, now time.Time) error {
	return timedErr(t, "touch_sessions", func() error { return t.next.TouchSessions(ctx, ids, now) })
}

func (t timedStore) PublishChange(ctx context.Context, ch models.Change, now time.Time) error {
	return timedErr(t, "insert_change", func() error { return t.next.PublishChange(ctx, ch, now) })
}

func (t timedStore) ChangesSince(ctx context.Context, cur *models.ChangeCursor, now time.Time) (models.ChangeBatch, error) {
	return timed(t, "find_changes", func() (models.ChangeBatch, error) { return t.next.ChangesSince(ctx, cur, now) })
}

func (t timedStore) DeleteOldChanges(ctx context.Context, now time.Time) (int64, error) {
	return timed(t, "delete_old_changes", func() (int64, error) { return t.next.DeleteOldChanges(ctx, now) })
}

func (t timedStore) DeleteUserSession(ctx context.Context, userID bson.ObjectID, id string) (bool, error) {
	return timed(t, "delete_user_session", func() (bool, error) { return t.next.DeleteUserSession(ctx, userID, id) })
}

func (t timedStore) DeleteUserSessions(ctx context.Context, userID bson.ObjectID) (int64, error) {
	return timed(t, "delete_user_sessions", func() (int64, error) { return t.next.DeleteUserSessions(ctx, userID) })
}

// Session edges (issue 12).

func (t timedStore) RevokeTokens(ctx context.Context, id bson.ObjectID, at time.Time) error {
	return timedErr(t, "revoke_tokens", func() error { return t.next.RevokeTokens(ctx, id, at) })
}

func (t timedStore) SpendLoginState(ctx context.Context, nonce string, expires time.Time) error {
	return timedErr(t, "spend_login_state", func() error { return t.next.SpendLoginState(ctx, nonce, expires) })
}

func (t timedStore) DeleteSpentLogins(ctx context.Context, now time.Time) (int64, error) {
	return timed(t, "delete_spent_logins", func() (int64, error) { return t.next.DeleteSpentLogins(ctx, now) })
}

// The revocation outbox (issue 12).

func (t timedStore) MoveTokenToOutbox(ctx context.Context, id bson.ObjectID, meta models.Revocation, now time.Time) (string, error) {
	return timed(t, "move_token_to_outbox", func() (string, error) { return t.next.MoveTokenToOutbox(ctx, id, meta, now) })
}

func (t timedStore) QueueRevocation(ctx context.Context, r models.Revocation, now time.Time) (string, error) {
	return timed(t, "queue_revocation", func() (string, error) { return t.next.QueueRevocation(ctx, r, now) })
}

func (t timedStore) DueRevocations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return timed(t, "due_revocations", func() ([]string, error) { return t.next.DueRevocations(ctx, now, limit) })
}

func (t timedStore) ClaimRevocation(ctx context.Context, id string, until, now time.Time) (*models.Revocation, error) {
	return timed(t, "claim_revocation", func() (*models.Revocation, error) { return t.next.ClaimRevocation(ctx, id, until, now) })
}

func (t timedStore) RetryRevocation(ctx context.Context, r *models.Revocation, nextAt time.Time, lastErr string) error {
	return timedErr(t, "retry_revocation", func() error { return t.next.RetryRevocation(ctx, r, nextAt, lastErr) })
}

func (t timedStore) FinishRevocation(ctx context.Context, r *models.Revocation) error {
	return timedErr(t, "finish_revocation", func() error { return t.next.FinishRevocation(ctx, r) })
}

// Account deletion (issue 13).

func (t timedStore) DeleteAccount(ctx context.Context, id bson.ObjectID, meta models.Revocation, now time.Time) (models.Deletion, error) {
	return timed(t, "delete_account", func() (models.Deletion, error) { return t.next.DeleteAccount(ctx, id, meta, now) })
}

func (t timedStore) PendingDeletions(ctx context.Context) ([]bson.ObjectID, error) {
	return timed(t, "pending_deletions", func() ([]bson.ObjectID, error) { return t.next.PendingDeletions(ctx) })
}
