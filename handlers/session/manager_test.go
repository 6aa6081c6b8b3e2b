package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

const (
	testSecret = "test-secret-0123456789-abcdefghijklmnop"
	testIssuer = "https://app.example"
)

// newManager returns a Manager over store with a 5s cache TTL.
func newManager(t *testing.T, store Store, now func() time.Time, secret string, old ...string) *Manager {
	t.Helper()
	opts := Options{Secret: []byte(secret), Issuer: testIssuer, Lifetime: time.Hour,
		CacheTTL: 5 * time.Second, Store: store, Now: now}
	for _, o := range old {
		opts.OldSecrets = append(opts.OldSecrets, []byte(o))
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// signIn stores a user and a session of theirs, and returns the request
// that carries the cookie m issues for it.
func signIn(t *testing.T, m *Manager, store *models.Store, now time.Time) (*http.Request, *models.Session) {
	t.Helper()
	uid, err := store.RecordSignIn(t.Context(), models.TwitterProfile{ID: "4242", Handle: "h", Name: "N"}, models.ProviderToken{Flow: "oauth2"}, now)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := store.StartSession(t.Context(), models.Session{UserID: uid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := m.Issue(w, uid, sess.Key(), now); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		r.AddCookie(c)
	}
	return r, sess
}

// TestLoadAndRevoke: an issued cookie loads its session and user; no
// cookie, and a revoked session, are refused with ErrNotSignedIn.
func TestLoadAndRevoke(t *testing.T) {
	store := storetest.New(t)
	now := time.Now()
	m := newManager(t, store, func() time.Time { return now }, testSecret)
	r, sess := signIn(t, m, store, now)

	got, err := m.Load(r)
	if err != nil || got.ID != sess.Key() || got.User.ID != sess.UserID || got.User.Handle != "h" {
		t.Fatalf("Load = %+v, %v; want session %s of user %s", got, err, sess.Key(), sess.UserID.Hex())
	}
	if _, err := m.Load(httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("Load without a cookie: %v, want ErrNotSignedIn", err)
	}
	if err := store.DeleteSession(t.Context(), sess.ID); err != nil {
		t.Fatal(err)
	}
	m.SessionRevoked(t.Context(), sess.Key())
	if _, err := m.Load(r); !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("Load after SessionRevoked: %v, want ErrNotSignedIn", err)
	}
}

// TestRevocationReachesOtherManager: a session revoked on one instance is
// refused on another, which had it cached, after that one's next Poll.
func TestRevocationReachesOtherManager(t *testing.T) {
	store := storetest.New(t)
	now := time.Now()
	clock := func() time.Time { return now }
	a, b := newManager(t, store, clock, testSecret), newManager(t, store, clock, testSecret)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, sess := signIn(t, a, store, now)
	if _, err := b.Load(r); err != nil {
		t.Fatalf("B before the logout: %v", err)
	}
	if err := store.DeleteSession(t.Context(), sess.ID); err != nil {
		t.Fatal(err)
	}
	a.SessionRevoked(t.Context(), sess.Key())
	if _, err := b.Load(r); err != nil {
		t.Errorf("B before its poll: %v, want its cached session", err)
	}
	if err := b.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(r); !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("B after its poll: %v, want ErrNotSignedIn", err)
	}
}

// TestVerifyKeys: tokens signed with an old secret verify while it is
// listed; other algorithms with the right key, and unknown secrets, do not.
func TestVerifyKeys(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	store := storetest.New(t)
	const newSecret = "rotated-secret-0123456789-abcdefghijklmno"
	before := newManager(t, store, clock, testSecret)
	during := newManager(t, store, clock, newSecret, testSecret)
	after := newManager(t, store, clock, newSecret)
	uid := bson.NewObjectID()
	token, err := before.sign(uid, "sid.secret", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, key, err := during.Verify(token); err != nil || got != uid || key != "sid.secret" {
		t.Errorf("old secret still listed: %v %q %v", got, key, err)
	}
	if _, _, err := after.Verify(token); !errors.Is(err, errBadToken) {
		t.Errorf("old secret dropped: %v, want errBadToken", err)
	}
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer, Subject: uid.Hex(), Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
		SessionID: "sid.secret",
	})
	hs512.Header["typ"], hs512.Header["kid"] = tokenType, before.keys.signKID
	forged, err := hs512.SignedString(before.keys.sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := before.Verify(forged); !errors.Is(err, errBadToken) {
		t.Errorf("HS512 with the right key: %v, want errBadToken", err)
	}
}
