package models_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/models"
)

func TestRecordsByOwner(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testContext(t)
	alice, bob, carol := bson.NewObjectID(), bson.NewObjectID(), bson.NewObjectID()

	insert := func(owner bson.ObjectID, text string, at time.Time) models.Record {
		t.Helper()
		r, err := s.InsertRecord(ctx, owner, text, at)
		if err != nil {
			t.Fatalf("InsertRecord: %v", err)
		}
		return *r
	}
	a1 := insert(alice, "a1", t0)
	b1 := insert(bob, "b1", t0.Add(5*time.Second)) // newer than all of alice's
	a2 := insert(alice, "a2", t0.Add(2*time.Second))
	a3 := insert(alice, "a3", t0.Add(time.Second))
	a4 := insert(alice, "a4", t0.Add(2*time.Second)) // same time as a2, larger _id

	tests := []struct {
		name  string
		owner bson.ObjectID
		limit int
		want  []models.Record
	}{
		{"newest first, ties by _id", alice, 10, []models.Record{a4, a2, a3, a1}},
		{"limit", alice, 2, []models.Record{a4, a2}},
		{"limit one", alice, 1, []models.Record{a4}},
		{"other owner only sees theirs", bob, 10, []models.Record{b1}},
		{"owner with none", carol, 10, []models.Record{}},
		{"zero limit", alice, 0, []models.Record{}},
		{"negative limit", alice, -1, []models.Record{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.RecordsByOwner(ctx, tc.owner, tc.limit)
			if err != nil {
				t.Fatalf("RecordsByOwner: %v", err)
			}
			if got == nil {
				t.Fatal("RecordsByOwner = nil, want a non-nil slice")
			}
			if len(got) != len(tc.want) {
				t.Fatalf("RecordsByOwner = %d records %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("record %d =\n%+v\nwant\n%+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestInsertRecord_TextIsLiteral(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name string
		text string
	}{
		{"$where", "$where"},
		{"json operator", `{"$gt":""}`},
		{"javascript", `$where: function() { return true }`},
		{"dotted", "a.b.c"},
		{"dollar dotted", "$set.x"},
		{"empty", ""},
		{"unicode", "héllo, 世界 🐦"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Distinct times so the order below is known.
			r, err := s.InsertRecord(ctx, bson.ObjectID{1}, tc.text, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatalf("InsertRecord: %v", err)
			}
			if r.Text != tc.text {
				t.Errorf("returned Text = %q, want %q", r.Text, tc.text)
			}
			if got := mustRaw(t, db, "records", r.ID)["text"]; got != tc.text {
				t.Errorf("stored text = %#v, want %q", got, tc.text)
			}
		})
	}
	got, err := s.RecordsByOwner(ctx, bson.ObjectID{1}, 100)
	if err != nil {
		t.Fatalf("RecordsByOwner: %v", err)
	}
	if len(got) != len(tests) {
		t.Fatalf("RecordsByOwner = %d records, want %d", len(got), len(tests))
	}
	for i, r := range got {
		if want := tests[len(tests)-1-i].text; r.Text != want {
			t.Errorf("record %d Text = %q, want %q", i, r.Text, want)
		}
	}
}

func TestInsertRecord_Times(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	r, err := s.InsertRecord(testContext(t), bson.NewObjectID(), "x", t0)
	if err != nil {
		t.Fatalf("InsertRecord: %v", err)
	}
	if want := t0.UTC().Truncate(time.Millisecond); r.CreatedAt != want {
		t.Errorf("CreatedAt = %v, want %v", r.CreatedAt, want)
	}
}
