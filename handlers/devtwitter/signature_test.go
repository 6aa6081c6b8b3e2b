package devtwitter

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// X's "Creating a signature" example (twitter-api.md §1.2).
const (
	xConsumerKey    = "xvz1evFS4wEEPTGEFPHBog"
	xConsumerSecret = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
	xToken          = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
	xTokenSecret    = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
	xNonce          = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"
	xTimestamp      = "1318622958"
	xSignature      = "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="
	xBody           = "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"
)

func TestSignature_XVector(t *testing.T) {
	params := []param{
		{"include_entities", "true"},
		{"status", "Hello Ladies + Gentlemen, a signed OAuth request!"},
		{"oauth_consumer_key", xConsumerKey},
		{"oauth_nonce", xNonce},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", xTimestamp},
		{"oauth_token", xToken},
		{"oauth_version", "1.0"},
	}
	tests := []struct {
		name, baseURI, want string
	}{
		{"api.x.com", "https://api.x.com/1.1/statuses/update.json", xSignature},
		{"legacy api.twitter.com", "https://api.twitter.com/1.1/statuses/update.json", "hCtSmYh+iHYCEqBWrE7C7hYmtUk="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hmacSHA1(signatureBase("post", tc.baseURI, params), xConsumerSecret, xTokenSecret); got != tc.want {
				t.Errorf("signature = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSignature_XVectorVerified runs X's example through the request
// parser: header + query + form body, https with the default port.
func TestSignature_XVectorVerified(t *testing.T) {
	header := `OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", ` +
		`oauth_signature="` + percentEncode(xSignature) + `", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", ` +
		`oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0", realm="ignored"`
	tests := []struct {
		name, target, contentType string
		want                      bool
	}{
		{"as sent", "https://api.x.com/1.1/statuses/update.json?include_entities=true", "application/x-www-form-urlencoded", true},
		{"explicit default port", "https://api.x.com:443/1.1/statuses/update.json?include_entities=true", "application/x-www-form-urlencoded", true},
		{"body not form so not signed", "https://api.x.com/1.1/statuses/update.json?include_entities=true", "text/plain", false},
		{"query missing", "https://api.x.com/1.1/statuses/update.json", "application/x-www-form-urlencoded", false},
		{"other host", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true", "application/x-www-form-urlencoded", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tc.target, strings.NewReader(xBody))
			r.Header.Set("Content-Type", tc.contentType)
			r.Header.Set("Authorization", header)
			req, err := parseOAuthRequest(r)
			if err != nil {
				t.Fatalf("parseOAuthRequest: %v", err)
			}
			if got := req.verify(xConsumerSecret, xTokenSecret); got != tc.want {
				t.Errorf("verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abcXYZ019-._~", "abcXYZ019-._~"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"*", "%2A"},
		{"Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"},
		{"a/b=c&d", "a%2Fb%3Dc%26d"},
		{"é☃", "%C3%A9%E2%98%83"},
		{"http://127.0.0.1:8081/cb?x=1", "http%3A%2F%2F127.0.0.1%3A8081%2Fcb%3Fx%3D1"},
	}
	for _, tc := range tests {
		if got := percentEncode(tc.in); got != tc.want {
			t.Errorf("percentEncode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseAuthorizationHeader_Malformed(t *testing.T) {
	tests := []struct{ name, header string }{
		{"wrong scheme", `Bearer abc`},
		{"unquoted value", `OAuth oauth_consumer_key=abc`},
		{"no value", `OAuth oauth_consumer_key`},
		{"bad escape", `OAuth oauth_consumer_key="%zz"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseAuthorizationHeader(tc.header); err == nil {
				t.Errorf("parseAuthorizationHeader(%q) succeeded, want error", tc.header)
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := s256(verifier); got != challenge {
		t.Fatalf("s256(RFC 7636 verifier) = %q, want %q", got, challenge)
	}
	tests := []struct {
		name, verifier, challenge, method string
		want                              bool
	}{
		{"S256 ok", verifier, challenge, "S256", true},
		{"S256 wrong verifier", strings.Replace(verifier, "d", "e", 1), challenge, "S256", false},
		{"plain ok", verifier, verifier, "plain", true},
		{"plain mismatch", verifier, challenge, "plain", false},
		{"too short", "abc", s256("abc"), "S256", false},
		{"bad character", verifier[:42] + "+", s256(verifier[:42] + "+"), "S256", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pkceMatches(tc.verifier, tc.challenge, tc.method); got != tc.want {
				t.Errorf("pkceMatches = %v, want %v", got, tc.want)
			}
		})
	}
}
