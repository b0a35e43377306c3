package provider

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

//go:embed pages/*.html
var pageFiles embed.FS

// style is the pages' one stylesheet, inline and allowed by its hash
// alone: the pages load nothing and run no script.
const style = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f4f5;color:#18181b}
main{max-width:24rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin-bottom:.25rem}
input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;border:1px solid #71717a;border-radius:.25rem}
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}
button{font:inherit;padding:.5rem 1rem;border-radius:.25rem;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}
button[value=deny]{background:#fff;color:#1d4ed8}.error{color:#b91c1c;font-weight:600}`

// pages renders the provider's HTML: the login and consent forms and the
// messages, under a strict policy (no script, nothing loaded, no framing).
type pages struct {
	tpl *template.Template
	csp string
}

func newPages() (*pages, error) {
	tpl, err := template.ParseFS(pageFiles, "pages/*.html")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(style))
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; frame-ancestors 'none'"
	return &pages{tpl: tpl, csp: csp}, nil
}

type pageData struct {
	Title, Error, Message, Client, Username, Request, Action string
	Scopes                                                   []string
	Style                                                    template.CSS
}

func (pg *pages) render(w http.ResponseWriter, status int, name string, d pageData) {
	d.Style = template.CSS(style)
	var buf bytes.Buffer
	if err := pg.tpl.ExecuteTemplate(&buf, name, d); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pg.csp)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the status is sent: nothing to report a failure to
}

func (pg *pages) error(w http.ResponseWriter, status int, msg string) {
	pg.render(w, status, "message.html", pageData{Title: "Sign-in problem", Message: msg, Error: ""})
}

// showLogin renders the login form for the pending request.
func (p *Provider) showLogin(w http.ResponseWriter, status int, client store.Client, pr pending, msg string) {
	pr.UserID, pr.Username, pr.CredVersion = "", "", 0
	req, err := p.seal(pr)
	if err != nil {
		p.pages.error(w, http.StatusInternalServerError, "Signing in failed. Try again later.")
		return
	}
	p.pages.render(w, status, "login.html", pageData{Title: "Sign in", Error: msg, Client: client.Name,
		Username: pr.LoginHint, Request: req, Action: PathLogin})
}

// showConsent renders the consent form for the signed-in user.
func (p *Provider) showConsent(w http.ResponseWriter, client store.Client, pr pending) {
	req, err := p.seal(pr)
	if err != nil {
		p.pages.error(w, http.StatusInternalServerError, "Signing in failed. Try again later.")
		return
	}
	p.pages.render(w, http.StatusOK, "consent.html", pageData{Title: "Allow access?", Client: client.Name,
		Username: pr.Username, Scopes: describeScopes(pr.Scope), Request: req, Action: PathConsent})
}

// handleSignedOut is where end-session sends a browser that has nowhere
// else to go.
func (p *Provider) handleSignedOut(w http.ResponseWriter, r *http.Request) {
	p.pages.render(w, http.StatusOK, "message.html", pageData{Title: "Signed out", Message: "You are signed out."})
}

// describeScopes says in words what each scope lets the client do.
func describeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		switch s {
		case "openid":
			out = append(out, "know who you are (your account id)")
		case "profile":
			out = append(out, "see your username")
		case "email":
			out = append(out, "see your email address")
		case "offline_access":
			out = append(out, "stay signed in while you are away (refresh tokens)")
		default:
			out = append(out, "use "+s)
		}
	}
	return out
}
