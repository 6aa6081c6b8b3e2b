// Package handlers serves the app over HTTP: the pages, the Twitter sign-in
// flows, the session middleware and the /db API.
package handlers

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/session"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/handlers/twitter"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/templates"
)

// store is what the app needs from the database: the session manager's
// part, and the small interface each part of the app declares next to the
// code that uses it. timedStore wraps all of it.
type store interface {
	session.Store
	healthStore
	signInStore
	recordStore
	activityStore
	sessionsStore
	providerTokenStore
	outboxStore
	deletionStore
	exportStore
}

var _ store = (*models.Store)(nil)

// Options are the dependencies of a Server.
type Options struct {
	Config *config.Config
	Store  store
	Logger *slog.Logger // default: discard
	// Now is the clock; default time.Now. Tests inject one to expire tokens.
	Now func() time.Time
	// HTTPClient calls Twitter; default: a client with Config.Twitter.Timeout
	// that does not follow redirects (a signed request must reach exactly
	// the URL that was signed).
	HTTPClient *http.Client
	// StoreTimeout bounds each request's store calls; default 5s.
	StoreTimeout time.Duration
	// TokenKeys sign service tokens (POST /token) and are published at
	// /.well-known/jwks.json; nil turns service tokens and bearer access
	// to /db off.
	TokenKeys *tokenkeys.Set
	// StoreCommands, if set, counts the commands the store sends (give
	// its Monitor to models.Open); the metrics export it.
	StoreCommands *models.CommandCounter

	// revoke tunes the revocation workers (tests only); nil: defaults.
	revoke *revokeSettings
}

// Server is the app's HTTP layer. Build it with New; it is safe for
// concurrent use.
type Server struct {
	// draining is set when the process is shutting down: /readyz says so,
	// so load balancers stop sending new requests.
	draining atomic.Bool
	// requests counts every request Handler has answered (countRequest);
	// the idle-memory watcher reads it (idlememory.go).
	requests atomic.Uint64

	cfg          *config.Config
	store        store
	log          *slog.Logger
	now          func() time.Time
	httpClient   *http.Client
	storeTimeout time.Duration

	keys      keys
	issuer    string
	stateAEAD cipher.AEAD
	twitter   *twitter.Client
	headers   fixedHeaders // the security headers and other fixed values
	pages     *template.Template
	engine    *gin.Engine

	tokenKeys *tokenkeys.Set   // nil: service tokens are off
	jwks      []byte           // the published JWK Set document
	bearer    *bearer.Verifier // the app's own tokens, for /db

	// sessions issues, verifies and looks up session cookies, and owns
	// the session cache and its invalidation.
	sessions *session.Manager

	// revoker revokes Twitter credentials after logout (outbox.go).
	revoker *revoker
	// refreshes merges concurrent refreshes of one user's Twitter token
	// into one (see providertoken.go).
	refreshes singleflight.Group

	metrics    *metrics // private registry; served by MetricsHandler
	loginLimit *limiter // per client IP on /auth/*; nil: off
	writeLimit *limiter // per user on POST /db, POST /token and GET /me/export; nil: off
}

// New builds a Server. It fails if the session secret is shorter than
// config.MinSecretLen or the templates do not parse.
func New(opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil || opts.Store == nil {
		return nil, errors.New("handlers: Config and Store are required")
	}
	if len(cfg.SessionSecret) < config.MinSecretLen {
		return nil, fmt.Errorf("handlers: session secret must be at least %d bytes, but is %d", config.MinSecretLen, len(cfg.SessionSecret))
	}
	s := &Server{
		cfg:          cfg,
		metrics:      newMetrics(),
		log:          opts.Logger,
		now:          opts.Now,
		httpClient:   opts.HTTPClient,
		storeTimeout: opts.StoreTimeout,
		issuer:       cfg.PublicURL.String(),
		loginLimit:   newLimiter(cfg.RateLimits.Login, maxLimiterKeys),
		writeLimit:   newLimiter(cfg.RateLimits.Writes, maxLimiterKeys),
	}
	s.store = timedStore{next: opts.Store, calls: s.metrics.storeCalls}
	if opts.StoreCommands != nil {
		s.metrics.reg.MustRegister(newStoreCommands(opts.StoreCommands))
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.httpClient == nil {
		s.httpClient = twitter.NewHTTPClient(cfg.Twitter.Timeout)
	}
	if s.storeTimeout <= 0 {
		s.storeTimeout = 5 * time.Second
	}
	var err error
	if s.keys, err = deriveKeys(cfg.SessionSecret); err != nil {
		return nil, fmt.Errorf("handlers: derive keys: %w", err)
	}
	if s.stateAEAD, err = newLoginAEAD(s.keys.loginState); err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	if s.pages, err = templates.Parse(); err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	s.twitter = newTwitterClient(cfg, s.httpClient)
	s.headers = newFixedHeaders(cfg, contentSecurityPolicy(cfg))
	if err := s.setUpTokens(opts.TokenKeys); err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	if s.sessions, err = s.newSessionManager(); err != nil {
		return nil, fmt.Errorf("handlers: %w", err)
	}
	s.engine = s.routes()
	set := defaultRevokeSettings()
	if opts.revoke != nil {
		set = *opts.revoke
	}
	s.startRevoker(set)
	return s, nil
}

// Handler returns the app's root handler: the routes behind cross-origin
// request protection for every state-changing request.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.refuseCrossOrigin))
	return cop.Handler(s.engine)
}

// routes assembles gin by hand: gin.Default's logger would print callback
// query strings and its recovery would dump request headers.
func (s *Server) routes() *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// gin's path-fixing redirects run before any middleware (no security
	// headers, no metrics) and trust X-Forwarded-Prefix; a 404 is enough.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Client IPs come from the connection unless it is a configured proxy
	// (TRUSTED_PROXIES), whose X-Forwarded-For is then believed.
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := r.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		// config.Load validated the list; never keep gin's trust-all default.
		s.log.Error("TRUSTED_PROXIES refused; trusting no proxy", "err", err.Error())
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(s.observe, s.requestID, s.accessLog, s.recovery, s.securityHeaders)
	s.healthRoutes(r)

	s.staticRoutes(r)
	r.NoRoute(func(c *gin.Context) { s.fail(c, failure(http.StatusNotFound, "Page not found.", nil)) })
	r.NoMethod(func(c *gin.Context) { s.fail(c, failure(http.StatusMethodNotAllowed, "Method not allowed.", nil)) })

	r.GET("/", s.loadSession, s.handleIndex)
	r.GET("/logout", s.loadSession, s.requirePageUser, s.handleLogoutPage)
	r.GET("/activity", s.loadSession, s.requirePageUser, s.handleActivity)
	r.POST("/logout", s.limitBody(formBodyLimit), s.loadSession, s.handleLogout)

	auth := r.Group("/auth")
	if s.cfg.HasFlow(config.OAuth2) {
		auth.GET("/oauth2/login", s.limitLogin, s.handleOAuth2Login)
		auth.GET("/oauth2/callback", s.noReferrer, s.countLogin(config.OAuth2), s.limitLogin, s.noteFailedCallback, s.handleOAuth2Callback)
	}
	if s.cfg.HasFlow(config.OAuth1) {
		auth.GET("/oauth1/login", s.limitLogin, s.handleOAuth1Login)
		auth.GET("/oauth1/callback", s.noReferrer, s.countLogin(config.OAuth1), s.limitLogin, s.noteFailedCallback, s.handleOAuth1Callback)
	}

	r.GET("/sessions", s.loadSession, s.requirePageUser, s.handleSessions)
	r.POST("/sessions/end", s.limitBody(formBodyLimit), s.loadSession, s.requireUser, s.handleEndSession)
	r.POST("/sessions/end-all", s.limitBody(formBodyLimit), s.loadSession, s.requireUser, s.handleEndAllSessions)
	r.GET("/me", jsonAPI, s.loadSession, s.requireUser, s.handleMe)
	// An export scans the user's records and events: limited like a write.
	r.GET("/me/export", jsonAPI, s.loadSession, s.requireUser, s.limitWrites, s.handleExport)
	r.GET("/your-data", s.loadSession, s.requirePageUser, s.handleYourData)
	r.POST("/me/delete", s.limitBody(formBodyLimit), s.loadSession, s.requireUser, s.handleDeleteAccount)
	r.GET("/twitter/me", jsonAPI, s.loadSession, s.requireUser, s.handleTwitterMe)
	s.tokenRoutes(r)
	db := r.Group("/db", jsonAPI, s.loadCaller, s.requireUser)
	db.GET("", s.handleDBList)
	db.POST("", s.limitWrites, s.limitBody(dbBodyLimit), s.handleDBPost)
	return r
}

// noReferrer keeps the callback URL (with its code or verifier) out of the
// Referer of whatever the browser loads next.
func (s *Server) noReferrer(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// contentSecurityPolicy allows nothing but our own assets, plus avatars from
// Twitter's image hosts (and from the provider itself, and data: URIs in
// development, for the dev provider's own).
func contentSecurityPolicy(cfg *config.Config) string {
	img := []string{"'self'", "https://pbs.twimg.com", "https://abs.twimg.com"}
	if o := providerOrigin(cfg); o != "" && !strings.HasPrefix(o, "https://api.x.com") {
		img = append(img, o)
	}
	if cfg.Dev {
		img = append(img, "data:") // the dev provider's generated avatars
	}
	return "default-src 'none'; script-src 'none'; style-src 'self'; img-src " + strings.Join(img, " ") +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// providerOrigin is the scheme://host[:port] of Twitter's API base.
func providerOrigin(cfg *config.Config) string {
	u, err := url.Parse(cfg.Twitter.APIBase)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// storeCtx bounds the store calls of one request.
func (s *Server) storeCtx(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), s.storeTimeout)
}

// newSessionManager builds the session manager over the timed store, so
// its store calls are measured with the others.
func (s *Server) newSessionManager() (*session.Manager, error) {
	return session.New(session.Options{
		Secret:       s.cfg.SessionSecret,
		OldSecrets:   s.cfg.OldSessionSecrets,
		Issuer:       s.issuer,
		Lifetime:     s.cfg.SessionLifetime,
		CacheTTL:     s.cfg.SessionCacheTTL,
		Store:        s.store,
		StoreTimeout: s.storeTimeout,
		Now:          s.now,
		Logger:       s.log,
		RequestID:    requestIDFrom,
		Registerer:   s.metrics.reg,
	})
}

// WatchStore keeps the session cache in step with other instances until
// ctx ends; run it once, in a goroutine, in every instance. See
// [session.Manager.Watch]. It also runs the sweeps: of spent login states,
// and of account deletions a dead process left unfinished (at start-up
// and then now and then). And it returns freed memory to the OS about a
// second after each burst of requests, so RSS falls back toward its idle
// size instead of staying at the burst's peak (idlememory.go).
func (s *Server) WatchStore(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.sweepSpentLogins(ctx) })
	wg.Go(func() { s.sweepDeletions(ctx) })
	wg.Go(func() { s.watchIdleMemory(ctx) })
	s.sessions.Watch(ctx)
}
