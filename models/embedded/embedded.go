// Package embedded runs FerretDB v1 with its SQLite backend inside the
// current process, so the app and its tests can talk to a MongoDB-compatible
// store over the real wire protocol without an external mongod.
//
// FerretDB is not MongoDB: it has no TTL indexes, no change streams and no
// transactions, and every query scans the collection, except a lookup by
// `_id` alone, which [Server.EnsureIDIndexes] makes an index search. See
// docs/store.md.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// DefaultAddr is the TCP address used when [Options.Addr] is empty: a free
// port on the loopback interface.
const DefaultAddr = "127.0.0.1:0"

// MaxConcurrentWrites is the number of writes to let through to this store
// at once (models.Options.MaxConcurrentWrites): SQLite has one writer, and
// writers that find it busy sleep in SQLite's busy handler instead of
// queueing, so writes are best queued by the client. Measured with the
// load generator at 1,000 users: POST /db went from about 170-230/s with a
// p99 of 2-3 s to about 330/s with a p99 of 0.4 s.
const MaxConcurrentWrites = 1

// MaxConnections bounds the driver connections a client of this store
// opens ([Server.URI] carries it as maxPoolSize): FerretDB gives every
// connection a SQLite connection of its own, with its own page cache (up
// to 2 MiB), and keeps up to 100 of them open for good, so the driver's
// default pool of 100 left the process at its peak memory after any
// burst. Queries here are CPU work on a few cores, so a few connections
// per core serve as many requests per second. Measured with the load
// generator at 1,000 users, two runs each: peak RSS 269-284 MiB with
// 100 connections, 190 with 16 and 150-155 with 8, at the same req/s
// within the runs' noise.
func MaxConnections() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Options configure [Start].
type Options struct {
	// Dir is the folder that holds the SQLite files, one per database.
	// It is created with mode 0700 if missing. Required.
	Dir string

	// Addr is the TCP address to listen on; empty means [DefaultAddr].
	// Pass the [Server.Addr] of a closed server to start again on the
	// same port.
	Addr string

	// Logger receives FerretDB's own log lines, and the errors of the
	// background runs of [Server.EnsureIDIndexes] at warn level. FerretDB
	// is chatty, so pass a logger at warn level or above; nil discards
	// everything.
	Logger *slog.Logger

	// IDIndexInterval is how often the server re-runs
	// [Server.EnsureIDIndexes] in the background, so that collections
	// created after Start get the `_id` pushdown index too. Zero means
	// [DefaultIDIndexInterval]. A negative value turns the automatic runs
	// off, the one in Start included; EnsureIDIndexes can still be called.
	IDIndexInterval time.Duration
}

// Server is a running embedded FerretDB. Its methods are safe for
// concurrent use.
type Server struct {
	addr string
	uri  string
	dir  string // absolute data folder, one <database>.sqlite file per database

	cancel    context.CancelFunc
	done      chan struct{} // closed when Run has returned
	runErr    error         // Run's result; read only after done is closed
	closeOnce sync.Once

	// The background runs of EnsureIDIndexes; both nil if they are off.
	stopIndexer context.CancelFunc
	indexerDone chan struct{} // closed when the loop has returned
}

// newMu serialises ferretdb.New: it writes a package-level variable of
// FerretDB's (the build's "package" name), which races when two servers
// start at once in one process. It guards FerretDB's state, not ours.
var newMu sync.Mutex

// Start starts FerretDB on opts.Dir and opts.Addr and returns once it
// accepts connections and, unless [Options.IDIndexInterval] is negative,
// [Server.EnsureIDIndexes] has run once. ctx bounds the start-up only; the
// server runs until [Server.Close]. Start fails if the folder cannot be
// created, the address cannot be bound (for example, it is still in use),
// FerretDB stops before it is ready, or EnsureIDIndexes fails.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded: start: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: start: data folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: start: data folder: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	// FerretDB wants a "file:" URI naming a folder, with a trailing slash.
	sqliteURL := (&url.URL{Scheme: "file", Path: dir + "/"}).String()

	newMu.Lock()
	if err := probeListen(addr); err != nil {
		newMu.Unlock()
		return nil, fmt.Errorf("embedded: start on %s: %w", addr, err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    logger,
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("embedded: start on %s: %w", addr, err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.runErr = f.Run(runCtx)
	}()

	// FerretDB v1 binds its listener in New, so MongoDBURI is safe to call
	// now; it blocks until the listener exists.
	s.uri = f.MongoDBURI()
	u, err := url.Parse(s.uri)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("embedded: start: parse FerretDB URI: %w", err)
	}
	s.addr = u.Host
	q := u.Query()
	q.Set("maxPoolSize", strconv.Itoa(MaxConnections()))
	u.RawQuery = q.Encode()
	s.uri = u.String()

	if err := s.waitReady(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("embedded: start on %s: %w", s.addr, err)
	}
	if err := s.startIDIndexer(ctx, opts.IDIndexInterval, logger); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("embedded: start on %s: %w", s.addr, err)
	}
	return s, nil
}

// probeListen checks that addr can be bound, and releases it at once.
//
// FerretDB v1.24's New opens the SQLite backend before it binds the
// listener and does not close the backend when binding fails; the backend's
// leak detector then panics in a finalizer at the next garbage collection,
// crashing the process. So an address that is busy (a restart racing the
// old listener, another process) or malformed is refused here, before New.
// A third party grabbing the port between this probe and New can still
// trigger the FerretDB bug; that window is a few microseconds.
func probeListen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// waitReady dials the listener until it answers, Run returns, or ctx ends.
func (s *Server) waitReady(ctx context.Context) error {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", s.addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-s.done:
			if s.runErr != nil {
				return fmt.Errorf("FerretDB stopped: %w", s.runErr)
			}
			return errors.New("FerretDB stopped before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("wait for listener: %w", context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URI returns the mongodb:// connection string for the official driver,
// its pool bounded to [MaxConnections].
func (s *Server) URI() string { return s.uri }

// Addr returns the host:port the server is bound to, with the real port
// when [Options.Addr] asked for port 0.
func (s *Server) Addr() string { return s.addr }

// Close stops the background runs of [Server.EnsureIDIndexes], then stops
// the server and waits until FerretDB has closed its listener, its
// connections and its SQLite files. FerretDB gives connected clients up to
// 3 seconds to hang up before it cuts them off, so Close can take that
// long while a client is connected. Close is idempotent; later calls
// return the same result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stopIDIndexer()
		s.cancel()
	})
	<-s.done
	if s.runErr != nil {
		return fmt.Errorf("embedded: run: %w", s.runErr)
	}
	return nil
}
