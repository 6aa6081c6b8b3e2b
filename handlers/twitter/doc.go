// Package twitter is the app's client of Twitter's (X's) API for "Sign in
// with Twitter": the OAuth 1.0a flow (RFC 5849: request token, access
// token, account/verify_credentials, invalidate_token) and the OAuth 2.0
// authorization code flow with PKCE (RFC 6749, RFC 7636: token exchange,
// refresh, /2/users/me, revocation per RFC 7009).
//
// Build a [Client] with [New] from a [Config]. Failures are typed:
// [*TokenError] for a token endpoint that refused, [*APIError] for any
// other call that answered non-2xx, [*NetError] for a call that got no
// answer. None of them carries a response body, a URL query, a token or a
// secret, so every error may be logged.
package twitter
