package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// TestDeleteUserFlag: -delete-user deletes a user created through the
// store, found by @handle, prints what it removed (never the token), and
// leaves the credential in the revocation outbox for a server to revoke.
func TestDeleteUserFlag(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir}
	deleteUser := func(who string) (string, error) {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"-dev", "-delete-user", who}, func(k string) string { return env[k] }, &out, &errs)
		return out.String(), err
	}
	// The first run makes the dev keys and the database.
	if _, err := deleteUser("@ada"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("-delete-user of nobody: %v, want ErrNotFound", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, config.DevTokenKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	withStore(t, dir, key, func(ctx context.Context, s *models.Store) {
		_, err := s.RecordSignIn(ctx, models.TwitterProfile{ID: "1001", Handle: "ada", Name: "Ada Lovelace"},
			models.ProviderToken{Flow: "oauth2", AccessToken: "access-secret-1001"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"one", "two"} {
			if _, err := s.InsertRecord(ctx, uidOf(t, "1001"), text, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	})

	out, err := deleteUser("@ADA")
	if err != nil {
		t.Fatalf("-delete-user @ADA: %v", err)
	}
	want := "deleted user @ada (Twitter id 1001): 2 records, 0 sessions, 0 activity events; Twitter credential: queued for revocation"
	if !strings.HasPrefix(out, want) || strings.Contains(out, "access-secret") {
		t.Errorf("-delete-user printed %q, want %q...", out, want)
	}
	withStore(t, dir, key, func(ctx context.Context, s *models.Store) {
		if _, err := s.UserByTwitterID(ctx, "1001"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the user after -delete-user: %v, want ErrNotFound", err)
		}
		if recs, err := s.RecordsByOwner(ctx, uidOf(t, "1001"), 10); err != nil || len(recs) != 0 {
			t.Errorf("records after -delete-user: %v, %v", recs, err)
		}
		if ids, err := s.PendingDeletions(ctx); err != nil || len(ids) != 0 {
			t.Errorf("deletion markers after -delete-user: %v, %v", ids, err)
		}
		if ids, err := s.DueRevocations(ctx, time.Now(), 10); err != nil || len(ids) != 1 {
			t.Errorf("outbox after -delete-user: %v, %v; want the credential", ids, err)
		}
	})
	if _, err := deleteUser("1001"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("-delete-user of a deleted Twitter id: %v, want ErrNotFound", err)
	}
}

// withStore opens the dev store in DATA_DIR dir with the dev token key.
func withStore(t *testing.T, dir string, key []byte, fn func(context.Context, *models.Store)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: filepath.Join(dir, "db"), Logger: storetest.ErrorLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := models.Open(ctx, models.Options{URI: srv.URI(), Database: "twitterlogin",
		TokenKeys: []models.TokenKey{{ID: "dev", Key: key}}, MaxConcurrentWrites: embedded.MaxConcurrentWrites})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	fn(ctx, s)
}

func uidOf(t *testing.T, twitterID string) bson.ObjectID {
	t.Helper()
	id, err := models.UserIDFor(twitterID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
