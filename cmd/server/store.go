package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
)

// openStore connects to MONGODB_URI, or starts the embedded store when
// it is empty. close releases both.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, commands *models.CommandCounter) (store *models.Store, close func(), err error) {
	var closers []func()
	close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	uri, maxWrites := cfg.MongoURI, 0
	if uri == "" {
		srv, err := startEmbedded(ctx, cfg, log)
		if err != nil {
			return nil, close, err
		}
		closers = append(closers, func() { _ = srv.Close() })
		uri, maxWrites = srv.URI(), embedded.MaxConcurrentWrites
	}
	keys := make([]models.TokenKey, len(cfg.TokenEncryptionKeys))
	for i, k := range cfg.TokenEncryptionKeys {
		keys[i] = models.TokenKey{ID: k.ID, Key: k.Key}
	}
	opts := models.Options{URI: uri, Database: cfg.MongoDatabase, Logger: log,
		DefaultRoles: cfg.Tokens.DefaultRoles, TokenKeys: keys, MaxConcurrentWrites: maxWrites,
		CacheTTL: cfg.SessionCacheTTL}
	if commands != nil {
		opts.Monitor = commands.Monitor()
	}
	store, err = models.Open(ctx, opts)
	if err != nil {
		close()
		return nil, func() {}, fmt.Errorf("open store: %w", err)
	}
	closers = append(closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = store.Close(ctx)
	})
	return store, close, nil
}

// reencryptTokens is -reencrypt-tokens: every stored Twitter token sealed
// under an older key is sealed again under the newest.
func reencryptTokens(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	store, close, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer close()
	n, err := store.ReencryptTokens(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d Twitter tokens under key %q\n", n, cfg.TokenEncryptionKeys[0].ID)
	return nil
}

// deleteUser is -delete-user: the account named by who (a Twitter id or
// @handle) is deleted as by its own "Delete my account", and what went is
// printed. Running instances hear of it through the change feed; the
// Twitter credential waits in the revocation outbox for the next instance
// that scans it.
func deleteUser(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer, who string) error {
	store, close, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer close()
	u, err := store.FindUser(ctx, who)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	now := time.Now()
	d, err := store.DeleteAccount(ctx, u.ID, models.Revocation{RequestID: "delete-user"}, now)
	if err != nil {
		return fmt.Errorf("delete user: %w (run it again, or start the server: its sweep finishes the deletion)", err)
	}
	if err := store.PublishChange(ctx, models.Change{UserID: u.ID}, now); err != nil {
		log.Warn("running instances not told of the deletion; they drop the sessions when next read from the store", "err", err.Error())
	}
	credential := "none stored"
	if d.OutboxID != "" {
		credential = "queued for revocation at Twitter (a running server revokes it)"
	}
	fmt.Fprintf(stdout, "deleted user @%s (Twitter id %s): %d records, %d sessions, %d activity events; Twitter credential: %s\n",
		u.Handle, u.TwitterID, d.Records, d.Sessions, d.Events, credential)
	return nil
}

// startEmbedded runs the embedded FerretDB store with its data in DATA_DIR.
func startEmbedded(ctx context.Context, cfg *config.Config, log *slog.Logger) (*embedded.Server, error) {
	if !cfg.Dev {
		log.Warn("MONGODB_URI is not set: using the embedded single-instance store; run several instances only against a MongoDB replica set")
	}
	// FerretDB logs every connection at info and every refused command (the
	// TTL index, say) as a warning with a protocol dump; keep its errors.
	quiet := levelFloor{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "ferretdb")}), slog.LevelError}
	srv, err := embedded.Start(ctx, embedded.Options{
		Dir:    filepath.Join(cfg.DataDir, "db"),
		Logger: slog.New(quiet),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	return srv, nil
}

// levelFloor drops records below a level, whatever the wrapped handler's
// own level is.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(as), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
