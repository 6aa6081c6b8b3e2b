package session

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models/storetest"
)

// unusedStore is the Store of a Manager that only signs and verifies.
type unusedStore struct{ Store }

// withCookie returns a request that carries raw as its session cookie.
func withCookie(raw string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: raw})
	return r
}

// flip returns s with its i-th byte replaced by another base64url one.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == c {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestVerifiedTokens: a token that verified is not parsed again and names
// the same session; a token one character off a cached one is refused;
// a cached token past its exp and Leeway is refused and forgotten.
func TestVerifiedTokens(t *testing.T) {
	store := storetest.New(t)
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	m := newManager(t, store, func() time.Time { return *now.Load() }, testSecret)
	r, sess := signIn(t, m, store, start)
	ck, err := r.Cookie(CookieName)
	if err != nil {
		t.Fatal(err)
	}
	raw := ck.Value

	first, err := m.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if n, hits := m.verified.counts(); n != 1 || hits != 0 {
		t.Fatalf("after the first Load: %d tokens, %d hits; want 1, 0", n, hits)
	}
	again, err := m.Load(r)
	if err != nil || again.ID != first.ID || again.User.ID != first.User.ID || again.ID != sess.Key() {
		t.Fatalf("second Load = %+v, %v; want session %s of user %s", again, err, sess.Key(), sess.UserID.Hex())
	}
	if _, hits := m.verified.counts(); hits != 1 {
		t.Fatalf("second Load: %d hits, want 1 (served without parsing)", hits)
	}

	sig := strings.LastIndexByte(raw, '.') + 1
	payload := strings.IndexByte(raw, '.') + 1
	for _, tc := range []struct{ name, raw string }{
		{"signature one character off", flip(raw, sig+(len(raw)-sig)/2)},
		{"payload one character off", flip(raw, payload+(sig-payload)/2)},
		{"header one character off", flip(raw, payload/2)},
	} {
		if _, err := m.Load(withCookie(tc.raw)); !errors.Is(err, ErrNotSignedIn) || !errors.Is(err, errBadToken) {
			t.Errorf("%s: %v, want ErrNotSignedIn for a bad token", tc.name, err)
		}
		if n, hits := m.verified.counts(); n != 1 || hits != 1 {
			t.Errorf("%s: %d tokens, %d hits; want 1, 1 (not cached, not served)", tc.name, n, hits)
		}
	}

	// The session lasts an hour (newManager); its token expires with it.
	later := start.Add(time.Hour + Leeway)
	now.Store(&later)
	if _, err := m.Load(r); !errors.Is(err, ErrNotSignedIn) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Load past exp and Leeway: %v, want ErrNotSignedIn for an expired token", err)
	}
	if _, ok := m.verified.tokens[sha256.Sum256([]byte(raw))]; ok {
		t.Error("the expired token is still cached")
	}
}

// TestVerifiedTokenTimes: a cached token's time claims are checked again
// on every use, as the parser checks them, Leeway included.
func TestVerifiedTokenTimes(t *testing.T) {
	issued := time.Unix(1_800_000_000, 0) // whole seconds, as JWT times are
	var now atomic.Pointer[time.Time]
	clock := func() time.Time { return *now.Load() }
	m := newManager(t, unusedStore{}, clock, testSecret)
	raw, err := m.sign(bson.NewObjectID(), "sid.secret", issued)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Duration // after issued
		want error         // nil: served
	}{
		{"within its lifetime", 30 * time.Minute, nil},
		{"past exp, within Leeway", time.Hour + Leeway - time.Second, nil},
		{"past exp and Leeway", time.Hour + Leeway, jwt.ErrTokenExpired},
		{"before iat and Leeway (clock stepped back)", -Leeway - time.Second, jwt.ErrTokenUsedBeforeIssued},
	} {
		now.Store(&issued)
		if _, _, err := m.verifyCached(raw); err != nil { // cached, if it was not
			t.Fatal(err)
		}
		_, hits := m.verified.counts()
		at := issued.Add(tc.at)
		now.Store(&at)
		_, sid, err := m.verifyCached(raw)
		n, hitsAfter := m.verified.counts()
		switch {
		case hitsAfter != hits+1:
			t.Errorf("%s: not looked up in the cache", tc.name)
		case tc.want == nil && (err != nil || sid != "sid.secret" || n != 1):
			t.Errorf("%s: sid %q, %v, %d cached; want it served and kept", tc.name, sid, err, n)
		case tc.want != nil && (!errors.Is(err, errBadToken) || !errors.Is(err, tc.want) || n != 0):
			t.Errorf("%s: %v, %d cached; want %v, and the entry dropped", tc.name, err, n, tc.want)
		}
	}
}

// verifiedFixture returns a cached token of a session that expires at
// exp.
func verifiedFixture(i int, exp time.Time) ([32]byte, verifiedToken) {
	sid := fmt.Sprint(i)
	c := &claims{SessionID: sid, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}}
	return sha256.Sum256([]byte(sid)), verifiedToken{claims: c}
}

// TestVerifiedTokensBound: the cache never holds more than its cap; when
// full, it drops the tokens that can no longer validate first.
func TestVerifiedTokensBound(t *testing.T) {
	now := time.Now()
	live, dead := now.Add(time.Hour), now.Add(-Leeway)
	for _, tc := range []struct {
		name string
		max  int
		exps []time.Time // of the tokens put, in order
		kept []int       // tokens that must still be cached
	}{
		{"live tokens past the cap", 4, []time.Time{live, live, live, live, live, live, live, live, live, live}, []int{9}},
		{"expired tokens go first", 8, []time.Time{dead, dead, live, dead, live, dead, dead, dead, live}, []int{2, 4, 8}},
	} {
		v := newVerifiedTokens(tc.max)
		for i, exp := range tc.exps {
			key, tok := verifiedFixture(i, exp)
			v.put(key, tok, now)
			if n, _ := v.counts(); n > tc.max {
				t.Fatalf("%s: %d tokens cached, cap %d", tc.name, n, tc.max)
			}
		}
		for _, i := range tc.kept {
			if key, _ := verifiedFixture(i, live); v.tokens[key].claims == nil {
				t.Errorf("%s: token %d evicted", tc.name, i)
			}
		}
	}
}

// TestVerifiedTokenSize measures the memory of a cached token (its key,
// its entry and its parsed claims), the figure in verifiedTokens' comment.
func TestVerifiedTokenSize(t *testing.T) {
	const n = 20_000
	now := time.Now()
	m, err := New(Options{Secret: []byte(testSecret), Issuer: testIssuer, Lifetime: time.Hour, Store: unusedStore{}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, n)
	for i := range tokens {
		key := fmt.Sprintf("%024x.%s", i, strings.Repeat("s", 26)) // a session ID and secret
		if tokens[i], err = m.sign(bson.NewObjectID(), key, now); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := newVerifiedTokens(n)
	for _, raw := range tokens {
		c, uid, err := m.verify(raw)
		if err != nil {
			t.Fatal(err)
		}
		v.put(sha256.Sum256([]byte(raw)), verifiedToken{claims: c, uid: uid}, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	runtime.KeepAlive(tokens) // not the cache's: it keeps their hashes
	perToken := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	t.Logf("about %.0f bytes per cached token", perToken)
	if perToken > 1000 {
		t.Errorf("%.0f bytes per cached token; verifiedTokens' comment says about 465", perToken)
	}
}
