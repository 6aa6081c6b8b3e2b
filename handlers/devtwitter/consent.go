package devtwitter

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type consentKind int

const (
	kindOAuth1 consentKind = iota + 1
	kindOAuth2
)

// consent is a consent page waiting for the user's answer. The page refers
// to it by an opaque random id, never by a token.
type consent struct {
	kind       consentKind
	reqToken   string            // kindOAuth1
	authz      *authorizeRequest // kindOAuth2
	screenName string            // user to preselect
	expires    time.Time
}

// consentPage is the data of the "consent" template.
type consentPage struct {
	ID       string
	Flow     string
	App      string
	Target   string // host the browser returns to
	Scopes   []string
	Users    []User
	Selected string
	Faults   []string
}

const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

const pagesText = `
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · Development Twitter provider</title>
<style>
body{font-family:system-ui,sans-serif;max-width:34rem;margin:0 auto;padding:1rem;color:#0f1419}
.banner{background:#ffd400;border:2px solid #0f1419;padding:.6rem;font-weight:bold;text-align:center;margin-bottom:1rem}
button{font-size:1rem;padding:.5rem 1.2rem;border-radius:2rem;border:1px solid #0f1419;margin-right:.5rem;cursor:pointer}
button.primary{background:#0f1419;color:#fff}
select,input{font-size:1rem;padding:.3rem;margin:.5rem 0 1rem}
fieldset{margin:0 0 1rem;border:1px solid #cfd9de}
code{background:#eee;padding:0 .2rem}
</style></head><body>
<div class="banner" role="alert">Development Twitter provider — not the real Twitter</div>
<main>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "consent"}}{{template "head" "Authorize app"}}
<h1>Authorize <code>{{.App}}</code> to access your account?</h1>
<p>Sign-in with {{.Flow}}. After you answer you will be sent back to <code>{{.Target}}</code>.</p>
{{if .Scopes}}<p>Requested scopes:</p><ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<form method="post" action="/_dev/consent">
<input type="hidden" name="consent" value="{{.ID}}">
<label for="user">Sign in as</label><br>
<select id="user" name="user">{{range .Users}}
<option value="{{.ID}}"{{if eq .ScreenName $.Selected}} selected{{end}}>{{.Name}} (@{{.ScreenName}}, id {{.ID}})</option>{{end}}
</select><br>
<fieldset><legend>…or type an account (a new id is added; a known id is updated)</legend>
<label>Id <input name="id" inputmode="numeric" pattern="[1-9][0-9]{0,18}" placeholder="2001"></label><br>
<label>Handle <input name="handle" maxlength="50" placeholder="bob"></label><br>
<label>Name <input name="name" maxlength="100" placeholder="Bob Example"></label><br>
<label>Avatar URL <input name="avatar" type="url" maxlength="2048" placeholder="https://…"></label>
</fieldset>
<label for="fault">Misbehave for this sign-in</label><br>
<select id="fault" name="fault"><option value="">no: behave like Twitter</option>{{range .Faults}}
<option value="{{.}}">{{.}}</option>{{end}}
</select><br>
<button class="primary" type="submit" name="action" value="approve">Authorize</button>
<button type="submit" name="action" value="deny">Cancel</button>
</form>
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" "Error"}}
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{template "foot"}}{{end}}

{{define "pin"}}{{template "head" "PIN"}}
<h1>Your PIN</h1>
<p>Enter this PIN in the app to finish signing in:</p>
<p><code>{{.}}</code></p>
{{template "foot"}}{{end}}

{{define "index"}}{{template "head" "Home"}}
<h1>Development Twitter provider</h1>
<p>A local fake of X's "Sign in with Twitter" endpoints (OAuth 1.0a and OAuth 2.0 with PKCE).</p>
<p>Users:</p><ul>{{range .}}<li>{{.Name}} (@{{.ScreenName}}, id {{.ID}})</li>{{end}}</ul>
{{template "foot"}}{{end}}
`

// parsePages parses the page templates. They are constant, so a parse
// error is a programming error caught by every test.
func parsePages() *template.Template {
	return template.Must(template.New("pages").Parse(pagesText))
}

// render executes the named template into a buffer and writes it, so a
// template error becomes a clean 500.
func (p *Provider) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := p.pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.log.Error("devtwitter: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows an error page; status 200 is used for plain notices.
func (p *Provider) renderError(w http.ResponseWriter, status int, message string) {
	title := http.StatusText(status)
	if status == http.StatusOK {
		title = "Done"
	}
	p.render(w, status, "error", struct{ Title, Message string }{title, message})
}

func (p *Provider) renderPIN(w http.ResponseWriter, pin string) {
	p.render(w, http.StatusOK, "pin", pin)
}

// showConsent stores c under a fresh id and renders the consent page.
func (p *Provider) showConsent(w http.ResponseWriter, r *http.Request, c *consent) {
	id := newToken()
	page := consentPage{ID: id, Selected: c.screenName, Faults: FaultModes()}
	p.mu.Lock()
	c.expires = p.now().Add(consentTTL)
	p.consents[id] = c
	page.Users = append([]User(nil), p.users...)
	var target string
	switch c.kind {
	case kindOAuth1:
		page.Flow, page.App = "OAuth 1.0a", p.consumerKey
		if rt := p.reqTokens[c.reqToken]; rt != nil {
			target = rt.callback
		}
	case kindOAuth2:
		page.Flow, page.App, page.Scopes = "OAuth 2.0", p.clientID, c.authz.scopes
		target = c.authz.redirectURI
	}
	p.mu.Unlock()
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		target = u.Scheme + "://" + u.Host
	}
	page.Target = target
	p.render(w, http.StatusOK, "consent", page)
}

// handleConsent receives the consent form. It is wrapped in
// CrossOriginProtection, and the consent id is single use.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		p.renderError(w, http.StatusBadRequest, "Malformed form.")
		return
	}
	id := r.PostForm.Get("consent")
	action := r.PostForm.Get("action")
	if action != "approve" && action != "deny" {
		p.renderError(w, http.StatusBadRequest, "action must be approve or deny.")
		return
	}
	p.mu.Lock()
	c := p.consents[id]
	delete(p.consents, id)
	expired := c != nil && p.now().After(c.expires)
	p.mu.Unlock()
	if c == nil || expired {
		p.reject("consent: unknown, expired or used consent id")
		p.renderError(w, http.StatusBadRequest, "This consent page has expired or was already answered. Go back to the app and sign in again.")
		return
	}
	fault, err := parseFault(r.PostForm.Get("fault"))
	if err != nil {
		p.renderError(w, http.StatusBadRequest, err.Error())
		return
	}
	user, err := p.accountFrom(r.PostForm)
	if err != nil {
		p.renderError(w, http.StatusBadRequest, "Invalid account: "+err.Error())
		return
	}
	approve := action == "approve"
	switch c.kind {
	case kindOAuth1:
		if fault != "" {
			p.mu.Lock()
			if rt := p.reqTokens[c.reqToken]; rt != nil {
				rt.fault = fault
			}
			p.mu.Unlock()
		}
		p.finishOAuth1(w, r, c.reqToken, user, approve)
	case kindOAuth2:
		if fault != "" {
			c.authz.fault = fault
		}
		p.finishOAuth2(w, r, c.authz, user, approve)
	}
}

// handleAvatar serves GET /avatars/{id}.svg: the user's initials on a
// colour derived from the id.
func (p *Provider) handleAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	var u User
	if ok {
		u, ok = p.lookupUser(id)
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "image/svg+xml")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write([]byte(avatarSVG(u)))
}

// avatarSVG is u's generated avatar: the initials on a colour derived from
// the id.
func avatarSVG(u User) string {
	h := fnv.New32a()
	h.Write([]byte(u.ID))
	hue := h.Sum32() % 360
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">`+
		`<rect width="96" height="96" fill="hsl(%d,55%%,45%%)"/>`+
		`<text x="48" y="48" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="40" fill="#fff">%s</text></svg>`,
		hue, html.EscapeString(initials(u)))
}

// initials returns up to two upper-case initials of u's name.
func initials(u User) string {
	var out []rune
	for word := range strings.FieldsSeq(u.Name) {
		r, _ := utf8.DecodeRuneInString(word)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		r, _ := utf8.DecodeRuneInString(u.ScreenName)
		out = append(out, unicode.ToUpper(r))
	}
	return string(out)
}

// handleIndex is a small home page listing the users.
func (p *Provider) handleIndex(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	users := append([]User(nil), p.users...)
	p.mu.Unlock()
	p.render(w, http.StatusOK, "index", users)
}
