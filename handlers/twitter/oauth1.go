package twitter

import (
	"context"
	"net/http"

	"github.com/dghubble/oauth1"
)

// RequestToken starts an OAuth 1.0a login: it asks for a request token
// with the callback URL. A refusal is a *TokenError; a request token
// without a confirmed callback is ErrCallbackNotConfirmed.
//
// dghubble/oauth1 takes no context, so ctx cannot cancel the call; the
// HTTP client's Timeout bounds it.
func (c *Client) RequestToken(ctx context.Context) (token, secret string, err error) {
	token, secret, err = c.oauth1.RequestToken()
	if err != nil {
		return "", "", oauth1Error("/oauth/request_token", err)
	}
	return token, secret, nil
}

// AuthorizationURL is where to send the browser with a request token
// from RequestToken: Twitter's authenticate page, which skips the consent
// for a user who has authorized the app before.
func (c *Client) AuthorizationURL(requestToken string) (string, error) {
	u, err := c.oauth1.AuthorizationURL(requestToken)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// AccessToken trades a request token and the verifier of its callback
// for the user's access token. A refusal is a *TokenError; a 401 there
// means a used, expired or forged verifier.
//
// As for RequestToken, ctx cannot cancel the call.
func (c *Client) AccessToken(ctx context.Context, requestToken, requestSecret, verifier string) (token, secret string, err error) {
	token, secret, err = c.oauth1.AccessToken(requestToken, requestSecret, verifier)
	if err != nil {
		return "", "", oauth1Error("/oauth/access_token", err)
	}
	return token, secret, nil
}

// signingClient returns an HTTP client that signs its requests with the
// user's OAuth 1.0a token and, like c.http, follows no redirect.
func (c *Client) signingClient(ctx context.Context, token, secret string) *http.Client {
	client := c.oauth1.Client(context.WithValue(ctx, oauth1.HTTPClient, c.http), oauth1.NewToken(token, secret))
	client.CheckRedirect = c.http.CheckRedirect
	return client
}

// VerifyCredentials asks the v1.1 API who owns an OAuth 1.0a access
// token. A non-200 answer is an *APIError (401: the token is dead).
func (c *Client) VerifyCredentials(ctx context.Context, token, secret string) (User, error) {
	client := c.signingClient(ctx, token, secret)
	client.Timeout = c.http.Timeout
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.apiBase+"/1.1/account/verify_credentials.json?include_entities=false&skip_status=true&include_email=false", nil)
	if err != nil {
		return User{}, err
	}
	var body struct {
		IDStr                string `json:"id_str"`
		ScreenName           string `json:"screen_name"`
		Name                 string `json:"name"`
		ProfileImageURLHTTPS string `json:"profile_image_url_https"`
	}
	if err := getJSON(client, req, &body); err != nil {
		return User{}, err
	}
	return User{ID: body.IDStr, Handle: body.ScreenName, Name: body.Name, AvatarURL: body.ProfileImageURLHTTPS}, nil
}

// CodeInvalidToken is Twitter's v1.1 error code for an invalidated or
// expired token.
const CodeInvalidToken = 89

// InvalidateToken revokes an OAuth 1.0a access token (POST
// /1.1/oauth/invalidate_token, signed with that token). A non-200 answer
// is an *APIError; a token that is already dead gets a 401 with
// CodeInvalidToken. ctx bounds the call.
func (c *Client) InvalidateToken(ctx context.Context, token, secret string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiBase+"/1.1/oauth/invalidate_token", nil)
	if err != nil {
		return err
	}
	return discard(c.signingClient(ctx, token, secret), req)
}
