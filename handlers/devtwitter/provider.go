package devtwitter

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Pre-seeded development credentials. They are public by design: the
// provider is for local development only and must never face the internet.
const (
	// DevConsumerKey is the default OAuth 1.0a consumer key (API key).
	DevConsumerKey = "dev-consumer-key"
	// DevConsumerSecret is the default OAuth 1.0a consumer secret.
	DevConsumerSecret = "dev-consumer-secret"
	// DevClientID is the default OAuth 2.0 client id (confidential client).
	DevClientID = "dev-client-id"
	// DevClientSecret is the default OAuth 2.0 client secret.
	DevClientSecret = "dev-client-secret"
)

// Lifetimes and limits. X's exact values are documented where known
// (twitter-api.md); the others are common choices.
const (
	requestTokenTTL = 5 * time.Minute  // request token + verifier (X: unverified)
	consentTTL      = 10 * time.Minute // pending consent page
	timestampWindow = 300 * time.Second
	codeTTL         = 30 * time.Second // X glossary: exchange within 30 s
	codeRetention   = 10 * time.Minute // remember used codes to detect reuse
	accessTokenTTL  = 2 * time.Hour    // X: 2-hour access tokens
	refreshTokenTTL = 180 * 24 * time.Hour
	rateLimit       = 75 // per user per 15-minute window
	rateWindow      = 15 * time.Minute
	maxBodyBytes    = 64 << 10
	maxStateLen     = 500
	gcInterval      = time.Minute
	// defaultSlowDelay is longer than any sane client timeout.
	defaultSlowDelay = 30 * time.Second
)

// Config configures a [Provider]. Only CallbackURLs is required.
type Config struct {
	// ConsumerKey and ConsumerSecret are the OAuth 1.0a app credentials;
	// they default to DevConsumerKey and DevConsumerSecret.
	ConsumerKey, ConsumerSecret string
	// ClientID and ClientSecret are the OAuth 2.0 confidential client
	// credentials; they default to DevClientID and DevClientSecret.
	ClientID, ClientSecret string
	// CallbackURLs are the registered callback URLs. oauth_callback and
	// redirect_uri must equal one of them byte for byte. Required; more can
	// be added later with [Provider.AddCallbackURL].
	CallbackURLs []string
	// Users is the user table; it defaults to DefaultUsers().
	Users []User
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// Logger receives events (never tokens, secrets, verifiers or codes);
	// it defaults to a logger that discards everything.
	Logger *slog.Logger
	// AccessTokenLifetime is the lifetime of OAuth 2.0 access tokens; it
	// defaults to X's 2 hours. Set a short one (at least a second) to see
	// an app refresh tokens.
	AccessTokenLifetime time.Duration
	// SlowDelay is how long the per-request "slow" misbehaviour holds a
	// token exchange back (see [FaultModes]); it defaults to 30 seconds.
	SlowDelay time.Duration
}

// Fault is an injected failure for one URL path, see [Provider.SetFault].
type Fault struct {
	// Status, when not 0, answers every request with this HTTP status and
	// an error body in the endpoint's format instead of handling it.
	Status int
	// Delay holds the response back this long (before Status applies). The
	// wait ends early, without a response, when the request context ends.
	Delay time.Duration
	// Body, when not empty, is sent verbatim instead of the endpoint's own
	// answer, with Status (200 when Status is 0): form-encoded content type
	// on POST /oauth/*, JSON elsewhere. For example
	// "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=false"
	// on /oauth/request_token.
	Body string
	// Malformed answers with Status (200 when Status is 0) and a body that
	// is cut off in the middle of a JSON object.
	Malformed bool
	// RateLimitReset is the x-rate-limit-reset sent with a 429; zero means
	// the end of a 15-minute window starting now.
	RateLimitReset time.Time
}

// Stats counts what the provider did since it was created.
type Stats struct {
	RequestTokens     int // OAuth 1.0a request tokens issued
	AccessTokens      int // OAuth 1.0a access tokens issued
	VerifyCredentials int // successful verify_credentials calls
	CodesIssued       int // OAuth 2.0 authorization codes issued
	TokensIssued      int // OAuth 2.0 access tokens issued (code and refresh grants)
	Refreshes         int // successful refresh_token grants
	UsersMe           int // successful /2/users/me calls
	Approvals         int // consents approved (both protocols)
	Denials           int // consents denied (both protocols)
	Revoked           int // tokens revoked or invalidated (both protocols)
	Rejected          int // requests refused with a 4xx error
	Faults            int // requests answered by an injected fault
}

// Provider is the fake X. Create it with [New]; it is safe for concurrent use.
type Provider struct {
	consumerKey, consumerSecret string
	clientID, clientSecret      string
	now                         func() time.Time
	log                         *slog.Logger
	mux                         *http.ServeMux
	pages                       *template.Template
	csrf                        *http.CrossOriginProtection
	accessTTL                   time.Duration
	slowDelay                   time.Duration

	mu         sync.Mutex
	callbacks  map[string]bool
	users      []User // in display order; IDs unique
	faults     map[string]Fault
	nonces     map[nonceKey]time.Time // -> when seen
	reqTokens  map[string]*requestToken
	access1    map[string]*accessToken1
	consents   map[string]*consent
	codes      map[string]*authCode
	tokens2    map[string]*token2
	rateLimits map[string]*rateCounter
	stats      Stats
	lastGC     time.Time
}

// New returns a Provider for cfg. It returns an error when no callback URL
// is registered, a callback URL is not an absolute http(s) URL, or a user
// has an empty or non-decimal ID, an empty screen name, or a duplicate ID.
func New(cfg Config) (*Provider, error) {
	p := &Provider{
		consumerKey:    orDefault(cfg.ConsumerKey, DevConsumerKey),
		consumerSecret: orDefault(cfg.ConsumerSecret, DevConsumerSecret),
		clientID:       orDefault(cfg.ClientID, DevClientID),
		clientSecret:   orDefault(cfg.ClientSecret, DevClientSecret),
		now:            cfg.Now,
		log:            cfg.Logger,
		pages:          parsePages(),
		csrf:           http.NewCrossOriginProtection(),
		callbacks:      map[string]bool{},
		faults:         map[string]Fault{},
		nonces:         map[nonceKey]time.Time{},
		reqTokens:      map[string]*requestToken{},
		access1:        map[string]*accessToken1{},
		consents:       map[string]*consent{},
		codes:          map[string]*authCode{},
		tokens2:        map[string]*token2{},
		rateLimits:     map[string]*rateCounter{},
		accessTTL:      cfg.AccessTokenLifetime,
		slowDelay:      cfg.SlowDelay,
	}
	if p.accessTTL == 0 {
		p.accessTTL = accessTokenTTL
	}
	if p.slowDelay <= 0 {
		p.slowDelay = defaultSlowDelay
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	var problems []error
	if p.accessTTL < time.Second {
		problems = append(problems, fmt.Errorf("AccessTokenLifetime must be at least 1s, but is %s", p.accessTTL))
	}
	if len(cfg.CallbackURLs) == 0 {
		problems = append(problems, errors.New("CallbackURLs is required (the app's OAuth callback URLs, exact match)"))
	}
	for _, cb := range cfg.CallbackURLs {
		if err := validateCallback(cb); err != nil {
			problems = append(problems, err)
			continue
		}
		p.callbacks[cb] = true
	}
	users := cfg.Users
	if len(users) == 0 {
		users = DefaultUsers()
	}
	seen := map[string]bool{}
	for _, u := range users {
		if err := validateUser(u); err != nil {
			problems = append(problems, err)
			continue
		}
		if seen[u.ID] {
			problems = append(problems, fmt.Errorf("user id %q is listed twice", u.ID))
			continue
		}
		seen[u.ID] = true
		p.users = append(p.users, u)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("devtwitter: invalid config: %w", err)
	}
	p.routes()
	return p, nil
}

func (p *Provider) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth/request_token", p.handleRequestToken)
	m.HandleFunc("GET /oauth/authenticate", p.handleOAuth1Authorize)
	m.HandleFunc("GET /oauth/authorize", p.handleOAuth1Authorize)
	m.HandleFunc("POST /oauth/access_token", p.handleAccessToken)
	m.HandleFunc("GET /1.1/account/verify_credentials.json", p.handleVerifyCredentials)
	m.HandleFunc("POST /1.1/oauth/invalidate_token", p.handleInvalidateToken)
	m.HandleFunc("POST /1.1/oauth/invalidate_token.json", p.handleInvalidateToken)
	m.HandleFunc("GET /i/oauth2/authorize", p.handleOAuth2Authorize)
	m.HandleFunc("POST /2/oauth2/token", p.handleToken)
	m.HandleFunc("POST /2/oauth2/revoke", p.handleRevoke)
	m.HandleFunc("GET /2/users/me", p.handleUsersMe)
	m.Handle("POST /_dev/consent", p.csrf.Handler(http.HandlerFunc(p.handleConsent)))
	m.HandleFunc("GET /avatars/{file}", p.handleAvatar)
	m.HandleFunc("GET /{$}", p.handleIndex)
	p.mux = m
}

// ServeHTTP serves every endpoint of the provider. Injected faults apply
// first; request bodies are limited to 64 KiB.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	p.gc()
	if p.applyFault(w, r) {
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	p.mux.ServeHTTP(w, r)
}

// AddCallbackURL registers one more callback URL (exact match), e.g. the
// app's URL once it listens. An invalid URL is logged and ignored.
func (p *Provider) AddCallbackURL(u string) {
	if err := validateCallback(u); err != nil {
		p.log.Warn("devtwitter: callback URL ignored", "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.callbacks[u] = true
}

// SetFault injects f for every request whose URL path equals path, e.g.
// SetFault("/2/users/me", Fault{Status: 503}). A zero Fault removes it.
func (p *Provider) SetFault(path string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f == (Fault{}) {
		delete(p.faults, path)
		return
	}
	p.faults[path] = f
}

// ClearFaults removes every injected fault.
func (p *Provider) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.faults)
}

// Stats returns a snapshot of the provider's counters.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// TokenActive reports whether accessToken is an OAuth 1.0a or OAuth 2.0
// access token issued by p that is neither revoked nor expired.
func (p *Provider) TokenActive(accessToken string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.access1[accessToken]; ok {
		return !t.revoked
	}
	if t, ok := p.tokens2[accessToken]; ok && t.kind == kindAccess {
		return t.activeAt(p.now())
	}
	return false
}

// reject counts a refused request.
func (p *Provider) reject(reason string, attrs ...any) {
	p.mu.Lock()
	p.stats.Rejected++
	p.mu.Unlock()
	p.log.Info("devtwitter: request refused", append([]any{"reason", reason}, attrs...)...)
}

// newToken returns a random URL-safe token from crypto/rand. The unreserved
// alphabet keeps it unchanged by OAuth percent-encoding.
func newToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(24))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (it crashes the program
	// instead when the system's randomness fails).
	_, _ = rand.Read(b)
	return b
}

// readForm parses a form-encoded body (never the query) into r.PostForm.
func readForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("parse form: %w", err)
	}
	return nil
}

// appendQuery returns base with v appended to its query, keeping the
// query base already has as it is.
func appendQuery(base string, v url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // registered callbacks were validated; not reached
	}
	if u.RawQuery == "" {
		u.RawQuery = v.Encode()
	} else {
		u.RawQuery += "&" + v.Encode()
	}
	return u.String()
}

func validateCallback(cb string) error {
	if cb == "oob" {
		return nil
	}
	u, err := url.Parse(cb)
	if err != nil {
		return fmt.Errorf("callback URL %q: %w", cb, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("callback URL %q must be an absolute http(s) URL without fragment", cb)
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
