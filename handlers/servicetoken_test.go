package handlers

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
	"testing"
	"time"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/imageservice"
	"example.com/twitterlogin/handlers/tokenkeys"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

var (
	appKeysOnce sync.Once
	appKeys     *tokenkeys.Set
)

// testTokenKeys is one RS256 key set per test binary (RSA key generation
// is slow under -race).
func testTokenKeys(t testing.TB) *tokenkeys.Set {
	t.Helper()
	appKeysOnce.Do(func() {
		k, err := tokenkeys.Generate(tokenkeys.RS256, time.Now().Add(-time.Hour), 48*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		appKeys, _ = tokenkeys.NewSet(k)
	})
	if appKeys == nil {
		t.Fatal("no test token keys")
	}
	return appKeys
}

// newTokenHarness is an app with service tokens on and a store that gives
// new users the "user" role, as cmd/server wires it.
func newTokenHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	srv := storetest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: storetest.DatabaseName(), Timeout: storetest.StoreTimeout, DefaultRoles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	return newHarness(t, harnessOptions{store: store, tokenKeys: testTokenKeys(t), env: env})
}

// serviceToken asks the app for a token as the signed-in browser.
func (b *browser) serviceToken(audience string, access ...string) string {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"access": access, "audience": audience})
	r := b.post("/token", "application/json", string(body))
	if r.StatusCode != http.StatusOK {
		b.t.Fatalf("POST /token: status %d, want 200; body %s", r.StatusCode, r.body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.AccessToken == "" {
		b.t.Fatalf("POST /token body %s", r.body)
	}
	if out.TokenType != "Bearer" || out.ExpiresIn != 600 {
		b.t.Errorf("token_type %q expires_in %d, want Bearer and 600", out.TokenType, out.ExpiresIn)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		b.t.Errorf("Cache-Control %q, want no-store", cc)
	}
	return out.AccessToken
}

// startImageService runs the demo image service in-process, knowing only
// the app's JWK Set URL, issuer and its audience.
func startImageService(t *testing.T, h *harness) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := bearer.RemoteKeys(ctx, bearer.RemoteOptions{URL: h.app.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearer.New(bearer.Options{Keys: keys, Issuer: h.cfg.PublicURL.String(), Audience: imageservice.Audience, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc := httptest.NewServer(imageservice.New(v))
	t.Cleanup(svc.Close)
	return svc
}

// bearerGet calls url with the token and no cookies.
func bearerDo(t *testing.T, method, url, token, contentType, body string) *response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(b)}
}

func TestServiceTokenEndToEnd(t *testing.T) {
	h := newTokenHarness(t, nil)
	b := h.browser()
	b.login("oauth2", "1001")
	tok := b.serviceToken("image-service", "/image")

	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var header map[string]any
	json.Unmarshal(raw, &header)
	signing, _ := h.srv.tokenKeys.Signing(h.clock.Now())
	if header["typ"] != "at+jwt" || header["alg"] != "RS256" || header["kid"] != signing.KID || header["x5t#S256"] != signing.X5TS256 {
		t.Errorf("header %v", header)
	}
	c := claims(t, tok)
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "access"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %q missing from %v", k, c)
		}
	}
	if c["sub"] != b.userID().Hex() || c["iss"] != h.cfg.PublicURL.String() {
		t.Errorf("sub %v iss %v", c["sub"], c["iss"])
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 600 {
		t.Errorf("exp - iat = %v, want 600", exp-iat)
	}

	svc := startImageService(t, h)
	r := bearerDo(t, "GET", svc.URL+"/image", tok, "", "")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, b.userID().Hex()) {
		t.Errorf("/image body %s does not name the user", r.body)
	}
	r = bearerDo(t, "GET", svc.URL+"/image/metadata", tok, "", "")
	wantStatus(t, r, http.StatusForbidden)
	if www := r.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="insufficient_scope"`) {
		t.Errorf("WWW-Authenticate %q", www)
	}
	r = bearerDo(t, "GET", svc.URL+"/image/../image/metadata", tok, "", "")
	if r.StatusCode == http.StatusOK {
		t.Errorf("path trick got through: %s", r.body)
	}

	h.clock.Advance(10*time.Minute + bearer.DefaultLeeway + time.Second)
	r = bearerDo(t, "GET", svc.URL+"/image", tok, "", "")
	wantStatus(t, r, http.StatusUnauthorized)
	if www := r.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q after expiry", www)
	}
	if logs := h.logs.String(); strings.Contains(logs, tok) || strings.Contains(logs, parts[2]) {
		t.Error("the token is in the logs")
	}
}

func TestTokenPolicy(t *testing.T) {
	h := newTokenHarness(t, nil)
	b := h.browser()
	b.login("oauth2", "1001")
	if roles := h.user(b.userID()).Roles; len(roles) != 1 || roles[0] != "user" {
		t.Fatalf("new user roles %v, want [user]", roles)
	}

	tests := []struct {
		name        string
		contentType string
		body        string
		header      []string
		status      int
		says        string
	}{
		{"over-asking", "application/json", `{"access":["/image","/image/metadata"],"audience":"image-service"}`, nil, 403, "/image/metadata"},
		{"unknown audience", "application/json", `{"access":["/image"],"audience":"billing"}`, nil, 403, "billing"},
		{"app route for the image service", "application/json", `{"access":["/db"],"audience":"image-service"}`, nil, 403, "/db"},
		{"nothing asked", "application/json", `{"access":[],"audience":"image-service"}`, nil, 400, "at least one route"},
		{"no access field", "application/json", `{"audience":"image-service"}`, nil, 400, "at least one route"},
		{"no audience", "application/json", `{"access":["/image"]}`, nil, 400, "audience"},
		{"unclean route", "application/json", `{"access":["/image/../image/metadata"],"audience":"image-service"}`, nil, 400, "clean"},
		{"trailing slash", "application/json", `{"access":["/image/"],"audience":"image-service"}`, nil, 400, "clean"},
		{"unknown field", "application/json", `{"access":["/image"],"audience":"image-service","scope":"admin"}`, nil, 400, "no other fields"},
		{"access not strings", "application/json", `{"access":[{"$gt":""}],"audience":"image-service"}`, nil, 400, ""},
		{"two objects", "application/json", `{"access":["/image"],"audience":"image-service"}{}`, nil, 400, "exactly one"},
		{"form body", "application/x-www-form-urlencoded", `access=/image`, nil, 415, ""},
		{"too large", "application/json", `{"access":["/image"],"audience":"` + strings.Repeat("a", tokenBodyLimit) + `"}`, nil, 413, ""},
		{"cross-origin", "application/json", `{"access":["/image"],"audience":"image-service"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
		{"cross-origin by Origin", "application/json", `{"access":["/image"],"audience":"image-service"}`, []string{"Origin", "https://evil.example"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post("/token", tt.contentType, tt.body, tt.header...)
			wantStatus(t, r, tt.status)
			if tt.says != "" && !strings.Contains(r.body, tt.says) {
				t.Errorf("body %s does not mention %q", r.body, tt.says)
			}
			if strings.Contains(r.body, "access_token") {
				t.Errorf("refusal carries a token: %s", r.body)
			}
		})
	}

	t.Run("signed out", func(t *testing.T) {
		r := h.browser().post("/token", "application/json", `{"access":["/image"],"audience":"image-service"}`)
		wantJSONError(t, r, http.StatusUnauthorized)
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		wantStatus(t, b.get("/token"), http.StatusMethodNotAllowed)
	})
	t.Run("more roles, more routes", func(t *testing.T) {
		h2 := newTokenHarness(t, map[string]string{
			"TOKEN_ROLES": `{"user":{"image-service":["/image"]},"admin":{"image-service":["/image/metadata"]}}`,
		})
		b2 := h2.browser()
		b2.login("oauth2", "1002")
		wantStatus(t, b2.post("/token", "application/json", `{"access":["/image/metadata"],"audience":"image-service"}`), 403)
		if err := h2.store.SetUserRoles(context.Background(), b2.userID(), []string{"user", "admin"}); err != nil {
			t.Fatal(err)
		}
		tok := b2.serviceToken("image-service", "/image", "/image/metadata", "/image")
		if got := claims(t, tok)["access"]; len(got.([]any)) != 2 {
			t.Errorf("access %v, want the two routes once each", got)
		}
	})
}

func TestPublishedKeys(t *testing.T) {
	h := newTokenHarness(t, nil)
	b := h.browser()
	r := b.get("/.well-known/jwks.json")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS %s", r.body)
	}
	jk := doc.Keys[0]
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := jk[private]; ok {
			t.Errorf("JWKS publishes %q", private)
		}
	}

	r = b.get("/.well-known/token-cert.pem")
	wantStatus(t, r, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	block, _ := pem.Decode([]byte(r.body))
	if block == nil {
		t.Fatalf("token-cert.pem: %s", r.body)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(jk["x5c"].([]any)[0].(string))
	leaf, err := x509.ParseCertificate(der)
	if err != nil || !leaf.Equal(cert) {
		t.Fatalf("x5c[0] is not the published certificate (%v)", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("x5c does not verify against the PEM: %v", err)
	}
	if kid, _ := tokenkeys.Thumbprint(cert.PublicKey); kid != jk["kid"] {
		t.Errorf("kid %v, certificate thumbprint %s", jk["kid"], kid)
	}
}

func TestTokensOffWithoutKeys(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	wantStatus(t, b.get("/.well-known/jwks.json"), http.StatusNotFound)
	b.login("oauth2", "1001")
	wantStatus(t, b.post("/token", "application/json", `{"access":["/image"],"audience":"image-service"}`), http.StatusNotFound)
}

func TestDBWithBearerToken(t *testing.T) {
	h := newTokenHarness(t, map[string]string{
		"TOKEN_AUDIENCE": "twitterlogin-api",
		"TOKEN_ROLES":    `{"user":{"twitterlogin-api":["/db","/elsewhere"],"image-service":["/image"]}}`,
	})
	b := h.browser()
	b.login("oauth2", "1001")
	tok := b.serviceToken("twitterlogin-api", "/db")
	uid := b.userID()
	db := h.app.URL + "/db"

	r := bearerDo(t, "POST", db, tok, "application/json", `{"text":"from a script"}`)
	wantStatus(t, r, http.StatusCreated)
	r = bearerDo(t, "GET", db, tok, "", "")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, "from a script") {
		t.Errorf("GET /db with bearer = %s", r.body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	// The browser sees the record too: same user.
	if r := b.get("/db"); !strings.Contains(r.body, "from a script") {
		t.Errorf("browser GET /db = %s", r.body)
	}

	refusals := []struct {
		name, method, token, contentType, body string
		status                                 int
		code                                   string
	}{
		{"no token and no cookie", "GET", "", "", "", 401, ""},
		{"garbage token", "GET", "garbage", "", "", 401, "invalid_token"},
		{"token for another audience", "GET", b.serviceToken("image-service", "/image"), "", "", 401, "invalid_token"},
		{"token for another route", "GET", b.serviceToken("twitterlogin-api", "/elsewhere"), "", "", 403, "insufficient_scope"},
		{"form body", "POST", tok, "application/x-www-form-urlencoded", "text=hi", 415, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := bearerDo(t, tt.method, db, tt.token, tt.contentType, tt.body)
			wantStatus(t, r, tt.status)
			www := r.Header.Get("WWW-Authenticate")
			if tt.status != 415 && tt.token != "" && !strings.Contains(www, `error="`+tt.code+`"`) {
				t.Errorf("WWW-Authenticate %q, want error=%q", www, tt.code)
			}
		})
	}

	t.Run("a bearer token beats a cookie", func(t *testing.T) {
		r := b.get("/db", "Authorization", "Bearer garbage")
		wantJSONError(t, r, http.StatusUnauthorized)
		if b.cookie(sessionCookie) == "" {
			t.Error("a refused bearer token cleared the session cookie")
		}
	})
	t.Run("deleted user", func(t *testing.T) {
		if err := h.store.DeleteUser(context.Background(), uid); err != nil {
			t.Fatal(err)
		}
		r := bearerDo(t, "GET", db, tok, "", "")
		wantJSONError(t, r, http.StatusUnauthorized)
		if www := r.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", www)
		}
	})
}
