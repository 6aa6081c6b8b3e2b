package twitter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// ErrCallbackNotConfirmed means Twitter issued a request token without
// oauth_callback_confirmed=true: it did not accept the callback URL.
var ErrCallbackNotConfirmed = errors.New("twitter: callback URL not confirmed")

// TokenError is a token endpoint's refusal: a non-2xx answer to a request
// token, access token, code exchange or refresh. Like x/oauth2's
// RetrieveError, but without the body, which may echo what was sent.
type TokenError struct {
	// Method and Path name the call, without host or query.
	Method, Path string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the first v1.1 error code ({"errors":[{"code":32}]}) of an
	// OAuth 1.0a answer, or 0.
	Code int
	// ErrorCode is the OAuth 2.0 "error" of the answer (RFC 6749 §5.2),
	// such as invalid_grant, or "".
	ErrorCode string
}

// Error names the call, the status and Twitter's codes.
func (e *TokenError) Error() string {
	s := fmt.Sprintf("twitter: %s %s: status %d", e.Method, e.Path, e.StatusCode)
	if e.Code != 0 {
		s += fmt.Sprintf(", code %d", e.Code)
	}
	if e.ErrorCode != "" {
		s += fmt.Sprintf(", error %q", e.ErrorCode)
	}
	return s
}

// GrantRefused reports whether the token endpoint refused the grant
// itself (a used, expired or foreign code or refresh token, or a PKCE
// mismatch) rather than failing. X answers invalid_request where RFC 6749
// says invalid_grant, so both count.
func (e *TokenError) GrantRefused() bool {
	return e.ErrorCode == "invalid_grant" || e.ErrorCode == "invalid_request"
}

// APIError is a non-2xx answer from an API call other than a token
// endpoint (verify_credentials, /2/users/me, revocation). It carries the
// status, Twitter's v1.1 error code and, for a 429, when the rate-limit
// window resets; never the body.
type APIError struct {
	// Method and Path name the call, without host or query.
	Method, Path string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the first v1.1 error code of the answer, or 0.
	Code int
	// RateLimitReset is x-rate-limit-reset; zero if absent.
	RateLimitReset time.Time
}

// Error names the call, the status and Twitter's code.
func (e *APIError) Error() string {
	s := fmt.Sprintf("twitter: %s %s: status %d", e.Method, e.Path, e.StatusCode)
	if e.Code != 0 {
		s += fmt.Sprintf(", code %d", e.Code)
	}
	return s
}

// NetError is a call that got no answer (DNS, connection, TLS, timeout,
// cancellation). Its text leaves out the URL, whose query could carry
// something secret; Unwrap gives the cause, so timeouts and
// cancellations are still recognised.
type NetError struct {
	// Method and Path name the call, without host or query.
	Method, Path string
	// Err is the cause: the *url.Error's Err.
	Err error
}

// Error names the call and the cause.
func (e *NetError) Error() string {
	return fmt.Sprintf("twitter: %s %s: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *NetError) Unwrap() error { return e.Err }

// netError wraps a failed http.Client.Do of method path as a *NetError,
// dropping the URL of a *url.Error; other errors get the call's name.
func netError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &NetError{Method: method, Path: path, Err: ue.Err}
	}
	return fmt.Errorf("twitter: %s %s: %w", method, path, err)
}

// newAPIError reads (and discards) the body of a non-2xx answer to req.
func newAPIError(req *http.Request, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	e := &APIError{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode, Code: v1ErrorCode(body)}
	if n, err := strconv.ParseInt(resp.Header.Get("x-rate-limit-reset"), 10, 64); err == nil && n > 0 {
		e.RateLimitReset = time.Unix(n, 0)
	}
	return e
}

// v1ErrorCode reads the first code of a v1.1 error body, or 0.
func v1ErrorCode(body []byte) int {
	var e struct {
		Errors []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].Code
}

// oauth1StatusErr matches dghubble/oauth1's error for a non-2xx answer,
// which quotes the body.
var oauth1StatusErr = regexp.MustCompile(`(?s)^oauth1: invalid status ([0-9]{3}): (.*)$`)

// oauth1Error types an error of dghubble/oauth1's token calls to path,
// keeping the status and v1.1 code and dropping the quoted body.
func oauth1Error(path string, err error) error {
	if m := oauth1StatusErr.FindStringSubmatch(err.Error()); m != nil {
		status, _ := strconv.Atoi(m[1])
		return &TokenError{Method: http.MethodPost, Path: path, StatusCode: status, Code: v1ErrorCode([]byte(m[2]))}
	}
	if err.Error() == "oauth1: oauth_callback_confirmed was not true" {
		return ErrCallbackNotConfirmed
	}
	return netError(http.MethodPost, path, err)
}

// oauth2Error types an error of x/oauth2's token calls, keeping the status
// and OAuth error code of a *oauth2.RetrieveError and dropping its body.
func oauth2Error(err error) error {
	const path = "/2/oauth2/token"
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &TokenError{Method: http.MethodPost, Path: path, StatusCode: status, ErrorCode: re.ErrorCode}
	}
	return netError(http.MethodPost, path, err)
}
