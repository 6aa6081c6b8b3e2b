package handlers

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/handlers/testdouble"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(storeProcessEnv); spec != "" {
		// This test binary was started as a separate store process by
		// startStoreProcess; it serves until killed.
		os.Exit(runStoreProcess(spec))
	}
	gin.SetMode(gin.ReleaseMode)
	if spec := os.Getenv(appProcessEnv); spec != "" {
		// Started as a separate app process by startAppProcess.
		os.Exit(runAppProcess(spec))
	}
	os.Exit(m.Run())
}

// testSecret is the session secret of every test app.
const testSecret = "test-secret-0123456789-abcdefghijklmnop"

// harness is one app instance wired to a dev provider and a real store
// over the wire, both on loopback.
type harness struct {
	t        testing.TB
	app      *httptest.Server
	srv      *Server
	cfg      *config.Config
	store    *models.Store
	provider *devtwitter.Provider
	provSrv  *httptest.Server
	logs     *testdouble.Buffer
	clock    *testdouble.Clock
}

type harnessOptions struct {
	store          *models.Store // default: a fresh database on a fresh embedded server
	twitterTimeout string        // default 2s
	env            map[string]string
	routes         func(*gin.Engine) // extra routes, added before serving
	storeTimeout   time.Duration     // default 2s
	tokenKeys      *tokenkeys.Set    // service-token keys; nil: tokens off
	// provider wraps the dev provider's handler (to watch or refuse calls).
	provider func(http.Handler) http.Handler
	logLevel slog.Leveler // default debug
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, logs: &testdouble.Buffer{}, clock: testdouble.NewClock(time.Now())}

	var err error
	h.provider, err = devtwitter.New(devtwitter.Config{
		CallbackURLs: []string{"http://unused.invalid/"},
		Now:          h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var provider http.Handler = h.provider
	if opts.provider != nil {
		provider = opts.provider(provider)
	}
	h.provSrv = httptest.NewServer(provider)
	t.Cleanup(h.provSrv.Close)

	// The app's URL must be known before its config is: it is the issuer
	// and the base of the callback URLs.
	h.app = httptest.NewUnstartedServer(nil)
	appURL := "http://" + h.app.Listener.Addr().String()
	timeout := opts.twitterTimeout
	if timeout == "" {
		timeout = "2s"
	}
	env := map[string]string{
		"PUBLIC_URL":              appURL,
		"SESSION_SECRET":          testSecret,
		"TWITTER_API_BASE":        h.provSrv.URL,
		"TWITTER_AUTHORIZE_BASE":  h.provSrv.URL,
		"TWITTER_CLIENT_ID":       devtwitter.DevClientID,
		"TWITTER_CLIENT_SECRET":   devtwitter.DevClientSecret,
		"TWITTER_CONSUMER_KEY":    devtwitter.DevConsumerKey,
		"TWITTER_CONSUMER_SECRET": devtwitter.DevConsumerSecret,
		"TWITTER_TIMEOUT":         timeout,
		// Tests log in many times from 127.0.0.1; ratelimit_test.go turns
		// the limits on where it tests them.
		"RATE_LIMIT_LOGIN":  "off",
		"RATE_LIMIT_WRITES": "off",
		// Dev mode keeps generated keys in DATA_DIR; never in the source tree.
		"DATA_DIR": t.TempDir(),
	}
	for k, v := range opts.env {
		env[k] = v
	}
	h.cfg, err = config.Load(func(k string) string { return env[k] }, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range h.cfg.Flows {
		h.provider.AddCallbackURL(h.cfg.CallbackURL(f))
	}

	h.store = opts.store
	if h.store == nil {
		h.store = storetest.New(t)
	}
	h.srv, err = New(Options{
		Config:       h.cfg,
		Store:        h.store,
		Logger:       slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: cmp.Or[slog.Leveler](opts.logLevel, slog.LevelDebug)})),
		Now:          h.clock.Now,
		StoreTimeout: cmp.Or(opts.storeTimeout, 2*time.Second),
		TokenKeys:    opts.tokenKeys,
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.routes != nil {
		opts.routes(h.srv.engine)
	}
	h.app.Config.Handler = h.srv.Handler()
	h.app.Start()
	t.Cleanup(h.app.Close)
	return h
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step of a login can be checked.
type browser struct {
	t      testing.TB
	h      *harness
	client *http.Client
}

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{t: h.t, h: h, client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a fully read response.
type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return &response{Response: resp, body: string(body)}
}

// abs resolves a path against the app's URL.
func (b *browser) abs(target string) string {
	if strings.HasPrefix(target, "http") {
		return target
	}
	return b.h.app.URL + target
}

func (b *browser) get(target string, header ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(target), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	setHeaders(req, header)
	return b.do(req)
}

func (b *browser) post(target, contentType, body string, header ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(target), strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	setHeaders(req, header)
	return b.do(req)
}

func (b *browser) postForm(target string, form url.Values, header ...string) *response {
	b.t.Helper()
	return b.post(target, "application/x-www-form-urlencoded", form.Encode(), header...)
}

func setHeaders(req *http.Request, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
}

// cookie returns the jar's value of the named app cookie, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.h.app.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie for the app into the jar (a kept or forged copy).
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.h.app.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true}})
}

// startLogin follows the app's login redirect and returns the provider
// URL the browser is sent to.
func (b *browser) startLogin(flow config.Flow) *url.URL {
	b.t.Helper()
	r := b.get("/auth/" + string(flow) + "/login")
	if r.StatusCode != http.StatusFound {
		b.t.Fatalf("GET /auth/%s/login: status %d, want 302; body %s", flow, r.StatusCode, r.body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(u.String(), b.h.provSrv.URL) {
		b.t.Fatalf("login redirects to %s, want the provider %s", u, b.h.provSrv.URL)
	}
	return u
}

// consent answers the provider's consent step non-interactively and
// returns the callback URL the provider sends the browser to.
func (b *browser) consent(authorize *url.URL, action, userID string) *url.URL {
	b.t.Helper()
	u := *authorize
	q := u.Query()
	q.Set("auto", action)
	q.Set("user", userID)
	u.RawQuery = q.Encode()
	r := b.get(u.String())
	if r.StatusCode != http.StatusFound {
		b.t.Fatalf("provider consent: status %d, want 302; body %s", r.StatusCode, r.body)
	}
	cb, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), b.h.app.URL+"/auth/") {
		b.t.Fatalf("provider redirects to %s, want the app's callback", cb)
	}
	return cb
}

// login signs in as userID through flow and checks it lands on / with a
// session cookie.
func (b *browser) login(flow config.Flow, userID string) {
	b.t.Helper()
	cb := b.consent(b.startLogin(flow), "approve", userID)
	r := b.get(cb.String())
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/" {
		b.t.Fatalf("callback: status %d location %q, want 302 to /; body %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if b.cookie(sessionCookie) == "" {
		b.t.Fatal("callback set no session cookie")
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the form token from the home page.
func (b *browser) csrf() string {
	b.t.Helper()
	r := b.get("/")
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on /: status %d body %s", r.StatusCode, r.body)
	}
	return m[1]
}

// userID returns the database id in the browser's session cookie.
func (b *browser) userID() bson.ObjectID {
	b.t.Helper()
	sub, _ := claims(b.t, b.cookie(sessionCookie))["sub"].(string)
	id, err := bson.ObjectIDFromHex(sub)
	if err != nil {
		b.t.Fatalf("session sub %q: %v", sub, err)
	}
	return id
}

func (h *harness) user(id bson.ObjectID) *models.User {
	h.t.Helper()
	u, err := h.store.UserByID(context.Background(), id)
	if err != nil {
		h.t.Fatalf("UserByID(%s): %v", id.Hex(), err)
	}
	return u
}

func (r *response) String() string { return fmt.Sprintf("%d %s", r.StatusCode, r.body) }
