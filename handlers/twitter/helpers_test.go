package twitter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Secrets the tests hand to the client; no error text may contain them.
const (
	testToken          = "tok-SECRET-access"
	testSecret         = "sec-SECRET-token"
	testRefresh        = "ref-SECRET-refresh"
	testConsumerSecret = "cs-SECRET-consumer"
	testClientSecret   = "cl-SECRET-client"
	testVerifier       = "ver-SECRET-verifier"
	testCode           = "code-SECRET-code"
)

var secrets = []string{testToken, testSecret, testRefresh, testConsumerSecret, testClientSecret, testVerifier, testCode}

// echoServer is Twitter answering every request with status, headers and
// body, followed by an echo of everything it was sent, as a careless
// provider's error page might.
func echoServer(t *testing.T, status int, contentType, body string, header http.Header) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, _ := io.ReadAll(r.Body)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		if strings.HasPrefix(contentType, "application/json") && status >= 400 {
			// Keep the JSON valid: the echo goes into a field.
			body = strings.TrimSuffix(body, "}") + `,"echo":"` + r.URL.RawQuery + " " + strings.ReplaceAll(r.Header.Get("Authorization"), `"`, "'") + " " + string(sent) + `"}`
		} else if status >= 400 {
			body += " " + r.URL.RawQuery + " " + r.Header.Get("Authorization") + " " + string(sent)
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return newTestClient(srv.URL)
}

// newTestClient is a client of both flows against base, with the test secrets.
func newTestClient(base string) *Client {
	return New(Config{
		APIBase: base, AuthorizeBase: base,
		ConsumerKey: "ck", ConsumerSecret: testConsumerSecret, OAuth1CallbackURL: "http://app.test/auth/oauth1/callback",
		ClientID: "cid", ClientSecret: testClientSecret, OAuth2RedirectURL: "http://app.test/auth/oauth2/callback",
		OfflineAccess: true,
		HTTPClient:    NewHTTPClient(5 * time.Second),
	})
}

// wantRedacted fails if err's text has a secret, a body or a URL in it.
func wantRedacted(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range append(secrets, "http://", "message", "echo", "<html>", "Could not authenticate") {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
	if !strings.HasPrefix(msg, "twitter: ") {
		t.Errorf("error %q has no package prefix", msg)
	}
}
