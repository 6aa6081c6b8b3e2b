package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestSmallRun runs the whole tool on a tiny store for a moment and checks
// that every scenario ran without errors and the table came out.
func TestSmallRun(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-users", "5", "-logins", "3", "-conns", "2", "-duration", "300ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, scenario := range []string{
		"full OAuth 2.0 login", "floor: JWT-only handler", "GET /me (signed in)",
		"floor: FindOne by _id (no HTTP)", "floor: bare GET /db (no auth)",
		"GET /db (signed in)", "GET / (signed in)", "POST /db (signed in)",
	} {
		line := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(scenario) + `\s+(\d+)\s.*\s(\d+)\s+[\d.]+\s*$`).FindStringSubmatch(table)
		if line == nil {
			t.Errorf("no row for %q in:\n%s", scenario, table)
			continue
		}
		if line[1] == "0" {
			t.Errorf("%q: 0 req/s", scenario)
		}
		if line[2] != "0" {
			t.Errorf("%q: %s errors", scenario, line[2])
		}
	}
	if !strings.Contains(table, "GET /db vs bare GET /db:") {
		t.Errorf("no ratios in:\n%s", table)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-users", "0"}, {"-users", "x"}, {"-conns", "0"}, {"-duration", "0s"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
