package devtwitter

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// errBadAuthData marks a missing or malformed OAuth 1.0a request (X code 215).
var errBadAuthData = errors.New("bad authentication data")

// param is one request parameter, decoded.
type param struct{ name, value string }

// oauthRequest is an OAuth 1.0a signed request as received (RFC 5849 §3).
type oauthRequest struct {
	method  string
	baseURI string
	params  []param           // every signed parameter (query, header, form), decoded
	oauth   map[string]string // protocol parameters (oauth_*) incl. oauth_signature
}

// percentEncode encodes s per RFC 5849 §3.6: UTF-8 bytes, only the
// unreserved characters A-Z a-z 0-9 - . _ ~ stay literal, everything else
// becomes %XX with upper-case hex (so a space is %20, never +).
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// baseStringURI is the base string URI (RFC 5849 §3.4.1.2) of the URL the
// client used for r: lower-case scheme and host, default port dropped,
// path as sent, no query.
func baseStringURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.Contains(port, ":") &&
		(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host = h
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

// signatureBase builds the signature base string (RFC 5849 §3.4.1).
func signatureBase(method, baseURI string, params []param) string {
	enc := make([]param, 0, len(params))
	for _, p := range params {
		enc = append(enc, param{percentEncode(p.name), percentEncode(p.value)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].name != enc[j].name {
			return enc[i].name < enc[j].name
		}
		return enc[i].value < enc[j].value
	})
	pairs := make([]string, len(enc))
	for i, p := range enc {
		pairs[i] = p.name + "=" + p.value
	}
	return strings.ToUpper(method) + "&" + percentEncode(baseURI) + "&" + percentEncode(strings.Join(pairs, "&"))
}

// hmacSHA1 returns base64(HMAC-SHA1(enc(consumerSecret)&enc(tokenSecret), base))
// (RFC 5849 §3.4.2).
func hmacSHA1(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verify reports whether req carries a valid HMAC-SHA1 signature made with
// the consumer secret and token secret, comparing in constant time.
func (req *oauthRequest) verify(consumerSecret, tokenSecret string) bool {
	want := hmacSHA1(signatureBase(req.method, req.baseURI, req.params), consumerSecret, tokenSecret)
	return hmac.Equal([]byte(want), []byte(req.oauth["oauth_signature"]))
}

// parseAuthorizationHeader parses the parameters of an "OAuth" Authorization
// header (RFC 5849 §3.5.1), decoding names and values. realm is dropped.
func parseAuthorizationHeader(h string) ([]param, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "OAuth") {
		return nil, fmt.Errorf("%w: authorization scheme is not OAuth", errBadAuthData)
	}
	var out []param
	for item := range strings.SplitSeq(rest, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("%w: malformed authorization parameter", errBadAuthData)
		}
		name, err1 := url.PathUnescape(strings.TrimSpace(k))
		value, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadAuthData, err)
		}
		if name == "realm" {
			continue
		}
		out = append(out, param{name, value})
	}
	return out, nil
}

// parseOAuthRequest collects the parameters of a signed request (RFC 5849
// §3.4.1.3.1): the query, the Authorization header minus realm, and the body
// only when it is application/x-www-form-urlencoded. oauth_signature is kept
// in oauth but not in params. It checks that the required protocol
// parameters are present exactly once and wraps errBadAuthData otherwise.
func parseOAuthRequest(r *http.Request) (*oauthRequest, error) {
	req := &oauthRequest{method: r.Method, baseURI: baseStringURI(r), oauth: map[string]string{}}
	var all []param
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query: %w", errBadAuthData, err)
	}
	all = appendValues(all, q)
	if h := r.Header.Get("Authorization"); h != "" {
		hp, err := parseAuthorizationHeader(h)
		if err != nil {
			return nil, err
		}
		all = append(all, hp...)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("%w: body: %w", errBadAuthData, err)
		}
		all = appendValues(all, r.PostForm)
	}
	for _, p := range all {
		if strings.HasPrefix(p.name, "oauth_") {
			// RFC 5849 §3.1: protocol parameters must not appear twice.
			if _, dup := req.oauth[p.name]; dup {
				return nil, fmt.Errorf("%w: duplicate %s", errBadAuthData, p.name)
			}
			req.oauth[p.name] = p.value
		}
		if p.name != "oauth_signature" {
			req.params = append(req.params, p)
		}
	}
	for _, name := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_signature", "oauth_timestamp", "oauth_nonce"} {
		if req.oauth[name] == "" {
			return nil, fmt.Errorf("%w: missing %s", errBadAuthData, name)
		}
	}
	if m := req.oauth["oauth_signature_method"]; m != "HMAC-SHA1" {
		return nil, fmt.Errorf("%w: unsupported signature method %q", errBadAuthData, m)
	}
	if v, ok := req.oauth["oauth_version"]; ok && v != "1.0" {
		return nil, fmt.Errorf("%w: unsupported oauth_version %q", errBadAuthData, v)
	}
	return req, nil
}

func appendValues(dst []param, v url.Values) []param {
	for name, values := range v {
		for _, value := range values {
			dst = append(dst, param{name, value})
		}
	}
	return dst
}
