package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (`apt-get install -y chromium`, which
// .ci/run does). The test never downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds one browser step. It is generous because the test
// shares a slow two-core machine with everything else.
const stepTimeout = 30 * time.Second

// sessionCookieName is the app's session cookie.
const sessionCookieName = "__Host-session"

// TestBrowser signs in with headless Chromium through both Twitter flows of
// the in-process dev provider, as a person would: clicks, the consent page,
// the record form, reload and log out; and "Your data": the download and
// deleting the account. On every page it fails on console
// errors, uncaught exceptions and Content-Security-Policy violations, and it
// reads the session cookie's flags from the browser's own cookie store.
// Screenshots go to BROWSER_SCREENSHOTS, or to a new temporary folder.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Chromium at %s; install it with `apt-get install -y chromium` (.ci/run does): %v", chromiumPath, err)
	}
	base := startDevServer(t)
	shots := screenshotDir(t)
	t.Logf("screenshots go to %s", shots)
	browser := startBrowser(t)

	flows := []browserFlow{
		{"OAuth2", "section.signin a.button", "OAuth 2.0", "1002", "Grace Hopper", "grace"},
		{"OAuth1", `section.signin .alt a[href="/auth/oauth1/login"]`, "OAuth 1.0a", "1003", "Alan Turing", "alan"},
	}
	for _, fl := range flows {
		t.Run(fl.name+"/SignInAndOut", func(t *testing.T) {
			browserSignInAndOut(t, browser, base, shots, fl)
		})
		t.Run(fl.name+"/Cancel", func(t *testing.T) {
			browserCancel(t, browser, base, fl)
		})
	}

	t.Run("YourData/DownloadAndDelete", func(t *testing.T) {
		browserDownloadAndDelete(t, browser, base, shots)
	})

	// The console check above only means something if it sees violations.
	// Provoke two in a tab of its own and expect both to be reported.
	t.Run("CSPViolationsAreSeen", func(t *testing.T) {
		browserCSPViolationsAreSeen(t, browser, base)
	})
}

// browserFlow is one way to sign in: a Twitter flow of the dev provider
// and the dev user to sign in as.
type browserFlow struct {
	name     string
	signIn   chromedp.CSS // the link on the signed-out page
	flowText string       // how the consent page names the flow
	userID   string       // dev provider user to sign in as
	userName string
	handle   string
}

// browserSignInAndOut is the SignInAndOut subtest: it signs in through fl
// in a new tab, saves a record, reloads, and logs out, taking screenshots
// into shots along the way. It is a subtest body, not a helper, so that
// failures point at its own lines.
func browserSignInAndOut(t *testing.T, browser context.Context, base, shots string, fl browserFlow) {
	b := newTab(t, browser, base)
	defer b.checkConsole()
	shot := func(name string) { b.screenshot(filepath.Join(shots, strings.ToLower(fl.name)+"-"+name+".png")) }

	b.navigate("/")
	b.waitVisible(fl.signIn)
	b.wantNoSessionCookie()
	shot("signed-out")

	b.clickAndLoad(fl.signIn)
	b.waitVisible(`select[name="user"]`)
	if got := b.text("main"); !strings.Contains(got, fl.flowText) {
		t.Errorf("consent page does not name the flow %q:\n%s", fl.flowText, got)
	}
	b.do("pick user "+fl.userID, chromedp.SetValue(chromedp.CSS(`select[name="user"]`), fl.userID))
	if got := step(b, "picked user", chromedp.Value(chromedp.CSS(`select[name="user"]`))); got != fl.userID {
		t.Fatalf("picked user %q, want %q", got, fl.userID)
	}
	shot("consent")
	b.clickAndLoad(`button[value="approve"]`)

	b.wantSignedIn(fl.userName, fl.handle)
	b.wantSessionCookie()

	record := fmt.Sprintf("Saved by Chromium through %s at %s", fl.name, time.Now().Format(time.TimeOnly))
	b.do("type a record", chromedp.SendKeys(chromedp.CSS("textarea#text"), record))
	b.clickAndLoad(`form[action="/db"] button[type="submit"]`)
	b.waitVisible("ul.records")
	if got := b.text("ul.records"); !strings.Contains(got, record) {
		t.Errorf("records list lacks %q:\n%s", record, got)
	}
	shot("signed-in")

	b.do("reload", chromedp.Reload())
	b.wantSignedIn(fl.userName, fl.handle)
	if got := b.text("ul.records"); !strings.Contains(got, record) {
		t.Errorf("after reload, records list lacks %q:\n%s", record, got)
	}

	b.clickAndLoad(`header form[action="/logout"] button`)
	b.waitVisible(fl.signIn)
	if got := b.text("main"); !strings.Contains(got, "You are signed out") {
		t.Errorf("signed-out page lacks the notice:\n%s", got)
	}
	if n := b.count("header form[action=\"/logout\"], img.avatar, textarea#text"); n != 0 {
		t.Errorf("signed-out page still shows %d signed-in elements", n)
	}
	b.wantNoSessionCookie()
}

// browserCancel is the Cancel subtest: it starts signing in through fl
// and denies consent.
func browserCancel(t *testing.T, browser context.Context, base string, fl browserFlow) {
	b := newTab(t, browser, base)
	defer b.checkConsole()
	b.navigate("/")
	b.clickAndLoad(fl.signIn)
	b.waitVisible(`button[value="deny"]`)
	b.clickAndLoad(`button[value="deny"]`)
	b.waitVisible("p.notice")
	if got := b.text("p.notice"); !strings.Contains(got, "Sign-in was cancelled") {
		t.Errorf("notice = %q, want it to say the sign-in was cancelled", got)
	}
	b.waitVisible(fl.signIn)
	if n := b.count("img.avatar, textarea#text"); n != 0 {
		t.Errorf("after cancel the page shows %d signed-in elements", n)
	}
	b.wantNoSessionCookie()
}

// browserCSPViolationsAreSeen is the CSPViolationsAreSeen subtest: it
// provokes two Content-Security-Policy violations in a new tab and expects
// both to be reported.
func browserCSPViolationsAreSeen(t *testing.T, browser context.Context, base string) {
	b := newTab(t, browser, base)
	b.navigate("/")
	// DevTools' Runtime.evaluate is not subject to the page's CSP, which
	// is what lets chromedp drive pages that allow no script at all.
	if n := step(b, "evaluate under script-src 'none'", chromedp.Evaluate[int]("6 * 7")); n != 42 {
		t.Fatalf("evaluate = %d, want 42", n)
	}
	step(b, "insert a blocked image and an inline script", chromedp.Evaluate[chromedp.Void](`{
		const img = document.createElement("img");
		img.src = "https://csp-check.invalid/blocked.png";
		document.body.append(img);
		const s = document.createElement("script");
		s.textContent = "document.title = 'script ran'";
		document.body.append(s);
	}`))
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for {
		bad := b.problems()
		if slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, "img-src") }) &&
			slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, "script-src") }) {
			break
		}
		select {
		case <-b.changed:
		case <-ctx.Done():
			t.Fatalf("CSP violations were not reported; saw:\n%s", strings.Join(b.entries(), "\n"))
		}
	}
	if title := step(b, "title", chromedp.Title()); title == "script ran" {
		t.Error("an inline script ran despite the CSP")
	}
	t.Logf("reported:\n%s", strings.Join(b.problems(), "\n"))
}

// startDevServer runs the program as `server -dev` and returns its base
// URL. It stops the server when the test ends.
func startDevServer(t *testing.T) string {
	t.Helper()
	d := startDev(t)
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", d.stderr.String())
		}
	})
	return d.base
}

// screenshotDir is BROWSER_SCREENSHOTS, or a new temporary folder that is
// kept after the test so the screenshots can be looked at.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("BROWSER_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir, err := os.MkdirTemp("", "twitterlogin-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBrowser starts headless Chromium with a fresh profile and returns a
// chromedp context that holds it. The browser stops when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	// Removed after the browser has exited: cleanups run last-in first-out.
	dir := t.TempDir()
	profile, tmp := filepath.Join(dir, "profile"), filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR="+tmp), // Chromium leaves its singleton socket folder there
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1000, 700),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // waits for the process to exit
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first run starts the browser and ties it to ctx, so it has no
	// timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}
