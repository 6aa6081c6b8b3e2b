package twitter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// AuthCodeURL is Twitter's consent page for an OAuth 2.0 login with state
// and the S256 challenge of verifier (RFC 7636). Generate a fresh state
// and verifier (oauth2.GenerateVerifier) for each login.
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.oauth2.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades the code of an OAuth 2.0 callback and the login's PKCE
// verifier for a bearer token. A refusal is a *TokenError (see
// [TokenError.GrantRefused]).
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.oauth2.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	return bearer(tok, err)
}

// Refresh spends a refresh token for a new bearer token. Twitter's
// refresh tokens are single use: the answer carries the next one. A
// refusal is a *TokenError (see [TokenError.GrantRefused]).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.oauth2.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	return bearer(tok, err)
}

// bearer types the error of a token request and insists on a bearer token.
func bearer(tok *oauth2.Token, err error) (*oauth2.Token, error) {
	if err != nil {
		return nil, oauth2Error(err)
	}
	if tok.Type() != "Bearer" {
		return nil, fmt.Errorf("twitter: token type %q, want bearer", tok.TokenType)
	}
	return tok, nil
}

// UsersMe asks the v2 API who owns an OAuth 2.0 access token. A non-200
// answer is an *APIError (401: the token is dead).
func (c *Client) UsersMe(ctx context.Context, accessToken string) (User, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.apiBase+"/2/users/me?user.fields=profile_image_url", nil)
	if err != nil {
		return User{}, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	var body struct {
		Data struct {
			ID              string `json:"id"`
			Name            string `json:"name"`
			Username        string `json:"username"`
			ProfileImageURL string `json:"profile_image_url"`
		} `json:"data"`
	}
	if err := getJSON(c.http, req, &body); err != nil {
		return User{}, err
	}
	d := body.Data
	return User{ID: d.ID, Handle: d.Username, Name: d.Name, AvatarURL: d.ProfileImageURL}, nil
}

// Revoke revokes an OAuth 2.0 token (RFC 7009, POST /2/oauth2/revoke)
// with the client's credentials. hint is "access_token" or
// "refresh_token". A non-200 answer is an *APIError.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiBase+"/2/oauth2/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: form-encoded, then Basic (as golang.org/x/oauth2).
	req.SetBasicAuth(url.QueryEscape(c.oauth2.ClientID), url.QueryEscape(c.oauth2.ClientSecret))
	return discard(c.http, req)
}

// getJSON sends req and decodes a 200 JSON answer into v.
func getJSON(client *http.Client, req *http.Request, v any) error {
	return send(client, req, func(body io.Reader) error {
		if err := json.NewDecoder(body).Decode(v); err != nil {
			return fmt.Errorf("twitter: %s %s: decode: %w", req.Method, req.URL.Path, err)
		}
		return nil
	})
}

// discard sends req and wants a 200, whose body it drops.
func discard(client *http.Client, req *http.Request) error {
	return send(client, req, func(body io.Reader) error {
		_, _ = io.Copy(io.Discard, body)
		return nil
	})
}

// send sends req, wants a 200 and hands read its body, at most maxBody
// bytes of it.
func send(client *http.Client, req *http.Request, read func(io.Reader) error) error {
	resp, err := client.Do(req)
	if err != nil {
		return netError(req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newAPIError(req, resp)
	}
	return read(io.LimitReader(resp.Body, maxBody))
}
