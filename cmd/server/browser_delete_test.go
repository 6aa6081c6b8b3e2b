package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// browserDownloadAndDelete is the YourData subtest: signed in as a user
// no other subtest uses, it opens "Your data", downloads the file (and
// checks that it arrives and holds the user's record), deletes the
// account with the typed confirmation, and lands on the signed-out page.
func browserDownloadAndDelete(t *testing.T, browser context.Context, base, shots string) {
	b := newTab(t, browser, base)
	defer b.checkConsole()
	b.navigate("/")
	b.clickAndLoad("section.signin a.button")
	b.waitVisible(`select[name="user"]`)
	b.do("pick user 1001", chromedp.SetValue(chromedp.CSS(`select[name="user"]`), "1001"))
	b.clickAndLoad(`button[value="approve"]`)
	b.wantSignedIn("Ada Lovelace", "ada")
	record := "Saved by Chromium before deleting the account"
	b.do("type a record", chromedp.SendKeys(chromedp.CSS("textarea#text"), record))
	b.clickAndLoad(`form[action="/db"] button[type="submit"]`)
	b.waitVisible("ul.records")

	b.clickAndLoad(`header a[href="/your-data"]`)
	b.waitVisible("form.delete-account")
	downloads := t.TempDir()
	allow := true
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &allow,
		// The tab has a browser context of its own (newTab).
		BrowserContextID: chromedp.FromContext(b.ctx).BrowserContextID,
	}); err != nil {
		b.fatal("allow downloads", err)
	}
	b.do("download", chromedp.Click(chromedp.CSS(`a[href="/me/export"]`)))
	file := waitForDownload(t, downloads)
	var export struct {
		Profile struct{ Handle string } `json:"profile"`
		Records []struct{ Text string } `json:"records"`
	}
	if err := json.Unmarshal(file, &export); err != nil || export.Profile.Handle != "ada" ||
		len(export.Records) != 1 || export.Records[0].Text != record {
		t.Errorf("downloaded file: %v\n%s", err, file)
	}

	b.do("confirm with the handle", chromedp.SendKeys(chromedp.CSS("input#confirm-handle"), "@ada"))
	b.screenshot(filepath.Join(shots, "your-data-delete.png"))
	b.clickAndLoad("form.delete-account button")
	main := b.text("main")
	for _, want := range []string{"Account deleted", "@ada", "1 records", "sessions", "activity events"} {
		if !strings.Contains(main, want) {
			t.Errorf("signed-out page lacks %q:\n%s", want, main)
		}
	}
	b.screenshot(filepath.Join(shots, "account-deleted.png"))
	b.wantNoSessionCookie()
	b.navigate("/")
	b.waitVisible("section.signin a.button")
}

// waitForDownload waits for the export to arrive in dir, named for the
// day, and returns its content.
func waitForDownload(t *testing.T, dir string) []byte {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		names, _ := filepath.Glob(filepath.Join(dir, "your-data-*.json"))
		if len(names) == 1 {
			b, err := os.ReadFile(names[0])
			if err == nil && json.Valid(b) {
				return b
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	t.Fatalf("no your-data-*.json downloaded within %v; folder holds %v", stepTimeout, entries)
	return nil
}
