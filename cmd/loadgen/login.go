package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/handlers/session"
)

// user is a signed-in user: its Twitter id, _id and session cookie.
type user struct {
	twitterID string
	id        bson.ObjectID
	cookie    string
}

// statusError is a response that is neither 2xx nor 3xx.
type statusError struct {
	method, path string
	status       int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d", e.method, e.path, e.status)
}

// is503 reports whether err is a 503 answer.
func is503(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == http.StatusServiceUnavailable
}

// login runs one full OAuth 2.0 login as Twitter user twitterID and
// returns the session cookie: app login start, provider consent
// (non-interactive), app callback (token exchange, users/me, upsert,
// session, sign-in event).
func (r *rig) login(ctx context.Context, twitterID string) (string, error) {
	resp, err := r.send(ctx, http.MethodGet, r.appURL+"/auth/oauth2/login", nil, "")
	if err != nil {
		return "", err
	}
	var loginCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-login" {
			loginCookie = c
		}
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loginCookie == nil {
		return "", &statusError{"GET", "/auth/oauth2/login", resp.StatusCode}
	}
	q := authorize.Query()
	q.Set("auto", "approve")
	q.Set("user", twitterID)
	authorize.RawQuery = q.Encode()
	if resp, err = r.send(ctx, http.MethodGet, authorize.String(), nil, ""); err != nil {
		return "", err
	}
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(callback, r.appURL) {
		return "", &statusError{"GET", "consent", resp.StatusCode}
	}
	if resp, err = r.send(ctx, http.MethodGet, callback, loginCookie, ""); err != nil {
		return "", err
	}
	cookie := ""
	for _, c := range resp.Cookies() {
		if c.Name == session.CookieName && c.Value != "" {
			cookie = c.Value
		}
	}
	if resp.StatusCode != http.StatusFound || cookie == "" {
		return "", &statusError{"GET", "/auth/oauth2/callback", resp.StatusCode}
	}
	return cookie, nil
}

// send makes one request and reads the whole body.
func (r *rig) send(ctx context.Context, method, target string, ck *http.Cookie, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// expect sends one request as the session cookie and wants a 2xx or 3xx.
func (r *rig) expect(ctx context.Context, method, target, cookie, body string) error {
	resp, err := r.send(ctx, method, target, &http.Cookie{Name: session.CookieName, Value: cookie}, body)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return &statusError{method, resp.Request.URL.Path, resp.StatusCode}
	}
	return nil
}

// me returns the user id of a session.
func (r *rig) me(ctx context.Context, cookie string) (bson.ObjectID, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.appURL+"/me", nil)
	if err != nil {
		return bson.ObjectID{}, err
	}
	req.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	resp, err := r.client.Do(req)
	if err != nil {
		return bson.ObjectID{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return bson.ObjectID{}, &statusError{"GET", "/me", resp.StatusCode}
	}
	var me struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		return bson.ObjectID{}, fmt.Errorf("GET /me: %w", err)
	}
	return bson.ObjectIDFromHex(me.ID)
}

// signInAs logs twitterID in (three tries: this step only prepares the
// measurement) and learns its _id.
func (r *rig) signInAs(ctx context.Context, twitterID string) (user, error) {
	u := user{twitterID: twitterID}
	var err error
	for range 3 {
		if u.cookie, err = r.login(ctx, twitterID); err == nil {
			break
		}
	}
	if err != nil {
		return u, fmt.Errorf("sign in %s: %w", twitterID, err)
	}
	if u.id, err = r.me(ctx, u.cookie); err != nil {
		return u, fmt.Errorf("sign in %s: %w", twitterID, err)
	}
	return u, nil
}

// recordsPerUser is how many records each signed-in user is given.
const recordsPerUser = 5

// recordBody is the JSON body of a user's i-th seeded record: notes of a
// few dozen to a few hundred characters, like a person's.
func recordBody(u user, i int) string {
	text := fmt.Sprintf("Note %d of @load%s: ", i+1, u.twitterID) +
		strings.Repeat("remember to water the plants and call back about the invoice. ", 1+(i*3+len(u.twitterID))%5)
	b, _ := json.Marshal(map[string]string{"text": text})
	return string(b)
}

// twitterIDOf is the Twitter id of the i-th signed-in user; imported
// users have ids from importedBase, signed-in ones from signedInBase.
func twitterIDOf(i int) string { return strconv.Itoa(signedInBase + i) }

const (
	importedBase = 1_000_000
	signedInBase = 100_000_000
)
