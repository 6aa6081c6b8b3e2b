package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printSize prints the table of one size and its ratios; all is every row
// so far, for the comparison with the smallest size.
func printSize(out io.Writer, rows, all []row) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(out, "== %d users in the store (%d signed in through the real login) ==\n", rows[0].users, rows[0].signedIn)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp99\tp99.9\terrors\t503s\tCPU s\tusers hit\t"+
		"reads/req\twrites/req\tother/req\tread cmds/req\twrite cmds/req\tcache reads/s\t")
	for _, w := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", w.scenario, w.res.perSecond(),
			ms(w.res.quantile(0.50)), ms(w.res.quantile(0.99)), ms(w.res.quantile(0.999)), w.res.errors, w.res.status503,
			w.res.cpu.Seconds(), w.distinct, w.readsPerReq(), w.writesPerReq(), w.otherPerReq(),
			w.cmdReadsPerReq(), w.cmdWritesPerReq(), cacheCell(w, 0))
	}
	tw.Flush()
	ratio := func(a, b string) string { return ratioOf(find(rows, a), find(rows, b)) }
	fmt.Fprintf(out, "GET /me ÷ JWT-only %s   GET / ÷ FindOne %s   GET /db ÷ FindOne %s   POST /db ÷ FindOne %s   FindOne ÷ FindOne at %d users %s\n",
		ratio(scMe, scJWTOnly), ratio(scIndex, scFindOne), ratio(scDBList, scFindOne), ratio(scDBPost, scFindOne),
		all[0].users, ratioOf(find(rows, scFindOne), find(all, scFindOne)))
	w := rows[0]
	since := ""
	if w.peakSinceStart {
		since = " (since the process started: /proc/self/clear_refs was not writable)"
	}
	fmt.Fprintf(out, "peak RSS %s MiB%s; RSS %s MiB after the load stopped\n", mib(w.peakRSS), since, mib(w.rssAfter))
	for _, w := range rows {
		if len(w.store.otherOps) > 0 {
			fmt.Fprintf(out, "%q: store calls neither read nor write: %s\n", w.scenario, strings.Join(w.store.otherOps, ", "))
		}
		if w.res.firstErr != nil {
			fmt.Fprintf(out, "first error in %q: %v\n", w.scenario, w.res.firstErr)
		}
	}
	fmt.Fprintln(out)
}

// printScaling prints how each scenario's throughput changes with the
// store's size, relative to the smallest size.
func printScaling(out io.Writer, rows []row) {
	if len(rows) == 0 || rows[0].users == rows[len(rows)-1].users {
		return
	}
	fmt.Fprintln(out, "== req/s relative to the smallest size ==")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\t")
	sizes := sizesOf(rows)
	for _, n := range sizes {
		fmt.Fprintf(tw, "%d users\t", n)
	}
	fmt.Fprintln(tw)
	for _, name := range scenarioNames(rows) {
		fmt.Fprintf(tw, "%s\t", name)
		base := find(rows, name)
		for _, n := range sizes {
			fmt.Fprintf(tw, "%s\t", ratioOf(findAt(rows, name, n), base))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(out)
}

// find is the first row of scenario name, zero if there is none.
func find(rows []row, name string) row {
	for _, w := range rows {
		if w.scenario == name {
			return w
		}
	}
	return row{}
}

func findAt(rows []row, name string, users int) row {
	for _, w := range rows {
		if w.scenario == name && w.users == users {
			return w
		}
	}
	return row{}
}

// sizesOf lists the sizes of rows in order.
func sizesOf(rows []row) []int {
	var sizes []int
	for _, w := range rows {
		if len(sizes) == 0 || sizes[len(sizes)-1] != w.users {
			sizes = append(sizes, w.users)
		}
	}
	return sizes
}

// scenarioNames lists the scenarios of rows in order, once each.
func scenarioNames(rows []row) []string {
	var names []string
	seen := map[string]bool{}
	for _, w := range rows {
		if !seen[w.scenario] {
			seen[w.scenario] = true
			names = append(names, w.scenario)
		}
	}
	return names
}

func ratioOf(a, b row) string {
	if b.res.perSecond() == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.res.perSecond()/b.res.perSecond())
}

// cacheCell is the cache's reads per second, blank for the floors, which
// do not go through the app.
func cacheCell(w row, prec int) string {
	if w.floor {
		return ""
	}
	return strconv.FormatFloat(w.cacheReadsPerSec(), 'f', prec, 64)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}

func mib(b int64) string {
	if b < 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 0, 64)
}

// csvHeader names the CSV columns.
var csvHeader = []string{
	"users", "signed_in", "scenario", "req_per_s", "p50_ms", "p99_ms", "errors", "status_503",
	"store_reads_per_req", "store_writes_per_req", "cache_store_reads_per_s", "peak_rss_mib",
	"rss_after_mib", "distinct_users", "store_read_cmds_per_req", "store_write_cmds_per_req",
}

// writeCSV writes one row per size and scenario.
func writeCSV(out io.Writer, rows []row) error {
	cw := csv.NewWriter(out)
	cw.Write(csvHeader)
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	msf := func(d time.Duration) string { return f(float64(d.Microseconds())/1000, 3) }
	for _, w := range rows {
		cw.Write([]string{
			strconv.Itoa(w.users), strconv.Itoa(w.signedIn), w.scenario, f(w.res.perSecond(), 1),
			msf(w.res.quantile(0.50)), msf(w.res.quantile(0.99)), strconv.Itoa(w.res.errors), strconv.Itoa(w.res.status503),
			f(w.readsPerReq(), 3), f(w.writesPerReq(), 3), cacheCell(w, 1), mib(w.peakRSS),
			mib(w.rssAfter), strconv.Itoa(w.distinct), f(w.cmdReadsPerReq(), 3), f(w.cmdWritesPerReq(), 3),
		})
	}
	cw.Flush()
	return cw.Error()
}

func writeCSVFile(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeCSV(f, rows); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
