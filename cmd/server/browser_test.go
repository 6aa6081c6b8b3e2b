package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
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
// the record form, reload and log out. On every page it fails on console
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

	flows := []struct {
		name     string
		signIn   chromedp.CSS // the link on the signed-out page
		flowText string       // how the consent page names the flow
		userID   string       // dev provider user to sign in as
		userName string
		handle   string
	}{
		{"OAuth2", "section.signin a.button", "OAuth 2.0", "1002", "Grace Hopper", "grace"},
		{"OAuth1", `section.signin .alt a[href="/auth/oauth1/login"]`, "OAuth 1.0a", "1003", "Alan Turing", "alan"},
	}
	for _, fl := range flows {
		t.Run(fl.name+"/SignInAndOut", func(t *testing.T) {
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
		})

		t.Run(fl.name+"/Cancel", func(t *testing.T) {
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
		})
	}

	// The console check above only means something if it sees violations.
	// Provoke two in a tab of its own and expect both to be reported.
	t.Run("CSPViolationsAreSeen", func(t *testing.T) {
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
	})
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

// tab is one browser tab in a browser context of its own (its own cookie
// store), with every console message, exception and browser log entry of
// its pages recorded.
type tab struct {
	t       *testing.T
	ctx     context.Context
	base    string
	changed chan struct{} // receives when a problem is recorded

	mu  sync.Mutex
	log []string // everything seen, for failure messages
	bad []string // errors and CSP violations
}

func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, base: base, changed: make(chan struct{}, 1)}
	// Listen opens the tab. Its func runs before any later command returns,
	// so nothing that happens on a page can be missed.
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	// The Audits domain reports CSP violations as issues too.
	b.do("enable audits", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, audits.Enable, cdp.Empty{})
		return err
	}))
	return b
}

// record is the Listen func: it must be quick and must not call the browser.
func (b *tab) record(ev any) {
	var entry string
	var bad bool
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range e.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		entry = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " "))
		bad = e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		entry = fmt.Sprintf("exception: %s (%s:%d)", d.Text, d.URL, d.LineNumber)
		if d.Exception != nil {
			entry += " " + d.Exception.Description
		}
		bad = true
	case *log.EventEntryAdded:
		l := e.Entry
		entry = fmt.Sprintf("log %s/%s: %s (%s)", l.Source, l.Level, l.Text, l.URL)
		bad = l.Level == log.EntryLevelError || strings.Contains(l.Text, "Content Security Policy")
		// The browser itself asks every origin for /favicon.ico, once per
		// profile, whatever the page says; neither the app nor the dev
		// provider serves one, and no page of theirs refers to it.
		if l.Source == log.EntrySourceNetwork && strings.HasSuffix(l.URL, "/favicon.ico") && strings.Contains(l.Text, "404") {
			bad = false
		}
	case *audits.EventIssueAdded:
		if e.Issue == nil {
			return
		}
		entry = fmt.Sprintf("issue %s", e.Issue.Code)
		if d := e.Issue.Details; d != nil && d.ContentSecurityPolicyIssueDetails != nil {
			c := d.ContentSecurityPolicyIssueDetails
			entry += fmt.Sprintf(": %s blocked by %s", c.BlockedURL, c.ViolatedDirective)
		} else if d != nil && d.PerformanceIssueDetails != nil {
			// DocumentCookie: the test's own read of document.cookie.
			entry += ": " + string(d.PerformanceIssueDetails.PerformanceIssueType)
		}
		bad = e.Issue.Code == audits.InspectorIssueCodeContentSecurityPolicyIssue
	default:
		return
	}
	b.mu.Lock()
	b.log = append(b.log, entry)
	if bad {
		b.bad = append(b.bad, entry)
	}
	b.mu.Unlock()
	if bad {
		select {
		case b.changed <- struct{}{}:
		default:
		}
	}
}

func (b *tab) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bad)
}

func (b *tab) entries() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

// checkConsole fails the test on any error or CSP violation seen so far.
// A round trip to the tab first makes sure every earlier event is in.
func (b *tab) checkConsole() {
	b.t.Helper()
	if !b.t.Failed() {
		step(b, "sync", chromedp.Evaluate[int]("1"))
	}
	if bad := b.problems(); len(bad) > 0 {
		b.t.Errorf("console errors or CSP violations:\n%s", strings.Join(bad, "\n"))
	}
	if all := b.entries(); len(all) > 0 {
		b.t.Logf("console and browser log:\n%s", strings.Join(all, "\n"))
	}
}

// step runs one action with the step timeout and fails the test on error.
func step[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(what, err)
	}
	return v
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step(b, what, chromedp.Steps(steps...))
}

// fatal stops the test with the error and where the tab was.
func (b *tab) fatal(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no result within %v: %w", stepTimeout, err)
	}
	b.t.Fatalf("%s: %v\nat %s:\n%s\nconsole:\n%s", what, err, where, body, strings.Join(b.entries(), "\n"))
}

func (b *tab) navigate(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// clickAndLoad clicks and waits for the load event of the page that the
// click leads to, after any redirects.
func (b *tab) clickAndLoad(sel chromedp.CSS) {
	b.t.Helper()
	step(b, "click "+string(sel), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(sel)))
}

func (b *tab) waitVisible(sel chromedp.CSS) {
	b.t.Helper()
	b.do("wait for "+string(sel), chromedp.WaitVisible(sel))
}

func (b *tab) text(sel chromedp.CSS) string {
	b.t.Helper()
	return step(b, "text of "+string(sel), chromedp.Text(sel))
}

// count is the number of elements that match the CSS selector now.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return step(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

func (b *tab) screenshot(path string) {
	b.t.Helper()
	png := step(b, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// wantSignedIn checks the signed-in page: on /, the avatar loaded, the
// user's name and handle, the record form and "Log out".
func (b *tab) wantSignedIn(name, handle string) {
	b.t.Helper()
	b.waitVisible("img.avatar")
	if loc := step(b, "location", chromedp.Location()); loc != b.base+"/" {
		b.t.Errorf("signed-in page at %s, want %s/", loc, b.base)
	}
	// decode resolves once the image has loaded and decoded, and rejects
	// if it cannot be.
	width := step(b, "avatar", chromedp.Evaluate[int](`(async () => {
		const img = document.querySelector("img.avatar");
		await img.decode().catch(() => {});
		return img.naturalWidth;
	})()`, chromedp.EvalAwaitPromise))
	if width <= 0 {
		b.t.Errorf("avatar did not load: naturalWidth = %d", width)
	}
	if got := b.text(".profile .name"); got != name {
		b.t.Errorf("name = %q, want %q", got, name)
	}
	if got := b.text(".profile .handle"); got != "@"+handle {
		b.t.Errorf("handle = %q, want %q", got, "@"+handle)
	}
	b.waitVisible("textarea#text")
	b.waitVisible(`header form[action="/logout"] button`)
}

// cookies are the browser's cookies for the app, from its cookie store.
func (b *tab) cookies() []*network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.fatal("read cookies", err)
	}
	return got.Cookies
}

// wantSessionCookie checks that the browser holds the session cookie as
// Secure, HttpOnly and SameSite=Lax, and that page script cannot read it.
func (b *tab) wantSessionCookie() {
	b.t.Helper()
	cookies := b.cookies()
	i := slices.IndexFunc(cookies, func(c *network.Cookie) bool { return c.Name == sessionCookieName })
	if i < 0 {
		b.t.Fatalf("the browser holds no %s cookie", sessionCookieName)
	}
	c := cookies[i]
	if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		b.t.Errorf("%s: Secure=%v HTTPOnly=%v SameSite=%q Path=%q; want true, true, Lax, /", c.Name, c.Secure, c.HTTPOnly, c.SameSite, c.Path)
	}
	if js := step(b, "document.cookie", chromedp.Evaluate[string]("document.cookie")); strings.Contains(js, sessionCookieName) {
		b.t.Errorf("document.cookie shows the session cookie: %q", js)
	}
}

func (b *tab) wantNoSessionCookie() {
	b.t.Helper()
	for _, c := range b.cookies() {
		if c.Name == sessionCookieName {
			b.t.Errorf("the browser still holds %s (expires %v)", c.Name, c.Expires)
		}
	}
}
