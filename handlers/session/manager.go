// Package session owns the signed-in session of a browser: the keys that
// sign it, the HS256 JWT in the __Host-session cookie and the
// per-instance cache of the JWTs that verified, the per-instance cache
// of live sessions and users, its invalidation across instances through
// the store's change feed, and the batched last_seen writes.
//
// The HTTP layer (package handlers) builds one [Manager] with [New] and
// calls it: [Manager.Issue] at sign-in, [Manager.Load] on every request,
// [Manager.SessionRevoked] and [Manager.UserRevoked] once a logout or a
// credential change stands in the store, and [Manager.Watch] once per
// process. Nothing else touches the cache.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/sync/singleflight"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
)

// Store is what the Manager needs from the database: the session and user
// lookups, the last_seen writes and the change feed.
type Store interface {
	SessionByID(ctx context.Context, id string, now time.Time) (*models.Session, error)
	UserByID(ctx context.Context, id bson.ObjectID) (*models.User, error)
	TouchSessions(ctx context.Context, ids []string, now time.Time) error
	PublishChange(ctx context.Context, ch models.Change, now time.Time) error
	ChangesSince(ctx context.Context, cur *models.ChangeCursor, now time.Time) (models.ChangeBatch, error)
	DeleteOldChanges(ctx context.Context, now time.Time) (int64, error)
	WatchChanges(ctx context.Context, ready func(), fn func(models.Change)) error
}

var _ Store = (*models.Store)(nil)

// Options are the dependencies of a Manager.
type Options struct {
	// Secret is the current session secret; session tokens are signed
	// with a key derived from it. At least config.MinSecretLen bytes.
	Secret []byte
	// OldSecrets are secrets rotated out: tokens signed with them stay
	// valid until they expire.
	OldSecrets [][]byte
	// Issuer is the iss of session tokens (the app's public URL).
	Issuer string
	// Lifetime is how long a session token is valid.
	Lifetime time.Duration
	// CacheTTL is how long a cached session is trusted without news from
	// the change feed (SESSION_CACHE_TTL); zero turns the cache off.
	CacheTTL time.Duration
	// Store holds the sessions, users and the change feed. Required.
	Store Store
	// StoreTimeout bounds each store lookup; default 5s.
	StoreTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives warnings about the store and the feed; default:
	// discard.
	Logger *slog.Logger
	// RequestID names the request a context belongs to, for log lines;
	// default: none.
	RequestID func(ctx context.Context) string
	// Registerer receives the cache's metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// ErrNotSignedIn is the cause of every refused session: no cookie, a
// token that does not verify, or a session or user that is gone. Load's
// other errors mean the store could not say.
var ErrNotSignedIn = errors.New("not signed in")

// Session is the signed-in state of a request.
type Session struct {
	User *models.User
	ID   string // the session's key, from the verified token
}

// Manager issues, verifies and looks up sessions. Build it with New; it
// is safe for concurrent use.
type Manager struct {
	keys         keys
	issuer       string
	parser       *jwt.Parser
	validator    *jwt.Validator // the parser's claim checks, re-run on cached tokens
	lifetime     time.Duration
	cacheTTL     time.Duration
	store        Store
	storeTimeout time.Duration
	now          func() time.Time
	log          *slog.Logger
	requestID    func(context.Context) string

	cache    *cache
	verified *verifiedTokens // tokens that verified, not parsed again
	metrics  *cacheMetrics
	feed     *changeFeed // this instance's reader of the change feed
	touches  *touchBatch // last_seen writes waiting for their batch
	// loads merges concurrent store lookups of one session (a page and its
	// stylesheet, a burst of API calls) into one.
	loads singleflight.Group
}

// New builds a Manager. It fails if the secret is shorter than
// config.MinSecretLen, the store is missing or the metrics do not register.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("session: Store is required")
	}
	if len(opts.Secret) < config.MinSecretLen {
		return nil, fmt.Errorf("session: secret must be at least %d bytes, but is %d", config.MinSecretLen, len(opts.Secret))
	}
	m := &Manager{
		issuer:       opts.Issuer,
		lifetime:     opts.Lifetime,
		cacheTTL:     opts.CacheTTL,
		store:        opts.Store,
		storeTimeout: opts.StoreTimeout,
		now:          opts.Now,
		log:          opts.Logger,
		requestID:    opts.RequestID,
		cache:        newCache(opts.CacheTTL, maxCachedSessions),
		verified:     newVerifiedTokens(maxCachedSessions),
		feed:         &changeFeed{},
		touches:      newTouchBatch(),
	}
	if m.storeTimeout <= 0 {
		m.storeTimeout = 5 * time.Second
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.requestID == nil {
		m.requestID = func(context.Context) string { return "" }
	}
	var err error
	if m.keys, err = deriveKeys(opts.Secret, opts.OldSecrets...); err != nil {
		return nil, fmt.Errorf("session: derive keys: %w", err)
	}
	checks := parserOptions(m.issuer, m.now)
	m.parser, m.validator = jwt.NewParser(checks...), jwt.NewValidator(checks...)
	if m.metrics, err = newCacheMetrics(opts.Registerer, m.cache); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return m, nil
}

// SessionRevoked is called once session key (an ID or key) has been
// ended in the store: this instance refuses it at once, the others at
// their next poll of the change feed.
func (m *Manager) SessionRevoked(ctx context.Context, key string) {
	m.revoked(ctx, models.Change{SessionID: models.SessionIDOf(key)})
}

// UserRevoked is called once user uid has been signed out everywhere,
// deleted, or lost their Twitter credential in the store: every instance
// reads the user's sessions from the store again when next used.
func (m *Manager) UserRevoked(ctx context.Context, uid bson.ObjectID) {
	m.revoked(ctx, models.Change{UserID: uid})
}

// ForgetUser drops user uid and their sessions from this instance's
// cache only, so the next request reads the profile again: for changes
// (a new name, a refreshed Twitter token) other instances may pick up at
// their next profile reload.
func (m *Manager) ForgetUser(uid bson.ObjectID) {
	m.cache.dropUser(uid)
}
