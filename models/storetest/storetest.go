// Package storetest starts embedded FerretDB stores for tests of other
// packages. Every helper registers its own cleanup with tb.Cleanup.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

// StoreTimeout is the server selection timeout of stores made by [Open]:
// short, so tests of an unavailable store finish quickly.
const StoreTimeout = 2 * time.Second

// setupTimeout bounds starting a server or opening a store.
const setupTimeout = 30 * time.Second

// CacheTTL is the store's digest cache TTL in tests: the app's default
// SESSION_CACHE_TTL, so tests run the cache as the app does.
const CacheTTL = 5 * time.Second

// NewServer starts an embedded FerretDB whose data lives in tb.TempDir()
// and closes it when the test ends. FerretDB's errors go to stderr; its
// warnings are left out, since it logs every refused command (such as the
// TTL index on every Open) as a warning with a full protocol dump.
func NewServer(tb testing.TB) *embedded.Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: tb.TempDir(), Logger: ErrorLogger()})
	if err != nil {
		tb.Fatalf("start embedded FerretDB: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close embedded FerretDB: %v", err)
		}
	})
	return srv
}

// Open opens a store on srv in a fresh, randomly named database, with a
// [StoreTimeout] server selection timeout, and closes it when the test ends
// (before srv is closed, if srv was made by [NewServer] earlier in the same
// test).
func Open(tb testing.TB, srv *embedded.Server) *models.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := models.Open(ctx, models.Options{
		URI:                 srv.URI(),
		Database:            DatabaseName(),
		Timeout:             StoreTimeout,
		MaxConcurrentWrites: embedded.MaxConcurrentWrites,
		CacheTTL:            CacheTTL,
	})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// New starts an embedded FerretDB for this test and opens a store on it.
func New(tb testing.TB) *models.Store {
	tb.Helper()
	return Open(tb, NewServer(tb))
}

// DatabaseName returns a fresh random database name, valid for MongoDB and
// for FerretDB's SQLite backend.
func DatabaseName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "test_" + hex.EncodeToString(b)
}

// ErrorLogger returns a logger that writes errors to stderr, the level to
// give FerretDB in tests.
func ErrorLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}
