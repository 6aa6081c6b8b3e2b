package bearer_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/imageservice"
	"example.com/twitterlogin/handlers/testdouble"
	"example.com/twitterlogin/handlers/tokenkeys"
)

const (
	testIssuer   = "http://app.test"
	testAudience = "image-service"
)

// keyCache generates each kind of key once per test binary: RSA key
// generation is slow under -race.
var keyCache sync.Map

func testKey(t testing.TB, alg, name string) *tokenkeys.Key {
	t.Helper()
	if k, ok := keyCache.Load(alg + name); ok {
		return k.(*tokenkeys.Key)
	}
	k, err := tokenkeys.Generate(alg, time.Now().Add(-time.Hour), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyCache.Store(alg+name, k)
	return k
}

// jwksServer serves a JWK Set that tests can swap, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	failing bool
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...*tokenkeys.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		doc, failing := s.doc, s.failing
		s.mu.Unlock()
		if failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t testing.TB, keys ...*tokenkeys.Key) {
	t.Helper()
	set, err := tokenkeys.NewSet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := set.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) setFailing(f bool) {
	s.mu.Lock()
	s.failing = f
	s.mu.Unlock()
}

// service is the demo image service guarded by a verifier that knows
// only the JWK Set URL.
type service struct {
	*httptest.Server
	jwks  *jwksServer
	clock *testdouble.Clock
}

func newService(t testing.TB, unknownKIDInterval time.Duration, keys ...*tokenkeys.Key) *service {
	t.Helper()
	jwks := newJWKSServer(t, keys...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, err := bearer.RemoteKeys(ctx, bearer.RemoteOptions{URL: jwks.URL, UnknownKIDInterval: unknownKIDInterval})
	if err != nil {
		t.Fatal(err)
	}
	clk := testdouble.NewClock(time.Now())
	v, err := bearer.New(bearer.Options{Keys: store, Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(imageservice.New(v))
	t.Cleanup(srv.Close)
	return &service{Server: srv, jwks: jwks, clock: clk}
}

// claims returns valid claims for the image service granting access.
func claims(now time.Time, access ...string) bearer.Claims {
	return bearer.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "65f0c0ffee0123456789abcd",
			Audience:  jwt.ClaimStrings{testAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
			ID:        "jti-1",
		},
		Access: access,
	}
}

func mustSign(t testing.TB, k *tokenkeys.Key, c bearer.Claims) string {
	t.Helper()
	s, err := k.Sign(c, bearer.Typ)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signWith signs c as k would, after edit changes the header; method nil
// keeps k's own algorithm.
func signWith(t testing.TB, k *tokenkeys.Key, c bearer.Claims, edit func(h map[string]any)) string {
	t.Helper()
	raw := mustSign(t, k, c)
	parts := strings.Split(raw, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	json.Unmarshal(hb, &h)
	edit(h)
	// Re-sign the edited header with k's own method and key.
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), c)
	tok.Header = h
	s, err := tok.SignedString(privateOf(t, k))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func privateOf(t testing.TB, k *tokenkeys.Key) any {
	t.Helper()
	keyPEM, _, err := k.PEM()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(keyPEM)
	p, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	status int
	www    string
	body   string
}

func get(t testing.TB, target string, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)}
}

func auth(token string) []string { return []string{"Authorization", "Bearer " + token} }

// wantRefused checks an RFC 6750 refusal: status, the error code in the
// challenge (none when code is ""), and a one-line JSON body.
func wantRefused(t testing.TB, r result, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if !strings.HasPrefix(r.www, `Bearer realm="`) {
		t.Errorf("WWW-Authenticate %q, want a Bearer challenge", r.www)
	}
	if code == "" && strings.Contains(r.www, "error=") {
		t.Errorf("WWW-Authenticate %q has an error code, want none", r.www)
	}
	if code != "" && !strings.Contains(r.www, `error="`+code+`"`) {
		t.Errorf("WWW-Authenticate %q, want error=%q", r.www, code)
	}
	var body struct{ Error, ErrorDescription string }
	if strings.Count(r.body, "\n") != 1 || json.Unmarshal([]byte(r.body), &body) != nil || body.Error == "" {
		t.Errorf("body %q is not one line of JSON with an error", r.body)
	}
}

func TestServiceAcceptsGrantedRoutesOnly(t *testing.T) {
	for _, alg := range []string{tokenkeys.RS256, tokenkeys.ES256, tokenkeys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg, "a")
			svc := newService(t, time.Minute, k)
			tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
			if r := get(t, svc.URL+"/image", auth(tok)...); r.status != http.StatusOK || !strings.Contains(r.body, "65f0c0ffee0123456789abcd") {
				t.Fatalf("GET /image = %d %s", r.status, r.body)
			}
			r := get(t, svc.URL+"/image/metadata", auth(tok)...)
			wantRefused(t, r, http.StatusForbidden, "insufficient_scope")
			if !strings.Contains(r.www, `scope="/image/metadata"`) {
				t.Errorf("WWW-Authenticate %q, want the needed scope", r.www)
			}
		})
	}
}

func TestServiceRefusesBadTokens(t *testing.T) {
	k := testKey(t, tokenkeys.RS256, "a")
	ec := testKey(t, tokenkeys.ES256, "a")
	other := testKey(t, tokenkeys.RS256, "other") // never published
	svc := newService(t, time.Hour, k, ec)
	now := svc.clock.Now()
	ok := claims(now, "/image")
	with := func(f func(*bearer.Claims)) bearer.Claims { c := claims(now, "/image"); f(&c); return c }
	valid := mustSign(t, k, ok)
	parts := strings.Split(valid, ".")

	_, certPEM, _ := k.PEM()
	hsWithPEM := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, ok)
		tok.Header["typ"] = bearer.Typ
		tok.Header["kid"] = k.KID
		s, err := tok.SignedString(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hsWithPublicPEM := func() string {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, ok)
		tok.Header["typ"] = bearer.Typ
		tok.Header["kid"] = k.KID
		s, _ := tok.SignedString(pub)
		return s
	}()
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + k.KID + `"}`))
		return h + "." + parts[1] + "."
	}()
	// An ES256 key's kid on an RS256 token signed by the RSA key.
	rsWithECKid := signWith(t, k, ok, func(h map[string]any) { h["kid"] = ec.KID })
	// A token whose embedded jwk is the key that signed it.
	jwkHeader := signWith(t, other, ok, func(h map[string]any) {
		h["kid"] = k.KID
		h["jwk"] = map[string]any{"kty": "RSA"}
	})

	tests := []struct {
		name   string
		header []string
		status int
		code   string
	}{
		{"no header", nil, 401, ""},
		{"basic scheme", []string{"Authorization", "Basic YTpi"}, 401, ""},
		{"empty bearer", []string{"Authorization", "Bearer "}, 401, "invalid_token"},
		{"two tokens", []string{"Authorization", "Bearer " + valid + " " + valid}, 401, "invalid_token"},
		{"two headers", append(auth(valid), auth(valid)...), 400, "invalid_request"},
		{"garbage", auth("not.a.jwt"), 401, "invalid_token"},
		{"bad signature", auth(parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))), 401, "invalid_token"},
		{"payload swapped", auth(parts[0] + "." + strings.Split(mustSign(t, k, claims(now, "/image", "/image/metadata")), ".")[1] + "." + parts[2]), 401, "invalid_token"},
		{"expired", auth(mustSign(t, k, with(func(c *bearer.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-20 * time.Minute))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-bearer.DefaultLeeway - time.Second))
		}))), 401, "invalid_token"},
		{"nbf in the future", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(bearer.DefaultLeeway + time.Minute)) }))), 401, "invalid_token"},
		{"iat in the future", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(bearer.DefaultLeeway + time.Minute)) }))), 401, "invalid_token"},
		{"no exp", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.ExpiresAt = nil }))), 401, "invalid_token"},
		{"no iat", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.IssuedAt = nil }))), 401, "invalid_token"},
		{"no jti", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.ID = "" }))), 401, "invalid_token"},
		{"lives too long", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(2 * time.Hour)) }))), 401, "invalid_token"},
		{"wrong audience", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.Audience = jwt.ClaimStrings{"other-service"} }))), 401, "invalid_token"},
		{"wrong issuer", auth(mustSign(t, k, with(func(c *bearer.Claims) { c.Issuer = "http://evil.test" }))), 401, "invalid_token"},
		{"typ JWT", auth(signWith(t, k, ok, func(h map[string]any) { h["typ"] = "JWT" })), 401, "invalid_token"},
		{"no typ", auth(signWith(t, k, ok, func(h map[string]any) { delete(h, "typ") })), 401, "invalid_token"},
		{"no kid", auth(signWith(t, k, ok, func(h map[string]any) { delete(h, "kid") })), 401, "invalid_token"},
		{"alg none", auth(none), 401, "invalid_token"},
		{"HS256 with the certificate PEM as secret", auth(hsWithPEM), 401, "invalid_token"},
		{"HS256 with the public key PEM as secret", auth(hsWithPublicPEM), 401, "invalid_token"},
		{"RS256 token with an ES256 key's kid", auth(rsWithECKid), 401, "invalid_token"},
		{"jwk header", auth(jwkHeader), 401, "invalid_token"},
		{"jku header", auth(signWith(t, k, ok, func(h map[string]any) { h["jku"] = "https://evil.test/jwks.json" })), 401, "invalid_token"},
		{"x5u header", auth(signWith(t, k, ok, func(h map[string]any) { h["x5u"] = "https://evil.test/cert.pem" })), 401, "invalid_token"},
		{"x5c header", auth(signWith(t, k, ok, func(h map[string]any) { h["x5c"] = []string{"MIIB"} })), 401, "invalid_token"},
		{"unknown key", auth(mustSign(t, other, ok)), 401, "invalid_token"},
		{"forged kid", auth(signWith(t, other, ok, func(h map[string]any) { h["kid"] = k.KID })), 401, "invalid_token"},
		{"path kid", auth(signWith(t, k, ok, func(h map[string]any) { h["kid"] = "../../etc/passwd" })), 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRefused(t, get(t, svc.URL+"/image", tt.header...), tt.status, tt.code)
		})
	}
	t.Run("token in the query", func(t *testing.T) {
		wantRefused(t, get(t, svc.URL+"/image?access_token="+valid), 401, "")
	})
	t.Run("valid token still accepted", func(t *testing.T) {
		if r := get(t, svc.URL+"/image", auth(valid)...); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func TestServiceRefusesTokenAfterExpiry(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Hour, k)
	tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
	if r := get(t, svc.URL+"/image", auth(tok)...); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	svc.clock.Advance(10*time.Minute + bearer.DefaultLeeway + time.Second)
	r := get(t, svc.URL+"/image", auth(tok)...)
	wantRefused(t, r, 401, "invalid_token")
	if !strings.Contains(r.body, "expired") {
		t.Errorf("body %q does not say the token expired", r.body)
	}
}

func TestServicePathTricks(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Hour, k)
	tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
	tests := []struct {
		path   string
		status int
	}{
		{"/image", 200},
		{"/image/metadata", 403},
		{"/image/", 400},
		{"//image", 400},
		{"/image//metadata", 400},
		{"/image/./metadata", 400},
		{"/image/../image/metadata", 400},
		{"/image/%2e%2e/image/metadata", 400},
		{"/image/%2E%2E/image/metadata", 400},
		{"/image%2fmetadata", 400},
		{"/image%2Fmetadata", 400},
		{"/%69mage/metadata", 400},
		{"/image/metadata/..", 400},
		{"/image/metadata/", 400},
		{"/IMAGE/metadata", 403},
		{"/image.", 403},
		{"/image;/metadata", 403},
		{"/image\\..\\image/metadata", 400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, svc.URL+tt.path, auth(tok)...)
			if r.status != tt.status {
				t.Fatalf("GET %s = %d, want %d; body %s", tt.path, r.status, tt.status, r.body)
			}
		})
	}
}

// TestUnknownKIDFloodFetchesOnce: a flood of tokens with made-up kids
// causes at most one refresh of the key set per interval.
func TestUnknownKIDFloodFetchesOnce(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, bearer.DefaultUnknownKIDInterval, k)
	before := svc.jwks.fetches.Load()
	now := svc.clock.Now()
	forged := make([]string, 60)
	for i := range forged {
		forged[i] = signWith(t, k, claims(now, "/image"), func(h map[string]any) { h["kid"] = fmt.Sprintf("forged-%d", i) })
	}
	var wg sync.WaitGroup
	for i, tok := range forged {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, svc.URL+"/image", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("forged kid %d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := svc.jwks.fetches.Load() - before; n > 1 {
		t.Errorf("%d fetches of the key set for 60 unknown kids, want at most 1", n)
	}
	// Known keys keep working during and after the flood.
	if r := get(t, svc.URL+"/image", auth(mustSign(t, k, claims(now, "/image")))...); r.status != 200 {
		t.Errorf("valid token after the flood: %d", r.status)
	}
}

// TestRotation: old-key tokens verify while the old key is published and
// fail once it is removed; new-key tokens verify after the service
// refreshes on their unknown kid.
func TestRotation(t *testing.T) {
	oldKey := testKey(t, tokenkeys.RS256, "a")
	newKey := testKey(t, tokenkeys.ES256, "rotation")
	svc := newService(t, time.Millisecond, oldKey)
	now := svc.clock.Now()
	oldTok := mustSign(t, oldKey, claims(now, "/image"))
	newTok := mustSign(t, newKey, claims(now, "/image"))

	if r := get(t, svc.URL+"/image", auth(oldTok)...); r.status != 200 {
		t.Fatalf("old token before rotation: %d %s", r.status, r.body)
	}
	svc.jwks.publish(t, newKey, oldKey)
	time.Sleep(5 * time.Millisecond) // let the unknown-kid limiter refill
	if r := get(t, svc.URL+"/image", auth(newTok)...); r.status != 200 {
		t.Fatalf("new token after rotation: %d %s", r.status, r.body)
	}
	if r := get(t, svc.URL+"/image", auth(oldTok)...); r.status != 200 {
		t.Fatalf("old token while still published: %d %s", r.status, r.body)
	}

	svc.jwks.publish(t, newKey)
	// Any unknown kid makes the service refresh and drop the old key.
	time.Sleep(5 * time.Millisecond)
	get(t, svc.URL+"/image", auth(signWith(t, newKey, claims(now, "/image"), func(h map[string]any) { h["kid"] = "nudge" }))...)
	wantRefused(t, get(t, svc.URL+"/image", auth(oldTok)...), 401, "invalid_token")
	if r := get(t, svc.URL+"/image", auth(newTok)...); r.status != 200 {
		t.Fatalf("new token after the old key is gone: %d %s", r.status, r.body)
	}
}

// TestKeepsLastGoodKeys: when the issuer is down, cached keys still verify.
func TestKeepsLastGoodKeys(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Millisecond, k)
	now := svc.clock.Now()
	svc.jwks.setFailing(true)
	time.Sleep(5 * time.Millisecond)
	// An unknown kid triggers a refresh, which fails.
	before := svc.jwks.fetches.Load()
	get(t, svc.URL+"/image", auth(signWith(t, k, claims(now, "/image"), func(h map[string]any) { h["kid"] = "nudge" }))...)
	if svc.jwks.fetches.Load() == before {
		t.Fatal("the unknown kid did not trigger a refresh")
	}
	if r := get(t, svc.URL+"/image", auth(mustSign(t, k, claims(now, "/image")))...); r.status != 200 {
		t.Fatalf("cached key after a failed refresh: %d %s", r.status, r.body)
	}
}

func TestRemoteKeysRefusesPlainHTTP(t *testing.T) {
	for _, u := range []string{"http://example.com/jwks.json", "ftp://127.0.0.1/x", "not a url", ""} {
		if _, err := bearer.RemoteKeys(context.Background(), bearer.RemoteOptions{URL: u}); err == nil {
			t.Errorf("RemoteKeys(%q) = nil error", u)
		}
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	store, _ := tokenkeys.NewSet(testKey(t, tokenkeys.ES256, "a"))
	keys, _ := store.Storage()
	for name, o := range map[string]bearer.Options{
		"no keys":     {Issuer: "i", Audience: "a"},
		"no issuer":   {Keys: keys, Audience: "a"},
		"no audience": {Keys: keys, Issuer: "i"},
		"big leeway":  {Keys: keys, Issuer: "i", Audience: "a", Leeway: 2 * time.Minute},
	} {
		if _, err := bearer.New(o); err == nil {
			t.Errorf("%s: New = nil error", name)
		}
	}
}
