package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
