package embedded_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB uses, to read its files

	"example.com/twitterlogin/handlers/testdouble"
	"example.com/twitterlogin/models"
	"example.com/twitterlogin/models/embedded"
	"example.com/twitterlogin/models/storetest"
)

// idIndexName is the name EnsureIDIndexes gives the index on table.
func idIndexName(table string) string { return table + "_id_pushdown" }

// mustConnect connects the official driver to srv and disconnects when the
// test ends.
func mustConnect(t *testing.T, srv *embedded.Server) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() {
		if err := client.Disconnect(context.Background()); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
	})
	return client
}

// openReadOnly opens the SQLite file of database dbName in dir read-only,
// beside FerretDB's own connections, on a single connection.
func openReadOnly(t *testing.T, dir, dbName string) *sql.DB {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.Join(dir, dbName+".sqlite"), OmitHost: true, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatalf("open %s: %v", u.String(), err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// collectionTables returns FerretDB's table name for every collection in
// db, read from _ferretdb_collections.
func collectionTables(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(testContext(t), `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		t.Fatalf("list collections: %v", err)
	}
	defer rows.Close()
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatalf("list collections: %v", err)
		}
		tables[name] = table
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list collections: %v", err)
	}
	return tables
}

// explainIDLookup returns the details of SQLite's plan for the query
// FerretDB v1.24 runs for a filter on _id alone (collection.go, Query),
// joined by "; ". db must have a single connection.
func explainIDLookup(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	// EXPLAIN QUERY PLAN plans from the connection's cached schema and
	// never checks it; any read checks it and reloads it if another
	// connection has changed it since, as a new index does.
	if _, err := db.ExecContext(testContext(t), `SELECT 1 FROM sqlite_schema LIMIT 1`); err != nil {
		t.Fatalf("read schema: %v", err)
	}
	q := `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "` + strings.ReplaceAll(table, `"`, `""`) +
		`" WHERE _ferretdb_sjson->'$._id' = ?`
	rows, err := db.QueryContext(testContext(t), q, `"some-id"`)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		details = append(details, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(details, "; ")
}

// wireExplain returns FerretDB's own SQLite plan for find {_id: id} on
// coll, as its explain command reports it over the wire. Like
// explainIDLookup's, the plan comes from the cached schema of whichever
// FerretDB connection runs it, which may predate an index created since.
func wireExplain(t *testing.T, coll *mongo.Collection, id any) string {
	t.Helper()
	var res struct {
		QueryPlanner struct {
			Plan []string `bson:"Plan"`
		} `bson:"queryPlanner"`
		FilterPushdown bool `bson:"filterPushdown"`
	}
	cmd := bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: coll.Name()},
		{Key: "filter", Value: bson.D{{Key: "_id", Value: id}}},
	}}}
	if err := coll.Database().RunCommand(testContext(t), cmd).Decode(&res); err != nil {
		t.Fatalf("explain find %s: %v", coll.Name(), err)
	}
	if !res.FilterPushdown {
		t.Errorf("explain find %s: filterPushdown = false, want true", coll.Name())
	}
	return strings.Join(res.QueryPlanner.Plan, "; ")
}

// checkSearch fails the test unless plan searches the pushdown index of
// table and scans nothing.
func checkSearch(t *testing.T, plan, table string) {
	t.Helper()
	if !strings.Contains(plan, "SEARCH") || !strings.Contains(plan, idIndexName(table)) || strings.Contains(plan, "SCAN") {
		t.Errorf("plan = %q, want SEARCH using index %s and no SCAN", plan, idIndexName(table))
	}
}

// waitForIDIndexes waits until every collection in db has its pushdown
// index, as the server's background runs create them.
func waitForIDIndexes(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var missing int
		err := db.QueryRowContext(testContext(t), `SELECT count(*) FROM _ferretdb_collections AS c
			WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = c.table_name || '_id_pushdown')`).Scan(&missing)
		switch {
		case err != nil:
			t.Fatalf("count missing indexes: %v", err)
		case missing == 0:
			return
		case time.Now().After(deadline):
			t.Fatalf("%d collections still lack the _id pushdown index after 10 s", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIDIndex_AppCollectionsSearch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := mustStart(t, embedded.Options{Dir: dir, Logger: storetest.ErrorLogger(), IDIndexInterval: 50 * time.Millisecond})
	dbName := storetest.DatabaseName()
	store, err := models.Open(testContext(t), models.Options{URI: srv.URI(), Database: dbName, Timeout: storetest.StoreTimeout})
	if err != nil {
		t.Fatalf("models.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })

	// Collections created after Start, and after the store's indexes: only
	// the background runs can index them.
	db := mustConnect(t, srv).Database(dbName)
	oid := bson.NewObjectID()
	lookups := []struct {
		coll string
		id   any
	}{
		{"token_refresh_claims", "claim-2"},
		{"created_later", oid},
	}
	for _, l := range lookups {
		docs := []any{
			bson.D{{Key: "_id", Value: "claim-1"}, {Key: "n", Value: 1}},
			bson.D{{Key: "_id", Value: "claim-2"}, {Key: "n", Value: 2}},
			bson.D{{Key: "_id", Value: oid}, {Key: "n", Value: 3}},
		}
		if _, err := db.Collection(l.coll).InsertMany(testContext(t), docs); err != nil {
			t.Fatalf("InsertMany %s: %v", l.coll, err)
		}
	}

	sqlDB := openReadOnly(t, dir, dbName)
	waitForIDIndexes(t, sqlDB)
	tables := collectionTables(t, sqlDB)
	for _, name := range []string{"users", "sessions", "records", "events", "token_refresh_claims", "created_later"} {
		if _, ok := tables[name]; !ok {
			t.Errorf("collection %s not in _ferretdb_collections (%v)", name, tables)
		}
	}
	for name, table := range tables {
		t.Run("sqlite/"+name, func(t *testing.T) {
			checkSearch(t, explainIDLookup(t, sqlDB, table), table)
		})
	}

	for _, l := range lookups {
		t.Run("wire/"+l.coll, func(t *testing.T) {
			coll := db.Collection(l.coll)
			var got bson.M
			if err := coll.FindOne(testContext(t), bson.D{{Key: "_id", Value: l.id}}).Decode(&got); err != nil {
				t.Fatalf("FindOne _id %v: %v", l.id, err)
			}
			if got["_id"] != l.id {
				t.Errorf("FindOne _id %v: got _id %v", l.id, got["_id"])
			}
			err := coll.FindOne(testContext(t), bson.D{{Key: "_id", Value: "absent"}}).Err()
			if !errors.Is(err, mongo.ErrNoDocuments) {
				t.Errorf("FindOne absent _id: err = %v, want ErrNoDocuments", err)
			}
		})
	}
}

// TestIDIndex_ScanWithoutIndex shows that the checks above can fail: with
// the automatic runs off, an `_id` lookup scans the table until
// EnsureIDIndexes adds the index. It also checks, through FerretDB's own
// explain, that the query FerretDB really runs uses the index.
func TestIDIndex_ScanWithoutIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := mustStart(t, embedded.Options{Dir: dir, IDIndexInterval: -1})
	sqlDB := openReadOnly(t, dir, "db")
	var table string
	withClient(t, srv, func(coll *mongo.Collection) {
		if _, err := coll.InsertOne(testContext(t), bson.D{{Key: "_id", Value: "x"}}); err != nil {
			t.Fatalf("InsertOne: %v", err)
		}
		table = collectionTables(t, sqlDB)["c"]
		for _, plan := range []string{explainIDLookup(t, sqlDB, table), wireExplain(t, coll, "x")} {
			if !strings.Contains(plan, "SCAN") || strings.Contains(plan, idIndexName(table)) {
				t.Errorf("before EnsureIDIndexes: plan = %q, want SCAN and no %s", plan, idIndexName(table))
			}
		}
		if err := srv.EnsureIDIndexes(testContext(t)); err != nil {
			t.Fatalf("EnsureIDIndexes: %v", err)
		}
		checkSearch(t, explainIDLookup(t, sqlDB, table), table)
	})

	// FerretDB's pooled connections would re-plan a query at once, but not
	// an explain (see wireExplain); a restarted server has fresh ones.
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := mustStart(t, embedded.Options{Dir: dir, IDIndexInterval: -1})
	withClient(t, again, func(coll *mongo.Collection) {
		checkSearch(t, wireExplain(t, coll, "x"), table)
		var got bson.M
		if err := coll.FindOne(testContext(t), bson.D{{Key: "_id", Value: "x"}}).Decode(&got); err != nil || got["_id"] != "x" {
			t.Errorf("FindOne _id x = %v, %v; want the document", got, err)
		}
	})
}

func TestEnsureIDIndexes_Idempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := mustStart(t, embedded.Options{Dir: dir, IDIndexInterval: -1})
	if err := srv.EnsureIDIndexes(testContext(t)); err != nil {
		t.Fatalf("EnsureIDIndexes with no database: %v", err)
	}
	client := mustConnect(t, srv)
	for _, c := range []string{"a", "b"} {
		if _, err := client.Database("db").Collection(c).InsertOne(testContext(t), bson.D{{Key: "_id", Value: c}}); err != nil {
			t.Fatalf("InsertOne %s: %v", c, err)
		}
	}
	for i := range 2 {
		if err := srv.EnsureIDIndexes(testContext(t)); err != nil {
			t.Fatalf("EnsureIDIndexes #%d: %v", i+1, err)
		}
	}
	var n int
	err := openReadOnly(t, dir, "db").QueryRowContext(testContext(t),
		`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE '%\_id\_pushdown' ESCAPE '\'`).Scan(&n)
	if err != nil || n != 2 {
		t.Errorf("pushdown indexes = %d, %v; want 2", n, err)
	}
}

// layoutCases are database files that do not look like FerretDB v1.24's
// SQLite layout, except "empty", which FerretDB has just created.
var layoutCases = []struct {
	name    string
	schema  []string
	wantErr string // empty: no error
}{
	{"empty", nil, ""},
	{"no collections table", []string{`CREATE TABLE t (x TEXT)`}, "no table _ferretdb_collections"},
	{"no table_name column", []string{
		`CREATE TABLE _ferretdb_collections (name TEXT, settings TEXT)`,
	}, "has no column table_name"},
	{"no sjson column", []string{
		`CREATE TABLE _ferretdb_collections (name TEXT, table_name TEXT, settings TEXT)`,
		`CREATE TABLE c_1 (doc TEXT)`,
		`INSERT INTO _ferretdb_collections VALUES ('c', 'c_1', '{}')`,
	}, `table "c_1" has no column _ferretdb_sjson`},
}

// writeDatabase creates the SQLite file path with the given statements.
func writeDatabase(t *testing.T, path string, schema []string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range schema {
		if _, err := db.ExecContext(testContext(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestEnsureIDIndexes_LayoutChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range layoutCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := mustStart(t, embedded.Options{Dir: dir, IDIndexInterval: -1})
			writeDatabase(t, filepath.Join(dir, "other.sqlite"), tc.schema)

			err := srv.EnsureIDIndexes(testContext(t))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("EnsureIDIndexes: %v", err)
				}
				return
			}
			if !errors.Is(err, embedded.ErrSQLiteLayout) || !strings.Contains(err.Error(), tc.wantErr) ||
				!strings.Contains(err.Error(), "re-verify") {
				t.Errorf("EnsureIDIndexes: err = %v, want ErrSQLiteLayout with %q", err, tc.wantErr)
			}
		})
	}
}

func TestIDIndexer_LogsFailuresOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs testdouble.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := mustStart(t, embedded.Options{Dir: dir, Logger: logger, IDIndexInterval: 10 * time.Millisecond})
	writeDatabase(t, filepath.Join(dir, "other.sqlite"), layoutCases[1].schema)

	const want = "FerretDB SQLite layout changed"
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning with %q after 5 s; log:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // about ten more failing runs
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, want); n != 1 || !strings.Contains(out, "level=WARN") {
		t.Errorf("log has %d warnings with %q, want 1 at WARN:\n%s", n, want, out)
	}
}
