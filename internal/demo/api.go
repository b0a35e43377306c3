package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/strictjson"
)

// api serves /demo/api/. Every handler runs behind the Authenticator, so
// the principal is there; a missing one is a wiring error, answered 500.
type api struct {
	principal func(context.Context) (Principal, bool)
	notes     *notes
	log       *slog.Logger
}

func (a *api) caller(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := a.principal(r.Context())
	if !ok || p.UserID == "" {
		a.log.Error("demo API reached without a verified principal; is the authenticator wired?", "path", r.URL.Path)
		writeProblem(w, http.StatusInternalServerError, "internal_error", "")
		return Principal{}, false
	}
	return p, true
}

type meView struct {
	UserID    string   `json:"user_id"`
	Username  string   `json:"username"`
	Roles     []string `json:"roles"`
	SessionID string   `json:"session_id"`
}

// me serves GET /demo/api/me: who the guard says the caller is.
func (a *api) me(w http.ResponseWriter, r *http.Request) {
	p, ok := a.caller(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, meView{UserID: p.UserID, Username: p.Username, Roles: sortedRoles(p.Roles), SessionID: p.SessionID})
}

type noteView struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// listNotes serves GET /demo/api/notes: the caller's notes, newest first.
func (a *api) listNotes(w http.ResponseWriter, r *http.Request) {
	p, ok := a.caller(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string][]noteView{"notes": a.notes.list(p.UserID)})
}

// addNote serves POST /demo/api/notes {"text": "..."}: the write that the
// CSRF defences exist for. The body must be JSON: an HTML form cannot send
// that, one more reason a forged form post goes nowhere.
func (a *api) addNote(w http.ResponseWriter, r *http.Request) {
	p, ok := a.caller(w, r)
	if !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeProblem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than "+strconv.Itoa(maxBody)+" bytes")
			return
		}
		writeProblem(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return
	}
	if !utf8.Valid(body) {
		writeProblem(w, http.StatusBadRequest, "invalid_encoding", "the body is not valid UTF-8")
		return
	}
	if err := strictDecode(body, &req); err != nil {
		writeProblem(w, http.StatusBadRequest, "malformed_json", err.Error())
		return
	}
	if !validText(req.Text, a.notes.limits.TextRunes) {
		writeProblem(w, http.StatusBadRequest, "invalid_request",
			"text must be 1 to "+strconv.Itoa(a.notes.limits.TextRunes)+" characters, not blank, without control characters")
		return
	}
	writeJSON(w, http.StatusCreated, a.notes.add(p.UserID, req.Text))
}

// strictDecode decodes exactly one JSON object with known fields only,
// each once and named exactly (strictjson says why encoding/json alone
// is not enough).
func strictDecode(body []byte, dst any) error { return strictjson.Decode(body, dst) }

// notes is the in-memory note list of each user, bounded by Limits.
type notes struct {
	mu     sync.Mutex
	limits Limits
	seq    uint64
	byUser map[string]*userNotes
	now    func() time.Time
}

type userNotes struct {
	items   []noteView // oldest first
	touched uint64     // seq of the last write, for forgetting the least recent user
}

func newNotes(l Limits) *notes {
	return &notes{limits: l, byUser: map[string]*userNotes{}, now: time.Now}
}

func (n *notes) add(user, text string) noteView {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	u := n.byUser[user]
	if u == nil {
		if len(n.byUser) >= n.limits.Users {
			n.forgetLeastRecent()
		}
		u = &userNotes{}
		n.byUser[user] = u
	}
	v := noteView{ID: strconv.FormatUint(n.seq, 10), Text: text, CreatedAt: n.now().UTC().Truncate(time.Second)}
	u.items = append(u.items, v)
	if over := len(u.items) - n.limits.PerUser; over > 0 {
		u.items = append(u.items[:0], u.items[over:]...)
	}
	u.touched = n.seq
	return v
}

// forgetLeastRecent drops the notes of the user who wrote least recently.
// It is linear, and runs only when a new user arrives at a full table.
func (n *notes) forgetLeastRecent() {
	var (
		oldest string
		least  uint64
	)
	for id, u := range n.byUser {
		if oldest == "" || u.touched < least {
			oldest, least = id, u.touched
		}
	}
	delete(n.byUser, oldest)
}

// list returns a user's notes, newest first.
func (n *notes) list(user string) []noteView {
	n.mu.Lock()
	defer n.mu.Unlock()
	u := n.byUser[user]
	out := make([]noteView, 0, 8)
	if u == nil {
		return out
	}
	for i := len(u.items) - 1; i >= 0; i-- {
		out = append(out, u.items[i])
	}
	return out
}

// problem is an RFC 9457 body in the shape Gatehouse's API uses, so the
// browser client reads the demo API's errors as it reads Gatehouse's.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status is sent: a failed write (the client gone) cannot be reported.
	_ = json.NewEncoder(w).Encode(problem{Type: "urn:gatehouse:problem:" + code, Title: http.StatusText(status),
		Status: status, Code: code, Detail: detail})
}

// writeJSON sends an API answer. Answers describe the caller's account and
// data: no cache may keep them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: nothing to report a failure to
}
