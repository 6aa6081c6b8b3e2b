package twitter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNewHTTPClient_DoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			t.Error("redirect followed")
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	hc := NewHTTPClient(3 * time.Second)
	if hc.Timeout != 3*time.Second {
		t.Errorf("Timeout = %v, want 3s", hc.Timeout)
	}
	resp, err := hc.Get(srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
}

// TestRedirectIsNotFollowed: a token or API call that Twitter redirects
// fails rather than carrying a signature or a secret to another URL.
func TestRedirectIsNotFollowed(t *testing.T) {
	for name, do := range map[string]call{
		"request token": callRequestToken, "exchange": callExchange, "users/me": callUsersMe,
		"verify credentials": callVerify, "revoke": callRevoke, "invalidate": callInvalidate,
	} {
		t.Run(name, func(t *testing.T) {
			c := echoServer(t, http.StatusTemporaryRedirect, "text/plain", "", http.Header{"Location": {"http://127.0.0.1:9/stolen"}})
			err := do(t.Context(), c)
			if err == nil {
				t.Fatal("a redirect counted as success")
			}
			wantRedacted(t, err)
		})
	}
}

// TestNetError: a call that gets no answer is a *NetError without the
// URL, whose cause is still recognisable (a timeout, a cancellation).
func TestNetError(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	defer slow.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	calls := map[string]call{
		"request token": callRequestToken, "access token": callAccessToken, "exchange": callExchange,
		"refresh": callRefresh, "users/me": callUsersMe, "verify credentials": callVerify,
		"revoke": callRevoke, "invalidate": callInvalidate,
	}
	for name, do := range calls {
		t.Run(name+"/refused", func(t *testing.T) {
			err := do(t.Context(), newTestClient(closed.URL))
			var ne *NetError
			if !errors.As(err, &ne) {
				t.Fatalf("err = %T %v, want *NetError", err, err)
			}
			wantRedacted(t, err)
		})
		t.Run(name+"/timeout", func(t *testing.T) {
			// The client's Timeout bounds the OAuth 1.0a token calls, which
			// take no context; ctx bounds InvalidateToken.
			c := newTestClient(slow.URL)
			c.http.Timeout = 50 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			err := do(ctx, c)
			var to interface{ Timeout() bool }
			if !errors.As(err, &to) || !to.Timeout() {
				t.Errorf("err = %v, want a timeout", err)
			}
			wantRedacted(t, err)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newTestClient(slow.URL).UsersMe(ctx, testToken)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}
