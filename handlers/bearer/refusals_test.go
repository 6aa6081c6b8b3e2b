package bearer_test

// The tokens TestServiceRefusesBadTokens expects the service to refuse,
// by what is wrong with them.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/tokenkeys"
)

// authHeaderRefusals are Authorization headers that carry no single
// well-formed bearer token; valid is a token that would be accepted.
func authHeaderRefusals(valid string) []refusal {
	return []refusal{
		{"no header", nil, 401, ""},
		{"basic scheme", []string{"Authorization", "Basic YTpi"}, 401, ""},
		{"empty bearer", []string{"Authorization", "Bearer "}, 401, "invalid_token"},
		{"two tokens", []string{"Authorization", "Bearer " + valid + " " + valid}, 401, "invalid_token"},
		{"two headers", append(auth(valid), auth(valid)...), 400, "invalid_request"},
		{"garbage", auth("not.a.jwt"), 401, "invalid_token"},
	}
}

// claimRefusals are tokens signed by the published key k whose signature
// does not match, or whose claims are wrong at now; valid is a token k
// signed for /image.
func claimRefusals(t *testing.T, k *tokenkeys.Key, now time.Time, valid string) []refusal {
	t.Helper()
	parts := strings.Split(valid, ".")
	with := func(f func(*bearer.Claims)) bearer.Claims { c := claims(now, "/image"); f(&c); return c }
	return []refusal{
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
	}
}

// typKidRefusals are tokens with good claims ok, signed by k, whose header
// lacks or misstates typ or kid.
func typKidRefusals(t *testing.T, k *tokenkeys.Key, ok bearer.Claims) []refusal {
	t.Helper()
	return []refusal{
		{"typ JWT", auth(signWith(t, k, ok, func(h map[string]any) { h["typ"] = "JWT" })), 401, "invalid_token"},
		{"no typ", auth(signWith(t, k, ok, func(h map[string]any) { delete(h, "typ") })), 401, "invalid_token"},
		{"no kid", auth(signWith(t, k, ok, func(h map[string]any) { delete(h, "kid") })), 401, "invalid_token"},
	}
}

// algRefusals are algorithm-confusion tokens with good claims ok and k's
// kid: unsigned, HMAC keyed with k's public material, or naming the ES256
// key ec; valid is a token k signed with ok.
func algRefusals(t *testing.T, k, ec *tokenkeys.Key, ok bearer.Claims, valid string) []refusal {
	t.Helper()
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
		return h + "." + strings.Split(valid, ".")[1] + "."
	}()
	// An ES256 key's kid on an RS256 token signed by the RSA key.
	rsWithECKid := signWith(t, k, ok, func(h map[string]any) { h["kid"] = ec.KID })
	return []refusal{
		{"alg none", auth(none), 401, "invalid_token"},
		{"HS256 with the certificate PEM as secret", auth(hsWithPEM), 401, "invalid_token"},
		{"HS256 with the public key PEM as secret", auth(hsWithPublicPEM), 401, "invalid_token"},
		{"RS256 token with an ES256 key's kid", auth(rsWithECKid), 401, "invalid_token"},
	}
}

// keyRefusals are tokens with good claims ok that point at a key other
// than the published k (embedded or remote keys, a forged or path kid),
// or are signed by other, which is never published.
func keyRefusals(t *testing.T, k, other *tokenkeys.Key, ok bearer.Claims) []refusal {
	t.Helper()
	// A token whose embedded jwk is the key that signed it.
	jwkHeader := signWith(t, other, ok, func(h map[string]any) {
		h["kid"] = k.KID
		h["jwk"] = map[string]any{"kty": "RSA"}
	})
	return []refusal{
		{"jwk header", auth(jwkHeader), 401, "invalid_token"},
		{"jku header", auth(signWith(t, k, ok, func(h map[string]any) { h["jku"] = "https://evil.test/jwks.json" })), 401, "invalid_token"},
		{"x5u header", auth(signWith(t, k, ok, func(h map[string]any) { h["x5u"] = "https://evil.test/cert.pem" })), 401, "invalid_token"},
		{"x5c header", auth(signWith(t, k, ok, func(h map[string]any) { h["x5c"] = []string{"MIIB"} })), 401, "invalid_token"},
		{"unknown key", auth(mustSign(t, other, ok)), 401, "invalid_token"},
		{"forged kid", auth(signWith(t, other, ok, func(h map[string]any) { h["kid"] = k.KID })), 401, "invalid_token"},
		{"path kid", auth(signWith(t, k, ok, func(h map[string]any) { h["kid"] = "../../etc/passwd" })), 401, "invalid_token"},
	}
}
