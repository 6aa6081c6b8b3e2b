// Package devtwitter is a local "Sign in with Twitter" development provider:
// a fake X that speaks the same wire protocol as api.x.com and x.com for the
// login flows, so a newcomer without API keys or internet can sign in.
//
// One [Provider] (an [http.Handler]) serves, on a single loopback origin:
//
//   - OAuth 1.0a (RFC 5849): POST /oauth/request_token, GET /oauth/authenticate
//     and /oauth/authorize, POST /oauth/access_token, GET
//     /1.1/account/verify_credentials.json and POST /1.1/oauth/invalidate_token(.json);
//   - OAuth 2.0 with PKCE (RFC 6749, RFC 7636): GET /i/oauth2/authorize, POST
//     /2/oauth2/token, POST /2/oauth2/revoke and GET /2/users/me;
//   - a consent page (POST /_dev/consent) and generated avatars (GET /avatars/{id}.svg).
//
// The provider is strict on purpose: it verifies HMAC-SHA1 signatures against
// the URL the client actually used, rejects stale timestamps and replayed
// nonces, requires exact callback URLs, PKCE and HTTP Basic client
// authentication, and answers with X's status codes, content types and error
// bodies, so that bugs in the app show up locally rather than in production.
// The wire formats follow docs/twitter-api.md §1, §2 and §4.
//
// Automated tests can skip the consent page by adding auto=approve (or
// auto=deny) and user=<id> to the authorize/authenticate URL.
package devtwitter
