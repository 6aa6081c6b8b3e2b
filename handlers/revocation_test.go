package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// metricValue sums, over the series of metric name whose label has
// value, the counter or gauge values, or the histogram sample counts.
func metricValue(t *testing.T, srv *Server, name, label, value string) float64 {
	t.Helper()
	families, err := srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != label || l.GetValue() != value {
					continue
				}
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// cacheReads is how many store reads of kind srv's session cache made.
func cacheReads(t *testing.T, srv *Server, kind string) float64 {
	t.Helper()
	return metricValue(t, srv, "twitterlogin_session_cache_store_reads_total", "kind", kind)
}

// mustPoll has srv read the change feed once.
func mustPoll(t *testing.T, srv *Server) {
	t.Helper()
	if err := srv.sessions.Poll(t.Context()); err != nil {
		t.Fatalf("poll the change feed: %v", err)
	}
}

// openSharedStores opens n connections to one fresh database on a fresh
// embedded server, one per app instance.
func openSharedStores(t *testing.T, n int) []*models.Store {
	t.Helper()
	srv := storetest.NewServer(t)
	name := storetest.DatabaseName()
	stores := make([]*models.Store, n)
	for i := range stores {
		s, err := models.Open(t.Context(), models.Options{URI: srv.URI(), Database: name, Timeout: storetest.StoreTimeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		stores[i] = s
	}
	return stores
}

// otherHandle returns the handle, on the sessions page of b, of the one
// session that is not b's.
func otherHandle(t *testing.T, b *browser) string {
	t.Helper()
	for _, row := range strings.Split(b.get("/sessions").body, "<li>")[1:] {
		if m := sessionHandleField.FindStringSubmatch(row); m != nil && !strings.Contains(row, "(this browser)") {
			return m[1]
		}
	}
	t.Fatal("no other session on the sessions page")
	return ""
}

// TestRevocationReachesOtherInstanceAtPoll: a session ended on instance A
// is refused on instance B after B's next poll of the change feed. An
// ended session costs B no store read (the feed said so); a user signed
// out everywhere costs one per cached session, whose re-read says so.
func TestRevocationReachesOtherInstanceAtPoll(t *testing.T) {
	tests := []struct {
		name    string
		end     func(b, other *browser)
		rereads float64
	}{
		{"logout", func(b, _ *browser) {
			wantStatus(t, b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
		}, 0},
		{"ended from another browser", func(_, other *browser) {
			form := url.Values{"session": {otherHandle(t, other)}, "csrf_token": {other.csrf()}}
			wantStatus(t, other.postForm("/sessions/end", form), http.StatusSeeOther)
		}, 0},
		{"logged out everywhere", func(_, other *browser) {
			wantStatus(t, other.postForm("/sessions/end-all", url.Values{"csrf_token": {other.csrf()}}), http.StatusSeeOther)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
			bSrv, bApp := h.secondServer(h.store)
			mustPoll(t, bSrv)
			b, other := h.browser(), h.browser()
			b.login("oauth2", "1001")
			other.login("oauth1", "1001")
			cookie := b.cookie(sessionCookie)
			if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusOK {
				t.Fatalf("B before the end: %d, want 200", got)
			}
			before := cacheReads(t, bSrv, "session")

			tt.end(b, other)
			// Within the bound, B may still serve it: it has not polled.
			if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusOK {
				t.Errorf("B before its poll: %d, want 200 from its cache", got)
			}
			mustPoll(t, bSrv)
			for range 3 {
				if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusUnauthorized {
					t.Errorf("B after its poll: %d, want 401", got)
				}
			}
			if got := cacheReads(t, bSrv, "session") - before; got != tt.rereads {
				t.Errorf("B read the session %v times after its poll, want %v", got, tt.rereads)
			}
		})
	}
}

// TestWatchStoreFollowsFeed: WatchStore's own poller carries a logout on
// A to B, with no clock advanced. The deadline only stops a broken build
// from hanging the suite.
func TestWatchStoreFollowsFeed(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
	bSrv, bApp := h.secondServer(h.store)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { bSrv.WatchStore(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	b := h.browser()
	cookie := signedInOn(t, b, bApp.URL)
	wantStatus(t, b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
	deadline := time.Now().Add(30 * time.Second)
	for getWithCookie(t, bApp.URL, "/me", cookie) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("B never refused the logged-out session")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCacheNoPerSessionReads: with sessions in use and the feed polled,
// requests spread over them read nothing from the store after each
// session's first load, however long they go on (apart from the polls).
func TestCacheNoPerSessionReads(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
	mustPoll(t, h.srv)
	var browsers []*browser
	for _, id := range []string{"1001", "1002", "1003"} {
		for _, flow := range flows {
			b := h.browser()
			b.login(flow, id)
			browsers = append(browsers, b)
		}
	}
	for _, b := range browsers {
		wantStatus(t, b.get("/me"), http.StatusOK)
	}
	sessions, users := cacheReads(t, h.srv, "session"), cacheReads(t, h.srv, "user")
	if sessions != float64(len(browsers)) || users != 3 {
		t.Errorf("first loads read %v sessions and %v users, want %d and 3", sessions, users, len(browsers))
	}
	polls := cacheReads(t, h.srv, "changes")
	// Past the TTL many times, and past the last_seen granularity.
	for range 70 {
		h.clock.Advance(time.Second)
		mustPoll(t, h.srv)
		for _, b := range browsers {
			wantStatus(t, b.get("/me"), http.StatusOK)
		}
	}
	if s, u := cacheReads(t, h.srv, "session"), cacheReads(t, h.srv, "user"); s != sessions || u != users {
		t.Errorf("after the first loads: %v session and %v user reads, want none", s-sessions, u-users)
	}
	perPoll := (cacheReads(t, h.srv, "changes") - polls) / 70
	if perPoll < 1 || perPoll > 20 {
		t.Errorf("%.1f change-feed lookups per poll, want one per second of its window", perPoll)
	}
	t.Logf("%.1f change-feed lookups per poll", perPoll)
	got := metricValue(t, h.srv, "twitterlogin_session_cache_entries", "kind", "session")
	if got != float64(len(browsers)) {
		t.Errorf("session entries gauge %v, want %d", got, len(browsers))
	}
	if got := metricValue(t, h.srv, "twitterlogin_session_cache_entries", "kind", "user"); got != 3 {
		t.Errorf("user entries gauge %v, want 3", got)
	}
}

// TestFeedDownStopsTrust: when B cannot read the change feed, it stops
// trusting its cached sessions a SESSION_CACHE_TTL after its last good
// poll and asks the store instead: a session logged out on A meanwhile is
// refused, or, with the store down, nothing is served from memory.
func TestFeedDownStopsTrust(t *testing.T) {
	tests := []struct {
		name      string
		breakFeed func(t *testing.T, bSrv *Server, bStore *models.Store) error
		want      int
	}{
		{"polls fail", func(t *testing.T, bSrv *Server, _ *models.Store) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return bSrv.sessions.Poll(ctx)
		}, http.StatusUnauthorized},
		{"store stopped", func(t *testing.T, bSrv *Server, bStore *models.Store) error {
			if err := bStore.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			return bSrv.sessions.Poll(t.Context())
		}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stores := openSharedStores(t, 2)
			h := newHarness(t, harnessOptions{store: stores[0], env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
			bSrv, bApp := h.secondServer(stores[1])
			mustPoll(t, bSrv)
			b := h.browser()
			cookie := signedInOn(t, b, bApp.URL)
			wantStatus(t, b.postForm("/logout", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
			if err := tt.breakFeed(t, bSrv, stores[1]); err == nil {
				t.Fatal("poll succeeded; want the feed down")
			}
			if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusOK {
				t.Errorf("B within SESSION_CACHE_TTL: %d, want 200 from its cache", got)
			}
			before := cacheReads(t, bSrv, "session")
			h.clock.Advance(h.cfg.SessionCacheTTL)
			if got := getWithCookie(t, bApp.URL, "/me", cookie); got != tt.want {
				t.Errorf("B after SESSION_CACHE_TTL: %d, want %d", got, tt.want)
			}
			if cacheReads(t, bSrv, "session") != before+1 {
				t.Error("B did not ask the store")
			}
		})
	}
}

// TestLastSeenBatched: last_seen is written for every due session in one
// bulk write, at most once per LastSeenGranularity per session, however
// many requests each makes.
func TestLastSeenBatched(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
	mustPoll(t, h.srv)
	laptop, phone, other := h.browser(), h.browser(), h.browser()
	laptop.login("oauth2", "1001")
	phone.login("oauth1", "1001")
	other.login("oauth2", "1002")
	browsers := []*browser{laptop, phone, other}
	touchWrites := func() float64 {
		return metricValue(t, h.srv, "twitterlogin_store_call_duration_seconds", "operation", "touch_sessions")
	}
	// requests makes three requests per browser, flushes the batch, and
	// checks how many bulk writes there were and every session's last_seen.
	requests := func(step string, wantWrites float64, wantSeen time.Time) {
		t.Helper()
		for range 3 {
			for _, b := range browsers {
				wantStatus(t, b.get("/me"), http.StatusOK)
			}
		}
		h.srv.sessions.FlushLastSeen(t.Context())
		if got := touchWrites(); got != wantWrites {
			t.Errorf("%s: %v bulk touches in all, want %v", step, got, wantWrites)
		}
		for _, b := range []*browser{laptop, other} {
			list, err := h.store.SessionsByUser(t.Context(), b.userID(), h.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, sess := range list {
				if !sess.LastSeen.Equal(wantSeen.UTC().Truncate(time.Millisecond)) {
					t.Errorf("%s: a session of %s last seen %v, want %v", step, b.userID().Hex(), sess.LastSeen, wantSeen)
				}
			}
		}
	}
	start := h.clock.Now()
	requests("first use", 1, start)
	h.clock.Advance(models.LastSeenGranularity / 2)
	mustPoll(t, h.srv)
	requests("within the granularity", 1, start)
	h.clock.Advance(models.LastSeenGranularity / 2)
	mustPoll(t, h.srv)
	requests("a granularity later", 2, h.clock.Now())
}

// publishFails is the real store, with PublishChange failing while fail
// is set, as when the store fails between a logout and its publish.
type publishFails struct {
	*models.Store
	fail atomic.Bool
}

func (s *publishFails) PublishChange(ctx context.Context, ch models.Change, now time.Time) error {
	if s.fail.Load() {
		return fmt.Errorf("publish change: %w", models.ErrUnavailable)
	}
	return s.Store.PublishChange(ctx, ch, now)
}

// TestRevocationPublishRetried: a logout whose publish fails still signs
// out, and other instances learn of it once the retry gets through.
func TestRevocationPublishRetried(t *testing.T) {
	h := newHarness(t, harnessOptions{env: map[string]string{"SESSION_CACHE_TTL": "5s"}})
	flaky := &publishFails{Store: h.store}
	cSrv, err := New(Options{Config: h.cfg, Store: flaky, Now: h.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cApp := httptest.NewServer(cSrv.Handler())
	t.Cleanup(cApp.Close)
	bSrv, bApp := h.secondServer(h.store)
	mustPoll(t, bSrv)
	b := h.browser()
	cookie := signedInOn(t, b, bApp.URL)

	flaky.fail.Store(true)
	wantStatus(t, b.postForm(cApp.URL+"/logout", url.Values{"csrf_token": {b.csrf()}}), http.StatusSeeOther)
	if got := getWithCookie(t, cApp.URL, "/me", cookie); got != http.StatusUnauthorized {
		t.Errorf("C, which logged out: %d, want 401", got)
	}
	mustPoll(t, bSrv)
	if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusOK {
		t.Errorf("B with nothing published: %d, want 200 from its cache", got)
	}
	flaky.fail.Store(false)
	cSrv.sessions.Republish(t.Context())
	mustPoll(t, bSrv)
	if got := getWithCookie(t, bApp.URL, "/me", cookie); got != http.StatusUnauthorized {
		t.Errorf("B after the retry: %d, want 401", got)
	}
}

// signedInOn signs b in as the dev user 1001 and checks that instance
// base accepts the session; it returns the session cookie.
func signedInOn(t *testing.T, b *browser, base string) string {
	t.Helper()
	b.login("oauth2", "1001")
	cookie := b.cookie(sessionCookie)
	if got := getWithCookie(t, base, "/me", cookie); got != http.StatusOK {
		t.Fatalf("%s before the logout: %d, want 200", base, got)
	}
	return cookie
}
