package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"example.com/twitterlogin/models"
)

// allScenarios are the scenario names every size must have.
var allScenarios = []string{scJWTOnly, scFindOne, scBareDB, scMe, scIndex, scDBList, scDBPost, scLogin}

// TestSmallRun runs the whole tool on a tiny store, with some users
// imported, and checks that every scenario ran without errors and the
// table came out.
func TestSmallRun(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-users", "5", "-logins", "3", "-conns", "2", "-duration", "300ms", "-settle", "0s"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	table := out.String()
	if !strings.Contains(table, "== 5 users in the store (3 signed in through the real login) ==") {
		t.Errorf("no header for 5 users, 3 signed in:\n%s", table)
	}
	for _, scenario := range allScenarios {
		// scenario, req/s, p50, p99, p99.9, errors, 503s, ...
		line := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(scenario) + `\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(table)
		if line == nil {
			t.Errorf("no row for %q in:\n%s", scenario, table)
			continue
		}
		if line[1] == "0" {
			t.Errorf("%q: 0 req/s", scenario)
		}
		if line[2] != "0" || line[3] != "0" {
			t.Errorf("%q: %s errors, %s 503s", scenario, line[2], line[3])
		}
	}
	if !strings.Contains(table, "GET /me ÷ JWT-only") {
		t.Errorf("no ratios in:\n%s", table)
	}
}

// TestRunWritesCSVAndChart runs the tool with every user signed in and
// checks the CSV and the chart, and that requests were spread over the
// users rather than one per connection.
func TestRunWritesCSVAndChart(t *testing.T) {
	dir := t.TempDir()
	csvPath, svgPath := filepath.Join(dir, "lg.csv"), filepath.Join(dir, "lg.svg")
	const conns = 4
	var out bytes.Buffer
	err := run(context.Background(), []string{"-users", "20", "-conns", strconv.Itoa(conns), "-duration", "300ms",
		"-settle", "0s", "-csv", csvPath, "-chart", svgPath}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	rows := mustReadCSV(t, csvPath)
	for _, name := range allScenarios {
		w, ok := rows[name]
		if !ok {
			t.Errorf("no CSV row for %q", name)
			continue
		}
		if w["users"] != "20" || w["signed_in"] != "20" {
			t.Errorf("%q: users %s, signed_in %s, want 20 and 20", name, w["users"], w["signed_in"])
		}
		if w["errors"] != "0" || w["status_503"] != "0" {
			t.Errorf("%q: %s errors, %s 503s, want none", name, w["errors"], w["status_503"])
		}
	}
	// 4 connections with one user each would touch 4 users.
	if n, _ := strconv.Atoi(rows[scMe]["distinct_users"]); n <= conns {
		t.Errorf("GET /me was made as %d distinct users, want more than %d (one per connection)", n, conns)
	}
	if w, _ := strconv.ParseFloat(rows[scDBPost]["store_writes_per_req"], 64); w <= 0 {
		t.Errorf("POST /db: %s store writes per request, want some", rows[scDBPost]["store_writes_per_req"])
	}
	// The driver's own count: a FindOne is one find, whatever else runs.
	if c, _ := strconv.ParseFloat(rows[scFindOne]["store_read_cmds_per_req"], 64); c < 1 {
		t.Errorf("FindOne floor: %s read commands per request, want at least 1", rows[scFindOne]["store_read_cmds_per_req"])
	}
	checkChart(t, svgPath, 3) // three floors
}

// mustReadCSV reads the CSV and returns its rows by scenario.
func mustReadCSV(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if len(records) < 2 || strings.Join(records[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("CSV header or rows missing: %q", records)
	}
	rows := map[string]map[string]string{}
	for _, rec := range records[1:] {
		w := map[string]string{}
		for i, col := range records[0] {
			w[col] = rec[i]
		}
		rows[w["scenario"]] = w
	}
	return rows
}

// checkChart parses the SVG as XML and wants one line per scenario, told
// apart by colour (a scenario's line is drawn in the plot once there are
// two sizes, and as a sample in the legend), the floors' dashed, and each
// scenario's name as a text.
func checkChart(t *testing.T, path string, floors int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	width := "stroke-width:" + strconv.FormatFloat(routeLineWidth.Points(), 'g', -1, 64)
	stroke := regexp.MustCompile(`stroke:(#[0-9A-Fa-f]{6})`)
	lines := map[string]bool{} // colour: dashed
	texts := map[string]bool{}
	dec := xml.NewDecoder(f)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "path":
			for _, a := range el.Attr {
				if m := stroke.FindStringSubmatch(a.Value); a.Name.Local == "style" && m != nil && strings.Contains(a.Value, width) {
					lines[m[1]] = strings.Contains(a.Value, "stroke-dasharray")
				}
			}
		case "text":
			var s string
			if err := dec.DecodeElement(&s, &el); err != nil {
				t.Fatalf("SVG text: %v", err)
			}
			texts[s] = true
		}
	}
	dashed := 0
	for _, d := range lines {
		if d {
			dashed++
		}
	}
	if len(lines) != len(allScenarios) || dashed != floors {
		t.Errorf("SVG has %d route lines, %d dashed; want %d, %d dashed", len(lines), dashed, len(allScenarios), floors)
	}
	for _, name := range allScenarios {
		if !texts[name] {
			t.Errorf("SVG has no text %q", name)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "0"}, {"-users", "x"}, {"-conns", "0"}, {"-duration", "0s"},
		{"-logins", "-1"}, {"-max-logins", "0"}, {"-settle", "-1s"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.users, []int{100, 1000, 10000, 100000}; !slices.Equal(got, want) {
		t.Errorf("default -users = %v, want %v", got, want)
	}
}

// TestSignedIn: every user signs in up to -max-logins, 1,000 above it,
// and -logins caps every size.
func TestSignedIn(t *testing.T) {
	tests := []struct {
		name            string
		logins, maxLogs int
		users, want     int
	}{
		{"small store, all", 0, 10_000, 100, 100},
		{"at the cap, all", 0, 10_000, 10_000, 10_000},
		{"above the cap, 1,000", 0, 10_000, 100_000, 1_000},
		{"lower cap", 0, 500, 1_000, 500},
		{"explicit -logins", 50, 10_000, 1_000, 50},
		{"explicit -logins above the size", 50, 10_000, 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options{logins: tt.logins, maxLogins: tt.maxLogs}
			if got := o.signedIn(tt.users); got != tt.want {
				t.Errorf("signedIn(%d) = %d, want %d", tt.users, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		op   string
		want callKind
	}{
		{"user_by_id", read}, {"session_by_id", read}, {"records_by_owner", read},
		{"RecordsByOwner", read}, {"UserByID", read}, {"events_by_user", read},
		{"count_live_sessions", read}, {"ping", read}, {"find_user", read},
		{"record_sign_in", write}, {"RecordEvent", write}, {"insert_record", write},
		{"create_session", write}, {"start_session", write}, {"delete_user_sessions", write}, {"touch_session", write},
		{"replace_provider_token", write}, {"clear_provider_token", write},
		{"claim_token_refresh", write}, {"release_token_refresh", write}, {"UpsertTwitterUser", write},
		{"watch_changes", other}, {"reencrypt_tokens", other}, {"", other},
	}
	for _, tt := range tests {
		if got := classify(tt.op); got != tt.want {
			t.Errorf("classify(%q) = %d, want %d", tt.op, got, tt.want)
		}
	}
}

// TestClassify_EveryStoreMethod: every store method a request can reach
// counts as a read or a write in the report, none as "other".
func TestClassify_EveryStoreMethod(t *testing.T) {
	notOnRequests := map[string]bool{"CanCreateIndexes": true, "CheckIndexes": true, "Close": true,
		"EnsureIndexes": true, "ReencryptTokens": true, "WatchChanges": true}
	st := reflect.TypeFor[*models.Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		if got := classify(name); got == other && !notOnRequests[name] {
			t.Errorf("classify(%q) = other; add its first word to opWords", name)
		}
	}
}
