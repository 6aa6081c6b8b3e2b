package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics of the app that loadgen reads.
const (
	storeCallMetric = "twitterlogin_store_call_duration_seconds"
	// commandsMetric counts the commands the store's driver sent, by
	// command and kind (read, write, other).
	commandsMetric = "twitterlogin_store_commands_total"
	// cacheReadsMetric counts the store reads the session cache makes
	// (misses and reloads), where the app has it.
	cacheReadsMetric = "twitterlogin_session_cache_store_reads_total"
	// Without it, the cache's reads are the session and user lookups.
	sessionByIDOp = "session_by_id"
	userByIDOp    = "user_by_id"
)

// snapshot is what the app's metrics said at one moment.
type snapshot struct {
	calls      map[string]float64 // store calls by operation, every outcome
	commands   map[string]float64 // store commands by kind
	cacheReads float64
	hasCache   bool // the app exports cacheReadsMetric
}

// snapshot reads the app's metrics through its metrics handler.
func (r *rig) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{calls: map[string]float64{}, commands: map[string]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.metricsURL, nil)
	if err != nil {
		return s, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	if f := families[storeCallMetric]; f != nil {
		for _, m := range f.GetMetric() {
			s.calls[label(m, "operation")] += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if f := families[commandsMetric]; f != nil {
		for _, m := range f.GetMetric() {
			s.commands[label(m, "kind")] += m.GetCounter().GetValue()
		}
	}
	if f := families[cacheReadsMetric]; f != nil {
		s.hasCache = true
		for _, m := range f.GetMetric() {
			s.cacheReads += m.GetCounter().GetValue()
		}
	}
	return s, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// storeUse is the store calls made during one scenario.
type storeUse struct {
	// reads, writes and other count store methods called.
	reads, writes, other float64
	otherOps             []string // operations classified as other
	// cmdReads and cmdWrites count the commands the driver sent, which
	// can be more than the methods (one may send several).
	cmdReads, cmdWrites float64
	cacheReads          float64 // store reads of the session cache
}

// since is the store use between an earlier snapshot and s.
func (s snapshot) since(before snapshot) storeUse {
	var u storeUse
	for op, n := range s.calls {
		d := n - before.calls[op]
		if d == 0 {
			continue
		}
		switch classify(op) {
		case read:
			u.reads += d
		case write:
			u.writes += d
		default:
			u.other += d
			u.otherOps = append(u.otherOps, op)
		}
	}
	slices.Sort(u.otherOps)
	u.cmdReads = s.commands["read"] - before.commands["read"]
	u.cmdWrites = s.commands["write"] - before.commands["write"]
	if s.hasCache {
		u.cacheReads = s.cacheReads - before.cacheReads
	} else {
		u.cacheReads = s.calls[sessionByIDOp] - before.calls[sessionByIDOp] +
			s.calls[userByIDOp] - before.calls[userByIDOp]
	}
	return u
}

// callKind is whether a store operation reads or writes.
type callKind int

const (
	other callKind = iota
	read
	write
)

// opWords classifies an operation by its first word. An operation whose
// first word is not here is a read if it is looked up "by" something
// (records_by_owner, user_by_id), else other: new operations show up in
// the report instead of being dropped.
var opWords = map[string]callKind{
	"find": read, "count": read, "ping": read, "list": read, "get": read,
	"insert": write, "create": write, "delete": write, "record": write,
	"touch": write, "replace": write, "clear": write, "claim": write,
	"release": write, "upsert": write, "import": write, "trim": write,
	"set": write, "update": write, "start": write,
	"due": read, "pending": read, "spend": write, "queue": write,
	"move": write, "retry": write, "finish": write, "revoke": write,
	"changes": read, "publish": write,
}

// classify says whether the store operation op (the metric's snake_case
// label, or a Go method name) reads or writes.
func classify(op string) callKind {
	words := strings.Split(snakeCase(op), "_")
	if k, ok := opWords[words[0]]; ok {
		return k
	}
	if slices.Contains(words[1:], "by") {
		return read
	}
	return other
}

// snakeCase turns RecordsByOwner or UserByID into records_by_owner and
// user_by_id; snake_case stays as it is.
func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && unicode.IsLower(rs[i-1])
			nextLower := i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
