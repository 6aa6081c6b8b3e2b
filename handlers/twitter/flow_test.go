package twitter_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"example.com/twitterlogin/handlers/devtwitter"
	"example.com/twitterlogin/handlers/twitter"
)

const (
	callback1 = "http://app.test/auth/oauth1/callback"
	callback2 = "http://app.test/auth/oauth2/callback"
)

// devClient is a Client of a fresh dev provider, and a browser for the
// consent redirects.
func devClient(t *testing.T) (*twitter.Client, *http.Client) {
	t.Helper()
	p, err := devtwitter.New(devtwitter.Config{CallbackURLs: []string{callback1, callback2}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	hc := twitter.NewHTTPClient(5 * time.Second)
	return twitter.New(twitter.Config{
		APIBase: srv.URL, AuthorizeBase: srv.URL,
		ConsumerKey: devtwitter.DevConsumerKey, ConsumerSecret: devtwitter.DevConsumerSecret, OAuth1CallbackURL: callback1,
		ClientID: devtwitter.DevClientID, ClientSecret: devtwitter.DevClientSecret, OAuth2RedirectURL: callback2,
		OfflineAccess: true,
		HTTPClient:    hc,
	}), hc
}

// consent approves a login at the dev provider as user and returns the
// query of the redirect back to the app.
func consent(t *testing.T, browser *http.Client, authURL, user string) url.Values {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("auto", "approve")
	q.Set("user", user)
	u.RawQuery = q.Encode()
	resp, err := browser.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("consent: status %d, no redirect: %v", resp.StatusCode, err)
	}
	return loc.Query()
}

func TestOAuth1_DevProvider(t *testing.T) {
	c, browser := devClient(t)
	ctx := t.Context()
	reqToken, reqSecret, err := c.RequestToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := c.AuthorizationURL(reqToken)
	if err != nil {
		t.Fatal(err)
	}
	back := consent(t, browser, authURL, "1002")
	if back.Get("oauth_token") != reqToken {
		t.Fatalf("callback oauth_token %q, want the request token", back.Get("oauth_token"))
	}
	token, secret, err := c.AccessToken(ctx, reqToken, reqSecret, back.Get("oauth_verifier"))
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.VerifyCredentials(ctx, token, secret)
	if err != nil || user.ID != "1002" || user.Handle != "grace" || user.Name != "Grace Hopper" {
		t.Fatalf("VerifyCredentials = %+v, %v; want grace (1002)", user, err)
	}

	t.Run("verifier used twice", func(t *testing.T) {
		_, _, err := c.AccessToken(ctx, reqToken, reqSecret, back.Get("oauth_verifier"))
		var te *twitter.TokenError
		if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
			t.Errorf("err = %v, want a 401 *TokenError", err)
		}
	})
	t.Run("invalidate", func(t *testing.T) {
		if err := c.InvalidateToken(ctx, token, secret); err != nil {
			t.Fatal(err)
		}
		_, err := c.VerifyCredentials(ctx, token, secret)
		var ae *twitter.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
			t.Errorf("VerifyCredentials after invalidation: %v, want a 401 *APIError", err)
		}
		err = c.InvalidateToken(ctx, token, secret)
		if !errors.As(err, &ae) || ae.Code != twitter.CodeInvalidToken {
			t.Errorf("second invalidation: %v, want code %d", err, twitter.CodeInvalidToken)
		}
	})
}

func TestOAuth2_DevProvider(t *testing.T) {
	c, browser := devClient(t)
	ctx := t.Context()
	verifier := oauth2.GenerateVerifier()
	back := consent(t, browser, c.AuthCodeURL("state-1", verifier), "1003")
	if back.Get("state") != "state-1" || back.Get("code") == "" {
		t.Fatalf("callback query %v, want state-1 and a code", back)
	}
	tok, err := c.Exchange(ctx, back.Get("code"), verifier)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token despite OfflineAccess")
	}
	if user, err := c.UsersMe(ctx, tok.AccessToken); err != nil || user.ID != "1003" || user.Handle != "alan" {
		t.Fatalf("UsersMe = %+v, %v; want alan (1003)", user, err)
	}

	t.Run("refresh is single use", func(t *testing.T) {
		fresh, err := c.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
			t.Error("refresh returned the old tokens")
		}
		_, err = c.Refresh(ctx, tok.RefreshToken)
		var te *twitter.TokenError
		if !errors.As(err, &te) || !te.GrantRefused() {
			t.Errorf("second refresh: %v, want a refused grant", err)
		}
		tok = fresh
	})
	t.Run("revoke", func(t *testing.T) {
		if err := c.Revoke(ctx, tok.AccessToken, "access_token"); err != nil {
			t.Fatal(err)
		}
		_, err := c.UsersMe(ctx, tok.AccessToken)
		var ae *twitter.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
			t.Errorf("UsersMe after revocation: %v, want a 401 *APIError", err)
		}
	})
	// Last: a reused code also revokes what it was exchanged for.
	t.Run("code used twice", func(t *testing.T) {
		_, err := c.Exchange(ctx, back.Get("code"), verifier)
		var te *twitter.TokenError
		if !errors.As(err, &te) || !te.GrantRefused() {
			t.Errorf("err = %v, want a refused grant", err)
		}
	})
}
