package models_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// texts returns the texts of recs, in order.
func texts(recs []models.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Text
	}
	return out
}

// mustRecords returns owner's records through the digest (limit 100) and
// fails unless a scan of the whole collection (a limit past the digest)
// says the same.
func mustRecords(t *testing.T, s *models.Store, owner bson.ObjectID) []string {
	t.Helper()
	viaDigest, err := s.RecordsByOwner(testContext(t), owner, models.RecentRecords)
	if err != nil {
		t.Fatalf("RecordsByOwner: %v", err)
	}
	viaScan, err := s.RecordsByOwner(testContext(t), owner, models.RecentRecords+1)
	if err != nil {
		t.Fatalf("RecordsByOwner (scan): %v", err)
	}
	if len(viaScan) > models.RecentRecords {
		viaScan = viaScan[:models.RecentRecords]
	}
	if got, want := texts(viaDigest), texts(viaScan); !slices.Equal(got, want) {
		t.Fatalf("records via the digest = %v,\nvia a scan = %v", got, want)
	}
	return texts(viaDigest)
}

func insertTexts(t *testing.T, s *models.Store, owner bson.ObjectID, from time.Time, names ...string) {
	t.Helper()
	for i, name := range names {
		if _, err := s.InsertRecord(testContext(t), owner, name, from.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("InsertRecord(%s): %v", name, err)
		}
	}
}

// TestRecordDigest_Repairs: whatever state the owner's digest is in
// (behind after a write that died half way or lost a race, missing), the
// newest records read the same as a scan of all records.
func TestRecordDigest_Repairs(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	recent := db.Collection("recent")
	set := func(owner bson.ObjectID, doc bson.M) {
		t.Helper()
		if _, err := recent.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "records:" + owner.Hex()}}, doc); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// damage gets the digest as it was after the first record.
		damage func(owner bson.ObjectID, first bson.M)
	}{
		{"intact", func(bson.ObjectID, bson.M) {}},
		{"missing", func(owner bson.ObjectID, _ bson.M) {
			if _, err := recent.DeleteOne(ctx, bson.D{{Key: "_id", Value: "records:" + owner.Hex()}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"behind by two (writes that died or lost a race)", func(owner bson.ObjectID, first bson.M) { set(owner, first) }},
		{"empty (the first save never happened)", func(owner bson.ObjectID, _ bson.M) { set(owner, bson.M{"seq": 0}) }},
		{"unpacked, as digests were stored before their items were packed", func(owner bson.ObjectID, _ bson.M) {
			set(owner, bson.M{"seq": 3, "items": bson.A{}})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			owner := bson.NewObjectID()
			insertTexts(t, s, owner, t0, "a")
			first := mustRaw(t, db, "recent", "records:"+owner.Hex())
			insertTexts(t, s, owner, t0.Add(time.Second), "b", "c")
			tc.damage(owner, first)
			if got, want := mustRecords(t, s, owner), []string{"c", "b", "a"}; !slices.Equal(got, want) {
				t.Errorf("after damage: %v, want %v", got, want)
			}
			insertTexts(t, s, owner, t0.Add(time.Minute), "d")
			if got, want := mustRecords(t, s, owner), []string{"d", "c", "b", "a"}; !slices.Equal(got, want) {
				t.Errorf("after one more write: %v, want %v", got, want)
			}
			if _, unpacked := mustRaw(t, db, "recent", "records:"+owner.Hex())["items"]; unpacked {
				t.Errorf("the digest still holds its items unpacked after a write")
			}
		})
	}
}

// TestRecordDigest_LegacyRecords: records stored before records were
// numbered (random ObjectIDs, no digest) are listed, newest first, and
// stay below the new ones.
func TestRecordDigest_LegacyRecords(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	owner := bson.NewObjectID()
	for i, text := range []string{"old-1", "old-2"} {
		doc := bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "owner_id", Value: owner},
			{Key: "text", Value: text}, {Key: "created_at", Value: t0.Add(time.Duration(i) * time.Second)}}
		if _, err := db.Collection("records").InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := mustRecords(t, s, owner), []string{"old-2", "old-1"}; !slices.Equal(got, want) {
		t.Errorf("legacy records = %v, want %v", got, want)
	}
	insertTexts(t, s, owner, t0.Add(time.Hour), "new")
	if got, want := mustRecords(t, s, owner), []string{"new", "old-2", "old-1"}; !slices.Equal(got, want) {
		t.Errorf("after a new record = %v, want %v", got, want)
	}
}

// openSameDatabase opens another Store on the database of the first, as a
// second app instance would, watching its commands with monitor.
func openSameDatabase(t *testing.T, srv *embedded.Server, name string, monitor *event.CommandMonitor) *models.Store {
	t.Helper()
	s, err := models.Open(testContext(t), models.Options{URI: srv.URI(), Database: name, Timeout: storetest.StoreTimeout, Monitor: monitor, CacheTTL: storetest.CacheTTL})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(testContext(t)) })
	return s
}

// TestRecordDigest_TwoInstances: two instances writing for one user at the
// same time lose nothing and list the same thing a scan does.
func TestRecordDigest_TwoInstances(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	name := storetest.DatabaseName()
	a, b := openSameDatabase(t, srv, name, nil), openSameDatabase(t, srv, name, nil)
	owner := bson.NewObjectID()
	const each = 20
	var wg sync.WaitGroup
	for i, s := range []*models.Store{a, b} {
		for w := range 2 {
			wg.Go(func() {
				for n := range each / 2 {
					if _, err := s.InsertRecord(testContext(t), owner, fmt.Sprintf("%d-%d-%d", i, w, n), t0); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, s := range []*models.Store{a, b} {
		got := mustRecords(t, s, owner)
		slices.Sort(got)
		if len(slices.Compact(got)) != 2*each {
			t.Errorf("%d distinct records listed, want %d: %v", len(got), 2*each, got)
		}
	}
}

// TestNormalUseIsIDLookups: once a user exists, the store calls behind the
// pages (records, activity, sessions, sign-in, logout) filter on _id
// alone, the one filter the embedded store answers from an index.
func TestNormalUseIsIDLookups(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	var log commandLog
	s := openSameDatabase(t, srv, storetest.DatabaseName(), log.monitor())
	ctx := testContext(t)
	u := mustUpsert(t, s, "4242", t0)
	calls := []struct {
		name string
		call func() error
	}{
		{"sign-in", func() error {
			_, err := s.RecordSignIn(ctx, models.TwitterProfile{ID: "4242", Handle: "h"}, models.ProviderToken{Flow: "oauth2", AccessToken: "at"}, t0)
			return err
		}},
		{"create session", func() error {
			_, err := s.CreateSession(ctx, models.Session{UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			return err
		}},
		{"record event", func() error { return s.RecordEvent(ctx, models.Event{UserID: u.ID, Kind: models.EventSignIn}) }},
		{"insert record", func() error { _, err := s.InsertRecord(ctx, u.ID, "x", t0); return err }},
		{"records", func() error { _, err := s.RecordsByOwner(ctx, u.ID, models.RecentRecords); return err }},
		{"events", func() error { _, err := s.EventsByUser(ctx, u.ID, models.RecentEvents); return err }},
		{"sessions", func() error { _, err := s.SessionsByUser(ctx, u.ID, t0); return err }},
		{"user", func() error { _, err := s.UserByID(ctx, u.ID); return err }},
		{"logout: token to the outbox", func() error {
			_, err := s.MoveTokenToOutbox(ctx, u.ID, models.Revocation{Reason: "logout"}, t0)
			return err
		}},
		{"clear token", func() error { return s.ClearProviderToken(ctx, u.ID) }},
		{"log out everywhere", func() error { _, err := s.DeleteUserSessions(ctx, u.ID); return err }},
		{"revoke service tokens", func() error { return s.RevokeTokens(ctx, u.ID, t0) }},
		{"spend login state", func() error { return s.SpendLoginState(ctx, "nonce", t0.Add(10*time.Minute)) }},
	}
	log.take()
	for _, tc := range calls {
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, f := range log.take() {
			if !strings.HasSuffix(f, " _id") {
				t.Errorf("%s sent %q, want a filter on _id alone", tc.name, f)
			}
		}
	}
}

// TestEvents_CappedAndNewestFirst: a user keeps their newest
// MaxEventsPerUser events, and the activity page's newest ones come from
// the digest in the same order as a scan gives.
func TestEvents_CappedAndNewestFirst(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	user := bson.NewObjectID()
	const n = models.MaxEventsPerUser + 20
	for i := range n {
		ev := models.Event{UserID: user, Kind: models.EventSignIn, Detail: fmt.Sprint(i), At: t0.Add(time.Duration(i) * time.Second)}
		if err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustCount(t, db, "events", bson.D{{Key: "user_id", Value: user}}); got != models.MaxEventsPerUser {
		t.Errorf("%d events kept, want %d", got, models.MaxEventsPerUser)
	}
	recent, err := s.EventsByUser(ctx, user, models.RecentEvents)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.EventsByUser(ctx, user, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != models.RecentEvents || len(all) != models.MaxEventsPerUser {
		t.Fatalf("got %d recent and %d in all, want %d and %d", len(recent), len(all), models.RecentEvents, models.MaxEventsPerUser)
	}
	for i, ev := range recent {
		if want := fmt.Sprint(n - 1 - i); ev.Detail != want || all[i].Detail != want {
			t.Fatalf("event %d: digest %q, scan %q, want %q", i, ev.Detail, all[i].Detail, want)
		}
	}
}

// commandsDuring returns the commands, by name, that call made the store
// send.
func commandsDuring(counter *models.CommandCounter, call func()) map[string]int64 {
	before := counter.Counts()
	call()
	got := map[string]int64{}
	for name, n := range counter.Counts() {
		if d := n - before[name]; d > 0 {
			got[name] = d
		}
	}
	return got
}

// TestCommandCounter_PageCost: a page of records costs one read (a count
// that checks the number after the cached digest's is free) on an
// instance that has the digest cached and two (the digest too) on one
// that has not, a record costs one read and two writes (the record and the
// digest), and spending a login state one insert, whatever the store holds.
func TestCommandCounter_PageCost(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	var counter models.CommandCounter
	name := storetest.DatabaseName()
	s := openSameDatabase(t, srv, name, counter.Monitor())
	other := openSameDatabase(t, srv, name, counter.Monitor())
	ctx := testContext(t)
	u := mustUpsert(t, s, "77", t0)
	insertTexts(t, s, u.ID, t0, "warm-up")
	tests := []struct {
		name string
		call func()
		want map[string]int64
	}{
		{"InsertRecord", func() { insertTexts(t, s, u.ID, t0, "x") }, map[string]int64{"find": 1, "insert": 1, "update": 1}},
		{"RecordsByOwner", func() {
			if _, err := s.RecordsByOwner(ctx, u.ID, models.RecentRecords); err != nil {
				t.Fatal(err)
			}
		}, map[string]int64{"count": 1}},
		{"RecordsByOwner on another instance", func() {
			if _, err := other.RecordsByOwner(ctx, u.ID, models.RecentRecords); err != nil {
				t.Fatal(err)
			}
		}, map[string]int64{"find": 1, "count": 1}},
		{"SpendLoginState", func() {
			if err := s.SpendLoginState(ctx, "n1", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}, map[string]int64{"insert": 1}},
	}
	for _, tc := range tests {
		if got := commandsDuring(&counter, tc.call); !maps.Equal(got, tc.want) {
			t.Errorf("%s sent %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStartSession_OneDigestWrite: a sign-in's session and event cost one
// read of the user's events digest, the two inserts and one digest write,
// and both show: the session in the list, the event in the activity.
func TestStartSession_OneDigestWrite(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	var counter models.CommandCounter
	s := openSameDatabase(t, srv, storetest.DatabaseName(), counter.Monitor())
	ctx := testContext(t)
	u := mustUpsert(t, s, "88", t0)
	ev := models.Event{Kind: models.EventSignIn, Flow: "oauth2", At: t0}
	var sess *models.Session
	got := commandsDuring(&counter, func() {
		var err error
		sess, err = s.StartSession(ctx, models.Session{UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, &ev)
		if err != nil {
			t.Fatal(err)
		}
	})
	if want := map[string]int64{"find": 1, "insert": 2, "update": 1}; !maps.Equal(got, want) {
		t.Errorf("StartSession sent %v, want %v", got, want)
	}
	list, err := s.SessionsByUser(ctx, u.ID, t0)
	if err != nil || len(list) != 1 || list[0].Key() != sess.Key() {
		t.Errorf("sessions = %v, %v; want the new one", list, err)
	}
	evs, err := s.EventsByUser(ctx, u.ID, models.RecentEvents)
	if err != nil || len(evs) != 1 || evs[0].Kind != models.EventSignIn || evs[0].Flow != "oauth2" {
		t.Errorf("events = %+v, %v; want the sign-in", evs, err)
	}
}
