package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// heldStore is the embedded store whose SessionByID, while hold is set,
// reports that it has read the session and then waits for release
// before it returns what it read.
type heldStore struct {
	*models.Store
	hold    atomic.Bool
	read    chan struct{}
	release chan struct{}
}

func (s *heldStore) SessionByID(ctx context.Context, id string, now time.Time) (*models.Session, error) {
	sess, err := s.Store.SessionByID(ctx, id, now)
	if s.hold.Load() {
		s.read <- struct{}{}
		<-s.release
	}
	return sess, err
}

// TestLogoutDuringReloadStaysOut: a background re-read of a session that
// read it live before a logout, and returns after the logout dropped it,
// does not put it back: the kept cookie stays refused.
func TestLogoutDuringReloadStaysOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		// logout tells m (directly, or through other and the feed) that
		// sess has ended.
		logout func(t *testing.T, m, other *Manager, sess *models.Session)
	}{
		{"session revoked", func(t *testing.T, m, _ *Manager, sess *models.Session) {
			m.SessionRevoked(t.Context(), sess.Key())
		}},
		{"user revoked", func(t *testing.T, m, _ *Manager, sess *models.Session) {
			m.UserRevoked(t.Context(), sess.UserID)
		}},
		{"both, as /logout", func(t *testing.T, m, _ *Manager, sess *models.Session) {
			m.SessionRevoked(t.Context(), sess.Key())
			m.UserRevoked(t.Context(), sess.UserID)
		}},
		{"on another instance, at the next poll", func(t *testing.T, m, other *Manager, sess *models.Session) {
			other.SessionRevoked(t.Context(), sess.Key())
			if err := m.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &heldStore{Store: storetest.New(t), read: make(chan struct{}), release: make(chan struct{})}
			var now atomic.Pointer[time.Time]
			start := time.Now()
			now.Store(&start)
			clock := func() time.Time { return *now.Load() }
			m, other := newManager(t, store, clock, testSecret), newManager(t, store.Store, clock, testSecret)
			if err := m.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			r, sess := signIn(t, m, store.Store, start)
			if _, err := m.Load(r); err != nil {
				t.Fatal(err)
			}
			later := start.Add(3 * time.Second) // past half the 5s TTL, no poll since
			now.Store(&later)
			store.hold.Store(true)
			if _, err := m.Load(r); err != nil { // served, and re-read in the background
				t.Fatal(err)
			}
			<-store.read // the re-read has seen the session live
			store.hold.Store(false)
			if err := store.DeleteSession(t.Context(), sess.ID); err != nil {
				t.Fatal(err)
			}
			tc.logout(t, m, other, sess)
			close(store.release)
			m.loads.Do(sess.Key(), func() (any, error) { return nil, nil }) // waits for the re-read
			if _, err := m.Load(r); !errors.Is(err, ErrNotSignedIn) {
				t.Errorf("Load after logout: %v, want ErrNotSignedIn", err)
			}
		})
	}
}
