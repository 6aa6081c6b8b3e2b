package bearer_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
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
