package models_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/storetest"
)

// TestMoveTokenToOutbox: logout moves the token from the user into the
// outbox, encrypted when keys are configured; moving twice queues nothing
// more, and a user without a token gives no entry.
func TestMoveTokenToOutbox(t *testing.T) {
	t.Parallel()
	srv := storetest.NewServer(t)
	name := storetest.DatabaseName()
	ctx := testContext(t)
	s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: name,
		TokenKeys: []models.TokenKey{{ID: "k1", Key: make([]byte, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	_, db := openStore(t, srv)
	db = db.Client().Database(name)

	u := mustUpsert(t, s, "1001", t0)
	id, err := s.MoveTokenToOutbox(ctx, u.ID, models.Revocation{Reason: "logout"}, t0)
	if err != nil || id == "" {
		t.Fatalf("MoveTokenToOutbox = %q, %v", id, err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.Token != nil {
		t.Errorf("token still stored on the user: %+v", got.Token)
	}
	raw := mustRaw(t, db, "revocation_outbox", id)
	var stored struct {
		Token models.ProviderToken `bson:"token"`
	}
	b, _ := bson.Marshal(raw)
	if err := bson.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if at := stored.Token.AccessToken; !strings.HasPrefix(at, "enc:v1:k1:") {
		t.Errorf("outbox token stored as %q, want sealed", at)
	}
	again, err := s.MoveTokenToOutbox(ctx, u.ID, models.Revocation{Reason: "logout"}, t0)
	if err != nil || again != "" {
		t.Errorf("second move = %q, %v; want nothing to move", again, err)
	}
	if n := mustCount(t, db, "revocation_outbox", bson.D{}); n != 1 {
		t.Errorf("%d outbox entries, want 1", n)
	}
	if _, err := s.QueueRevocation(ctx, models.Revocation{ID: id, UserID: u.ID,
		Token: models.ProviderToken{Flow: "oauth2", AccessToken: "at-1001"}}, t0); err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, db, "revocation_outbox", bson.D{}); n != 1 {
		t.Errorf("queueing the same token again: %d outbox entries, want 1", n)
	}
	// Another token of the same generation (two sign-ins in one clock
	// tick), moved while the first still waits: an entry of its own.
	if _, err := s.UpsertTwitterUser(ctx, models.TwitterProfile{ID: "1001", Handle: "h1001"},
		models.ProviderToken{Flow: "oauth2", AccessToken: "at-1001-b"}, t0); err != nil {
		t.Fatal(err)
	}
	second, err := s.MoveTokenToOutbox(ctx, u.ID, models.Revocation{Reason: "logout"}, t0)
	if err != nil || second == "" || second == id {
		t.Fatalf("moving a second token of one generation = %q, %v; want a new entry besides %q", second, err, id)
	}
	rev, err := s.ClaimRevocation(ctx, id, t0.Add(time.Minute), t0)
	if err != nil || rev == nil || rev.Token.AccessToken != "at-1001" || rev.Reason != "logout" {
		t.Fatalf("ClaimRevocation = %+v, %v; want the opened token", rev, err)
	}
}

// TestClaimRevocation: of many claimers of one due entry exactly one wins
// a round; a lapsed lease is taken over in the next round; an entry put
// back for later or finished is not claimed.
func TestClaimRevocation(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	u := mustUpsert(t, s, "1002", t0)
	id, err := s.MoveTokenToOutbox(ctx, u.ID, models.Revocation{Reason: "logout"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	claim := func(now time.Time) *models.Revocation {
		t.Helper()
		r, err := s.ClaimRevocation(ctx, id, now.Add(time.Minute), now)
		if err != nil {
			t.Fatalf("ClaimRevocation: %v", err)
		}
		return r
	}

	var wins sync.Map
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if r := claim(t0); r != nil {
				wins.Store(i, r)
			}
		})
	}
	wg.Wait()
	var won []*models.Revocation
	wins.Range(func(_, v any) bool { won = append(won, v.(*models.Revocation)); return true })
	if len(won) != 1 || won[0].Lease != 0 {
		t.Fatalf("%d of 8 claimers won round 0, want exactly 1", len(won))
	}
	steps := []struct {
		name  string
		now   time.Time
		setup func()
		want  int // round claimed; -1 none
	}{
		{"held lease", t0.Add(30 * time.Second), nil, -1},
		{"lapsed lease: next round", t0.Add(2 * time.Minute), nil, 1},
		{"put back for later: not due", t0.Add(3 * time.Minute), func() {
			r := &models.Revocation{ID: id, Lease: 1}
			if err := s.RetryRevocation(ctx, r, t0.Add(time.Hour), "503"); err != nil {
				t.Fatal(err)
			}
		}, -1},
		{"due again", t0.Add(time.Hour), nil, 2},
		{"finished", t0.Add(5 * time.Hour), func() {
			if err := s.FinishRevocation(ctx, &models.Revocation{ID: id, Lease: 2}); err != nil {
				t.Fatal(err)
			}
		}, -1},
	}
	for _, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		r := claim(st.now)
		got := -1
		if r != nil {
			got = r.Lease
		}
		if got != st.want {
			t.Errorf("%s: claimed round %d, want %d", st.name, got, st.want)
		}
	}
	if ids, err := s.DueRevocations(ctx, t0.Add(24*time.Hour), 10); err != nil || len(ids) != 0 {
		t.Errorf("DueRevocations after finish = %v, %v; want none", ids, err)
	}
}
