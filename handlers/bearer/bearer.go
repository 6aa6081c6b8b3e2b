// Package bearer verifies service tokens (JWT access tokens, RFC 9068
// profile with an "access" claim listing granted routes) and guards HTTP
// routes with them. Any service can use it: it needs only the issuer's
// public keys, fetched from its JWK Set URL (RemoteKeys) or given in
// memory.
//
// Verification is strict: the algorithm is pinned to the key's type (RS256
// for RSA keys of at least 2048 bits, ES256 for P-256, EdDSA for Ed25519;
// never HS* or none), the kid header is required and only looks up a key
// in the configured set, tokens that carry jku, jwk, x5u, x5c or crit
// headers are refused, typ must be at+jwt, and iss, aud, exp (required),
// nbf and iat are checked with a small leeway. Grants match the cleaned
// request path exactly: "/image" grants /image and nothing under it.
package bearer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	// Typ is the JOSE typ of service tokens (RFC 9068 §2.1).
	Typ = "at+jwt"
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway caps Options.Leeway (security.md S85).
	MaxLeeway = time.Minute
	// DefaultMaxLifetime is the longest exp - iat accepted.
	DefaultMaxLifetime = time.Hour
	// maxKIDLen bounds the kid looked up in the key set.
	maxKIDLen = 128
)

// validMethods are the only algorithms a token may name.
var validMethods = []string{"RS256", "ES256", "EdDSA"}

// Claims are the claims of a service token.
type Claims struct {
	jwt.RegisteredClaims
	// Access lists the routes the token grants, as clean absolute paths.
	Access []string `json:"access"`
}

// Options configure a Verifier.
type Options struct {
	// Keys holds the issuer's public keys by kid: RemoteKeys for another
	// service, an in-memory set for the issuer itself. Required.
	Keys jwkset.Storage
	// Issuer is the required iss. Required.
	Issuer string
	// Audience is this service's id, which aud must contain. Required.
	Audience string
	// Realm names the protected resource in WWW-Authenticate; default
	// Audience.
	Realm string
	// Leeway tolerates clock skew; default DefaultLeeway, at most MaxLeeway.
	Leeway time.Duration
	// MaxLifetime refuses tokens whose exp - iat is longer; default
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Roots, if set, are the certificate authorities a key's x5c chain
	// must lead to: a key without x5c, or whose chain does not verify to
	// one of them, is refused. Unset, a key is trusted for being in Keys.
	Roots *x509.CertPool
}

// Verifier checks service tokens. Build it with New; it is safe for
// concurrent use.
type Verifier struct {
	keys        jwkset.Storage
	realm       string
	maxLifetime time.Duration
	leeway      time.Duration
	now         func() time.Time
	roots       *x509.CertPool // nil: x5c chains are not verified
	parser      *jwt.Parser
}

// New makes a Verifier. It fails if Keys, Issuer or Audience is missing or
// Leeway is over MaxLeeway.
func New(o Options) (*Verifier, error) {
	switch {
	case o.Keys == nil:
		return nil, errors.New("bearer: Options.Keys is required")
	case o.Issuer == "":
		return nil, errors.New("bearer: Options.Issuer is required")
	case o.Audience == "":
		return nil, errors.New("bearer: Options.Audience is required")
	case o.Leeway < 0 || o.Leeway > MaxLeeway:
		return nil, fmt.Errorf("bearer: Options.Leeway must be between 0 and %s, but is %s", MaxLeeway, o.Leeway)
	}
	v := &Verifier{keys: o.Keys, realm: o.Realm, maxLifetime: o.MaxLifetime, leeway: o.Leeway, now: o.Now, roots: o.Roots}
	if v.realm == "" {
		v.realm = o.Audience
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.maxLifetime <= 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(validMethods),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Realm returns the realm named in this verifier's challenges.
func (v *Verifier) Realm() string { return v.realm }

// Verify checks a raw token and returns its claims. Every refusal is an
// *Error with status 401 and code invalid_token, whose description says
// why in a few words (never echoing the token).
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	var c Claims
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		return nil, invalidToken(describe(err), err)
	}
	switch {
	case c.Subject == "":
		return nil, invalidToken("the token has no subject", nil)
	case c.ID == "":
		return nil, invalidToken("the token has no jti", nil)
	case c.IssuedAt == nil:
		return nil, invalidToken("the token has no iat", nil)
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > v.maxLifetime:
		return nil, invalidToken("the token lives longer than allowed", nil)
	}
	return &c, nil
}

// key is the jwt.Keyfunc: it checks the header, finds the key by kid and
// pins the algorithm to the key's type. It only ever returns an RSA,
// ECDSA P-256 or Ed25519 public key, never bytes, so no HMAC verification
// can happen on this path (security.md S12).
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	for _, h := range []string{"jku", "jwk", "x5u", "x5c", "crit"} {
		if _, ok := t.Header[h]; ok {
			return nil, fmt.Errorf("%w: the token carries a %q header", errHeader, h)
		}
	}
	if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, Typ) && !strings.EqualFold(typ, "application/"+Typ) {
		return nil, fmt.Errorf("%w: typ must be %s, but is %q", errHeader, Typ, typ)
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" || len(kid) > maxKIDLen {
		return nil, fmt.Errorf("%w: the token has no usable kid", errHeader)
	}
	jwk, err := v.keys.KeyRead(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
	}
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("%w: key %s is not for signatures", errKeyAlg, kid)
	}
	pub := jwk.Key()
	if p, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = p.Public()
	}
	var alg string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key %s is under 2048 bits", errKeyAlg, kid)
		}
		alg = "RS256"
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key %s is not on P-256", errKeyAlg, kid)
		}
		alg = "ES256"
	case ed25519.PublicKey:
		alg = "EdDSA"
	default:
		return nil, fmt.Errorf("%w: key %s has unsupported type %T", errKeyAlg, kid, pub)
	}
	if a := string(m.ALG); a != "" && a != alg {
		return nil, fmt.Errorf("%w: key %s says alg %s but is a %s key", errKeyAlg, kid, a, alg)
	}
	if t.Method.Alg() != alg {
		return nil, fmt.Errorf("%w: the token says %s but key %s is %s", errKeyAlg, t.Method.Alg(), kid, alg)
	}
	// A key whose certificate is outside its validity period is unusable
	// (security.md S78).
	x5c := jwk.X509().X5C
	if len(x5c) > 0 {
		now := v.now()
		if now.Before(x5c[0].NotBefore) || now.After(x5c[0].NotAfter) {
			return nil, fmt.Errorf("%w: the certificate of key %s is not valid now", errKeyAlg, kid)
		}
	}
	if v.roots != nil {
		if err := v.verifyChain(x5c); err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", errKeyAlg, kid, err)
		}
	}
	return pub, nil
}

// verifyChain checks that an x5c chain (leaf first) leads to one of the
// configured roots now.
func (v *Verifier) verifyChain(x5c []*x509.Certificate) error {
	if len(x5c) == 0 {
		return errors.New("no x5c chain to verify against the configured roots")
	}
	inter := x509.NewCertPool()
	for _, c := range x5c[1:] {
		inter.AddCert(c)
	}
	_, err := x5c[0].Verify(x509.VerifyOptions{
		Roots: v.roots, Intermediates: inter, CurrentTime: v.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("the x5c chain does not lead to a configured root: %w", err)
	}
	return nil
}

var (
	errHeader     = errors.New("bad token header")
	errUnknownKey = errors.New("unknown key")
	errKeyAlg     = errors.New("key and algorithm do not match")
)

// describe turns a parse failure into a short reason for the client.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, errUnknownKey):
		return "the token is signed with an unknown key"
	case errors.Is(err, errHeader):
		return "the token header is not acceptable"
	case errors.Is(err, errKeyAlg), errors.Is(err, jwt.ErrTokenSignatureInvalid),
		errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is issued in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is for another audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is from another issuer"
	default:
		return "the token is invalid"
	}
}
