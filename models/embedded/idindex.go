package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver FerretDB uses, registered as "sqlite"
)

// This file works around FerretDB's unused `_id` index (FerretDB issue
// 3235, https://github.com/FerretDB/FerretDB/issues/3235), as read in the
// v1.24.2 source (internal/backends/sqlite):
//
//   - Each database is one file, <database>.sqlite, in the data folder
//     (metadata/pool: filenameExtension, databaseFile), opened through
//     modernc.org/sqlite (driver "sqlite") in WAL mode with
//     busy_timeout(10000) (metadata/pool: openDB, setDefaultValues).
//   - Each collection is a table with one column, _ferretdb_sjson (plus
//     _ferretdb_record_id if capped), listed with its table name in
//     _ferretdb_collections (name, table_name, settings)
//     (metadata: Registry.collectionCreate, databaseGetOrCreate).
//   - The `_id` index is created as
//     CREATE UNIQUE INDEX "<table>__id_" ON "<table>" (_ferretdb_sjson->"_id")
//     (metadata: Registry.indexesCreate).
//   - A filter whose only key is `_id`, with a string or ObjectID value, is
//     pushed down as WHERE _ferretdb_sjson->'$._id' = ?
//     (collection.Query, collection.Explain, metadata.IDColumn).
//
// SQLite uses an expression index only for a query expression that is
// the same expression as the index's, compared as written rather than by
// meaning, so ->'$._id' never uses the ->"_id" index and every `_id`
// lookup scans the table. An extra index on exactly the pushed-down
// expression, CREATE INDEX "<table>_id_pushdown" ON "<table>"
// (_ferretdb_sjson->'$._id'), turns that scan into SEARCH ... USING INDEX.
// FerretDB does not know about the extra index: it lists and sizes only
// the indexes in its own metadata, and DROP TABLE drops it with the
// collection. FerretDB's pooled connections notice the new index when they
// next run a query (SQLite re-prepares a statement whose schema changed),
// so lookups speed up at once, without a restart; but EXPLAIN QUERY PLAN
// never checks the schema, so FerretDB's explain command may report SCAN
// on a connection that has run nothing since the index was created.

// DefaultIDIndexInterval is how often a server re-runs
// [Server.EnsureIDIndexes] when [Options.IDIndexInterval] is zero.
const DefaultIDIndexInterval = 2 * time.Second

// Names and expressions of FerretDB v1.24's SQLite layout, and of the
// index added here.
const (
	dbFileExt        = ".sqlite"               // pool.filenameExtension
	collectionsTable = "_ferretdb_collections" // metadata.metadataTableName
	tableNameColumn  = "table_name"
	documentColumn   = "_ferretdb_sjson"            // metadata.DefaultColumn
	idPushdownExpr   = documentColumn + "->'$._id'" // metadata.IDColumn, character for character
	idIndexSuffix    = "_id_pushdown"               // the index is "<table>_id_pushdown"
	sqliteBusyPragma = "busy_timeout(5000)"         // wait up to 5 s for FerretDB's writers
)

// ErrSQLiteLayout is wrapped by the errors of [Server.EnsureIDIndexes]
// when a database file does not have the layout of FerretDB v1.24's SQLite
// backend: no table _ferretdb_collections, no column table_name in it, or
// a collection table without the column _ferretdb_sjson. It means a
// FerretDB upgrade changed the layout and the `_id` index workaround must
// be re-verified against the new source.
var ErrSQLiteLayout = errors.New("embedded: FerretDB SQLite layout changed; re-verify the _id index workaround (FerretDB issue 3235)")

// EnsureIDIndexes creates, in every database of the server that lacks it,
// an SQLite index on the exact expression FerretDB pushes down for a
// lookup by `_id` alone, so that such a lookup searches the index instead
// of scanning the collection (a workaround for FerretDB issue 3235; see
// the comment at the top of idindex.go). It works on the database files
// in the data folder through a second SQLite connection per file, waits
// up to 5 seconds for FerretDB's writers, and takes the write lock only
// when an index is missing. It is idempotent and safe to call while the
// server runs. Unless [Options.IDIndexInterval] is negative, [Start] calls
// it once and the server re-runs it in the background.
//
// It returns an error wrapping [ErrSQLiteLayout] if a database file does
// not look like FerretDB v1.24's SQLite layout, and other errors if a file
// cannot be read or an index cannot be created; it still works on the
// other files.
func (s *Server) EnsureIDIndexes(ctx context.Context) error {
	if err := ensureIDIndexes(ctx, s.dir); err != nil {
		return fmt.Errorf("embedded: ensure _id indexes: %w", err)
	}
	return nil
}

// ensureIDIndexes runs ensureFileIDIndexes on every database file in dir.
func ensureIDIndexes(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), dbFileExt) {
			continue // a -wal or -shm file, or something not FerretDB's
		}
		if err := ensureFileIDIndexes(ctx, filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// ensureFileIDIndexes creates the missing pushdown indexes in one database
// file. A file that has vanished (FerretDB dropped the database) is
// skipped.
func ensureFileIDIndexes(ctx context.Context, path string) error {
	db, err := openDatabaseFile(path)
	if err != nil {
		return err
	}
	defer db.Close()

	missing, err := missingIDIndexes(ctx, db)
	if err != nil {
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if len(missing) == 0 {
		return nil
	}

	// The transaction begins IMMEDIATE (see openDatabaseFile): it holds the
	// write lock from the start, so FerretDB cannot drop or create a table
	// between the list read here and the CREATE INDEX statements.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if missing, err = missingIDIndexes(ctx, tx); err != nil {
		return err
	}
	for _, table := range missing {
		if _, err := tx.ExecContext(ctx, createIDIndexSQL(table)); err != nil {
			return fmt.Errorf("create index on %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// openDatabaseFile opens an existing FerretDB database file, read-write
// but never creating it (mode=rw): a file FerretDB has just dropped must
// not come back empty. Transactions begin IMMEDIATE, and a busy write lock
// is waited for rather than failed on. The file is already in WAL mode, so
// readers here and FerretDB's writers do not block each other.
func openDatabaseFile(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Set("_pragma", sqliteBusyPragma)
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: path, OmitHost: true, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// querier is what missingIDIndexes needs: a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// missingIDIndexes checks the layout of the database and returns the
// tables of its collections that lack the pushdown index. A database
// without any table (FerretDB is creating it) has none.
func missingIDIndexes(ctx context.Context, q querier) ([]string, error) {
	ok, err := checkCollectionsTable(ctx, q)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT c.%[1]s,
		EXISTS (SELECT 1 FROM pragma_table_info(c.%[1]s) WHERE name = ?),
		EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = c.%[1]s || ?)
		FROM %[2]s AS c ORDER BY c.%[1]s`, tableNameColumn, quoteIdent(collectionsTable)),
		documentColumn, idIndexSuffix)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var table string
		var hasColumn, hasIndex bool
		if err := rows.Scan(&table, &hasColumn, &hasIndex); err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		if !hasColumn {
			return nil, fmt.Errorf("%w: table %q has no column %s", ErrSQLiteLayout, table, documentColumn)
		}
		if !hasIndex {
			missing = append(missing, table)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	return missing, nil
}

// checkCollectionsTable checks that the database has FerretDB's
// collections table with its table_name column. It returns false, and no
// error, for a database without any table.
func checkCollectionsTable(ctx context.Context, q querier) (bool, error) {
	var tables int
	var hasTable, hasColumn bool
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table'),
		EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1),
		EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)`,
		collectionsTable, tableNameColumn).Scan(&tables, &hasTable, &hasColumn)
	switch {
	case err != nil:
		return false, fmt.Errorf("read schema: %w", err)
	case tables == 0:
		return false, nil
	case !hasTable:
		return false, fmt.Errorf("%w: no table %s", ErrSQLiteLayout, collectionsTable)
	case !hasColumn:
		return false, fmt.Errorf("%w: table %s has no column %s", ErrSQLiteLayout, collectionsTable, tableNameColumn)
	}
	return true, nil
}

// createIDIndexSQL returns the statement that creates the pushdown index
// on table, if it does not exist yet.
func createIDIndexSQL(table string) string {
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
		quoteIdent(table+idIndexSuffix), quoteIdent(table), idPushdownExpr)
}

// quoteIdent quotes an SQLite identifier: in double quotes, with each
// double quote inside doubled.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// startIDIndexer runs [Server.EnsureIDIndexes] once and starts the
// goroutine that re-runs it every interval (zero means
// [DefaultIDIndexInterval]) until [Server.Close]. A negative interval
// turns both off.
func (s *Server) startIDIndexer(ctx context.Context, interval time.Duration, logger *slog.Logger) error {
	if interval < 0 {
		return nil
	}
	if interval == 0 {
		interval = DefaultIDIndexInterval
	}
	if err := ensureIDIndexes(ctx, s.dir); err != nil {
		return fmt.Errorf("ensure _id indexes: %w", err)
	}
	loopCtx, stop := context.WithCancel(context.Background())
	s.stopIndexer = stop
	s.indexerDone = make(chan struct{})
	go s.runIDIndexer(loopCtx, interval, logger)
	return nil
}

// runIDIndexer re-runs [Server.EnsureIDIndexes] every interval until ctx
// ends, so collections created after Start get the index too. Failures
// are logged at warn level, each distinct error once until a run
// succeeds, so a lasting failure does not repeat every interval.
func (s *Server) runIDIndexer(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	defer close(s.indexerDone)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := s.EnsureIDIndexes(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			last = ""
		case err.Error() != last:
			last = err.Error()
			logger.LogAttrs(ctx, slog.LevelWarn, "embedded: _id pushdown indexes", slog.Any("error", err))
		}
	}
}

// stopIDIndexer stops the goroutine of startIDIndexer, if any, and waits
// for it, so that no connection of ours is open on a database file once
// FerretDB is told to close.
func (s *Server) stopIDIndexer() {
	if s.stopIndexer == nil {
		return
	}
	s.stopIndexer()
	<-s.indexerDone
}
