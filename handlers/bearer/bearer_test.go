package bearer_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/tokenkeys"
)

func TestServiceAcceptsGrantedRoutesOnly(t *testing.T) {
	for _, alg := range []string{tokenkeys.RS256, tokenkeys.ES256, tokenkeys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg, "a")
			svc := newService(t, time.Minute, k)
			tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
			if r := get(t, svc.URL+"/image", auth(tok)...); r.status != http.StatusOK || !strings.Contains(r.body, "65f0c0ffee0123456789abcd") {
				t.Fatalf("GET /image = %d %s", r.status, r.body)
			}
			r := get(t, svc.URL+"/image/metadata", auth(tok)...)
			wantRefused(t, r, http.StatusForbidden, "insufficient_scope")
			if !strings.Contains(r.www, `scope="/image/metadata"`) {
				t.Errorf("WWW-Authenticate %q, want the needed scope", r.www)
			}
		})
	}
}

// refusal is one request the image service must refuse: its headers, the
// status and the RFC 6750 error code (none when code is "").
type refusal struct {
	name   string
	header []string
	status int
	code   string
}

func TestServiceRefusesBadTokens(t *testing.T) {
	k := testKey(t, tokenkeys.RS256, "a")
	ec := testKey(t, tokenkeys.ES256, "a")
	other := testKey(t, tokenkeys.RS256, "other") // never published
	svc := newService(t, time.Hour, k, ec)
	now := svc.clock.Now()
	ok := claims(now, "/image")
	valid := mustSign(t, k, ok)

	tests := authHeaderRefusals(valid)
	tests = append(tests, claimRefusals(t, k, now, valid)...)
	tests = append(tests, typKidRefusals(t, k, ok)...)
	tests = append(tests, algRefusals(t, k, ec, ok, valid)...)
	tests = append(tests, keyRefusals(t, k, other, ok)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRefused(t, get(t, svc.URL+"/image", tt.header...), tt.status, tt.code)
		})
	}
	t.Run("token in the query", func(t *testing.T) {
		wantRefused(t, get(t, svc.URL+"/image?access_token="+valid), 401, "")
	})
	t.Run("valid token still accepted", func(t *testing.T) {
		if r := get(t, svc.URL+"/image", auth(valid)...); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func TestServiceRefusesTokenAfterExpiry(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Hour, k)
	tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
	if r := get(t, svc.URL+"/image", auth(tok)...); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	svc.clock.Advance(10*time.Minute + bearer.DefaultLeeway + time.Second)
	r := get(t, svc.URL+"/image", auth(tok)...)
	wantRefused(t, r, 401, "invalid_token")
	if !strings.Contains(r.body, "expired") {
		t.Errorf("body %q does not say the token expired", r.body)
	}
}

func TestServicePathTricks(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Hour, k)
	tok := mustSign(t, k, claims(svc.clock.Now(), "/image"))
	tests := []struct {
		path   string
		status int
	}{
		{"/image", 200},
		{"/image/metadata", 403},
		{"/image/", 400},
		{"//image", 400},
		{"/image//metadata", 400},
		{"/image/./metadata", 400},
		{"/image/../image/metadata", 400},
		{"/image/%2e%2e/image/metadata", 400},
		{"/image/%2E%2E/image/metadata", 400},
		{"/image%2fmetadata", 400},
		{"/image%2Fmetadata", 400},
		{"/%69mage/metadata", 400},
		{"/image/metadata/..", 400},
		{"/image/metadata/", 400},
		{"/IMAGE/metadata", 403},
		{"/image.", 403},
		{"/image;/metadata", 403},
		{"/image\\..\\image/metadata", 400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, svc.URL+tt.path, auth(tok)...)
			if r.status != tt.status {
				t.Fatalf("GET %s = %d, want %d; body %s", tt.path, r.status, tt.status, r.body)
			}
		})
	}
}

// TestUnknownKIDFloodFetchesOnce: a flood of tokens with made-up kids
// causes at most one refresh of the key set per interval.
func TestUnknownKIDFloodFetchesOnce(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, bearer.DefaultUnknownKIDInterval, k)
	before := svc.jwks.fetches.Load()
	now := svc.clock.Now()
	forged := make([]string, 60)
	for i := range forged {
		forged[i] = signWith(t, k, claims(now, "/image"), func(h map[string]any) { h["kid"] = fmt.Sprintf("forged-%d", i) })
	}
	var wg sync.WaitGroup
	for i, tok := range forged {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, svc.URL+"/image", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("forged kid %d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := svc.jwks.fetches.Load() - before; n > 1 {
		t.Errorf("%d fetches of the key set for 60 unknown kids, want at most 1", n)
	}
	// Known keys keep working during and after the flood.
	if r := get(t, svc.URL+"/image", auth(mustSign(t, k, claims(now, "/image")))...); r.status != 200 {
		t.Errorf("valid token after the flood: %d", r.status)
	}
}

// TestRotation: old-key tokens verify while the old key is published and
// fail once it is removed; new-key tokens verify after the service
// refreshes on their unknown kid.
func TestRotation(t *testing.T) {
	oldKey := testKey(t, tokenkeys.RS256, "a")
	newKey := testKey(t, tokenkeys.ES256, "rotation")
	svc := newService(t, time.Millisecond, oldKey)
	now := svc.clock.Now()
	oldTok := mustSign(t, oldKey, claims(now, "/image"))
	newTok := mustSign(t, newKey, claims(now, "/image"))

	if r := get(t, svc.URL+"/image", auth(oldTok)...); r.status != 200 {
		t.Fatalf("old token before rotation: %d %s", r.status, r.body)
	}
	svc.jwks.publish(t, newKey, oldKey)
	time.Sleep(5 * time.Millisecond) // let the unknown-kid limiter refill
	if r := get(t, svc.URL+"/image", auth(newTok)...); r.status != 200 {
		t.Fatalf("new token after rotation: %d %s", r.status, r.body)
	}
	if r := get(t, svc.URL+"/image", auth(oldTok)...); r.status != 200 {
		t.Fatalf("old token while still published: %d %s", r.status, r.body)
	}

	svc.jwks.publish(t, newKey)
	// Any unknown kid makes the service refresh and drop the old key.
	time.Sleep(5 * time.Millisecond)
	get(t, svc.URL+"/image", auth(signWith(t, newKey, claims(now, "/image"), func(h map[string]any) { h["kid"] = "nudge" }))...)
	wantRefused(t, get(t, svc.URL+"/image", auth(oldTok)...), 401, "invalid_token")
	if r := get(t, svc.URL+"/image", auth(newTok)...); r.status != 200 {
		t.Fatalf("new token after the old key is gone: %d %s", r.status, r.body)
	}
}

// TestKeepsLastGoodKeys: when the issuer is down, cached keys still verify.
func TestKeepsLastGoodKeys(t *testing.T) {
	k := testKey(t, tokenkeys.ES256, "a")
	svc := newService(t, time.Millisecond, k)
	now := svc.clock.Now()
	svc.jwks.setFailing(true)
	time.Sleep(5 * time.Millisecond)
	// An unknown kid triggers a refresh, which fails.
	before := svc.jwks.fetches.Load()
	get(t, svc.URL+"/image", auth(signWith(t, k, claims(now, "/image"), func(h map[string]any) { h["kid"] = "nudge" }))...)
	if svc.jwks.fetches.Load() == before {
		t.Fatal("the unknown kid did not trigger a refresh")
	}
	if r := get(t, svc.URL+"/image", auth(mustSign(t, k, claims(now, "/image")))...); r.status != 200 {
		t.Fatalf("cached key after a failed refresh: %d %s", r.status, r.body)
	}
}

func TestRemoteKeysRefusesPlainHTTP(t *testing.T) {
	for _, u := range []string{"http://example.com/jwks.json", "ftp://127.0.0.1/x", "not a url", ""} {
		if _, err := bearer.RemoteKeys(context.Background(), bearer.RemoteOptions{URL: u}); err == nil {
			t.Errorf("RemoteKeys(%q) = nil error", u)
		}
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	store, _ := tokenkeys.NewSet(testKey(t, tokenkeys.ES256, "a"))
	keys, _ := store.Storage()
	for name, o := range map[string]bearer.Options{
		"no keys":     {Issuer: "i", Audience: "a"},
		"no issuer":   {Keys: keys, Audience: "a"},
		"no audience": {Keys: keys, Issuer: "i"},
		"big leeway":  {Keys: keys, Issuer: "i", Audience: "a", Leeway: 2 * time.Minute},
	} {
		if _, err := bearer.New(o); err == nil {
			t.Errorf("%s: New = nil error", name)
		}
	}
}
