package twitter

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// call runs one step of the client with the test secrets.
type call func(ctx context.Context, c *Client) error

var (
	callRequestToken = func(ctx context.Context, c *Client) error { _, _, err := c.RequestToken(ctx); return err }
	callAccessToken  = func(ctx context.Context, c *Client) error {
		_, _, err := c.AccessToken(ctx, testToken, testSecret, testVerifier)
		return err
	}
	callExchange = func(ctx context.Context, c *Client) error {
		_, err := c.Exchange(ctx, testCode, testVerifier)
		return err
	}
	callRefresh = func(ctx context.Context, c *Client) error { _, err := c.Refresh(ctx, testRefresh); return err }
	callVerify  = func(ctx context.Context, c *Client) error {
		_, err := c.VerifyCredentials(ctx, testToken, testSecret)
		return err
	}
	callUsersMe    = func(ctx context.Context, c *Client) error { _, err := c.UsersMe(ctx, testToken); return err }
	callRevoke     = func(ctx context.Context, c *Client) error { return c.Revoke(ctx, testRefresh, "refresh_token") }
	callInvalidate = func(ctx context.Context, c *Client) error { return c.InvalidateToken(ctx, testToken, testSecret) }
)

// errorCase is one answer of Twitter to one call, and what the error
// must say about it.
type errorCase struct {
	name        string
	do          call
	status      int
	contentType string
	body        string
	header      http.Header
	// want checks the typed error.
	want func(t *testing.T, err error)
}

// errorCases are the refusals of every call, with bodies as Twitter (or a
// worse-behaved Twitter) sends them.
func errorCases() []errorCase {
	const (
		form = "application/x-www-form-urlencoded"
		js   = "application/json"
	)
	reset := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	return []errorCase{
		{"request token 401 code 32", callRequestToken, 401, js, `{"errors":[{"code":32,"message":"Could not authenticate you."}]}`, nil,
			wantToken(401, 32, "")},
		{"request token 403 code 415", callRequestToken, 403, js, `{"errors":[{"code":415,"message":"Callback URL not approved"}]}`, nil,
			wantToken(403, 415, "")},
		{"request token 500 html", callRequestToken, 500, "text/html", "<html>oops</html>", nil, wantToken(500, 0, "")},
		{"request token callback not confirmed", callRequestToken, 200, form,
			"oauth_token=" + testToken + "&oauth_token_secret=" + testSecret + "&oauth_callback_confirmed=false", nil,
			func(t *testing.T, err error) {
				if !errors.Is(err, ErrCallbackNotConfirmed) {
					t.Errorf("err = %v, want ErrCallbackNotConfirmed", err)
				}
			}},
		{"access token 401", callAccessToken, 401, js, `{"errors":[{"code":89,"message":"Invalid or expired token."}]}`, nil,
			wantToken(401, 89, "")},
		{"exchange invalid_request", callExchange, 400, js, `{"error":"invalid_request","error_description":"Value passed for the authorization code was invalid."}`, nil,
			func(t *testing.T, err error) {
				wantToken(400, 0, "invalid_request")(t, err)
				var te *TokenError
				if errors.As(err, &te) && !te.GrantRefused() {
					t.Error("GrantRefused() = false for invalid_request")
				}
			}},
		{"exchange invalid_client", callExchange, 401, js, `{"error":"invalid_client"}`, nil,
			func(t *testing.T, err error) {
				wantToken(401, 0, "invalid_client")(t, err)
				var te *TokenError
				if errors.As(err, &te) && te.GrantRefused() {
					t.Error("GrantRefused() = true for invalid_client")
				}
			}},
		{"exchange not bearer", callExchange, 200, js, `{"access_token":"` + testToken + `","token_type":"mac"}`, nil,
			func(t *testing.T, err error) {
				var te *TokenError
				if err == nil || errors.As(err, &te) {
					t.Errorf("err = %v, want an untyped token type error", err)
				}
			}},
		{"refresh invalid_grant", callRefresh, 400, js, `{"error":"invalid_grant"}`, nil,
			func(t *testing.T, err error) {
				wantToken(400, 0, "invalid_grant")(t, err)
				var te *TokenError
				if errors.As(err, &te) && !te.GrantRefused() {
					t.Error("GrantRefused() = false for invalid_grant")
				}
			}},
		{"refresh 503", callRefresh, 503, "text/plain", "unavailable", nil, wantToken(503, 0, "")},
		{"verify credentials 401 code 89", callVerify, 401, js, `{"errors":[{"code":89,"message":"Invalid or expired token."}]}`, nil,
			wantAPI(401, 89, time.Time{})},
		{"verify credentials 429 with reset", callVerify, 429, js, `{"errors":[{"code":88,"message":"Rate limit exceeded"}]}`,
			http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(reset.Unix(), 10)}}, wantAPI(429, 88, reset)},
		{"users/me 401", callUsersMe, 401, js, `{"title":"Unauthorized","status":401}`, nil, wantAPI(401, 0, time.Time{})},
		{"users/me 429 without reset", callUsersMe, 429, js, `{"title":"Too Many Requests"}`, nil, wantAPI(429, 0, time.Time{})},
		{"users/me malformed", callUsersMe, 200, js, `{"data":{"id":"1","name":"` + testToken, nil,
			func(t *testing.T, err error) {
				var ae *APIError
				if err == nil || errors.As(err, &ae) {
					t.Errorf("err = %v, want a decode error", err)
				}
			}},
		{"revoke 503", callRevoke, 503, js, `{"error":"unavailable"}`, nil, wantAPI(503, 0, time.Time{})},
		{"invalidate 401 code 89", callInvalidate, 401, js, `{"errors":[{"code":89,"message":"Invalid or expired token."}]}`, nil,
			wantAPI(401, CodeInvalidToken, time.Time{})},
	}
}

func TestErrors_TypedAndRedacted(t *testing.T) {
	for _, tt := range errorCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := echoServer(t, tt.status, tt.contentType, tt.body, tt.header)
			err := tt.do(t.Context(), c)
			if err == nil {
				t.Fatal("no error")
			}
			tt.want(t, err)
			wantRedacted(t, err)
		})
	}
}

func wantToken(status, code int, errorCode string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("err = %T %v, want *TokenError", err, err)
		}
		if te.StatusCode != status || te.Code != code || te.ErrorCode != errorCode {
			t.Errorf("got status %d, code %d, error %q; want %d, %d, %q", te.StatusCode, te.Code, te.ErrorCode, status, code, errorCode)
		}
		var ae *APIError
		if errors.As(err, &ae) {
			t.Error("a token endpoint's error is also an *APIError")
		}
	}
}

func wantAPI(status, code int, reset time.Time) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %T %v, want *APIError", err, err)
		}
		if ae.StatusCode != status || ae.Code != code || !ae.RateLimitReset.Equal(reset) {
			t.Errorf("got status %d, code %d, reset %v; want %d, %d, %v", ae.StatusCode, ae.Code, ae.RateLimitReset, status, code, reset)
		}
	}
}
