package authapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"

	"github.com/gatehouse-auth/gatehouse/internal/revocation"
)

const (
	revocationsPath = "/auth/revocations"
	eventStream     = "text/event-stream"
	// feedWriteTimeout bounds each write to a feed stream: the stream has
	// no overall deadline, but a client that stops reading must not pin
	// its handler for ever.
	feedWriteTimeout = 30 * time.Second
)

// revocationView is one feed entry on the wire, in the JSON poll and in
// each SSE event's data.
type revocationView struct {
	Seq   int64     `json:"seq"`
	SID   string    `json:"sid"`
	Until time.Time `json:"until"`
}

type revocationsView struct {
	Revocations []revocationView `json:"revocations"`
	Head        int64            `json:"head"`
}

type headView struct {
	Head int64 `json:"head"`
}

func viewRevocation(e revocation.Entry) revocationView {
	return revocationView{Seq: e.Seq, SID: e.SID, Until: e.Until}
}

// IsFeedStream reports whether r opens the revocation feed's event
// stream: the one request exempt from request_timeout.
func IsFeedStream(r *http.Request) bool {
	return r.URL.Path == revocationsPath && r.Method == http.MethodGet && acceptsEventStream(r)
}

// acceptsEventStream reports whether the Accept header lists
// text/event-stream (with any parameters; q=0 refuses it, RFC 9110 §12.5.1).
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(mt), eventStream) {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// feedAuthorized checks the feed's bearer secret (RFC 6750 §2.1). Both
// sides are hashed before the constant-time comparison, so neither the
// time nor an early length mismatch tells anything about the secret.
func (s *Server) feedAuthorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], s.feedSecret[:]) == 1
}

// feedCursor reads where the reader resumes: ?after=SEQ, else the SSE
// reconnection header Last-Event-ID (WHATWG HTML §9.2), else 0.
func feedCursor(r *http.Request) (int64, error) {
	q, err := query(r, "after")
	if err != nil {
		return 0, err
	}
	v, ok := q["after"]
	name := "after"
	if !ok {
		v, name = strings.TrimSpace(r.Header.Get("Last-Event-ID")), "Last-Event-ID"
		if v == "" {
			return 0, nil
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badQuery(name + " must be a non-negative integer")
	}
	return n, nil
}

// handleRevocations serves GET /auth/revocations, the revocation feed
// resource servers' guards follow: as Server-Sent Events when the client
// accepts text/event-stream, as one JSON page otherwise (the poll
// fallback). It is off (404, like any unknown path) unless a feed secret
// is configured: a guard in this process follows the Hub directly.
func (s *Server) handleRevocations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.feed == nil || s.cfg.RevocationFeedSecret == "" {
			edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no such endpoint")
			return
		}
		if !s.feedAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidToken, "the revocation feed needs its bearer secret")
			return
		}
		after, err := feedCursor(r)
		if err != nil {
			queryProblem(w, err)
			return
		}
		if IsFeedStream(r) {
			s.streamRevocations(w, r, after)
			return
		}
		hub := s.feed
		entries, err := hub.Read(r.Context(), after)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		head, err := hub.Head(r.Context())
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		edge.WriteJSON(w, http.StatusOK, revocationsView{Revocations: mapRows(entries, viewRevocation), Head: head})
	})
}

// streamRevocations is the feed as Server-Sent Events (WHATWG HTML §9.2):
// the backlog after the cursor, then each entry as it is committed, each
// with its seq as the event id so that a reconnecting EventSource resumes
// by itself (Last-Event-ID); a ping every RevocationHeartbeat; a reset
// first when the cursor is beyond the store's head (the store was
// replaced, so the reader must start again from 0).
func (s *Server) streamRevocations(w http.ResponseWriter, r *http.Request, after int64) {
	ctx, hub := r.Context(), s.feed
	head, err := hub.Head(ctx)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	sub := hub.Subscribe()
	defer sub.Close()

	// The listener's read and write timeouts are for ordinary requests;
	// lift them for this response and bound each write instead.
	// Both fail only with http.ErrNotSupported, under a ResponseWriter
	// that hides the connection (a test recorder), which has no deadlines.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", eventStream)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	// send writes what is buffered and flushes it at once: an event held
	// in a buffer is a revocation a guard does not know of yet.
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
		if buf.Len() > 0 {
			_, err := w.Write(buf.Bytes())
			buf.Reset()
			if err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	event := func(id int64, name string, data any) {
		if id > 0 {
			buf.WriteString("id: " + strconv.FormatInt(id, 10) + "\n")
		}
		b, _ := json.Marshal(data) // the views always marshal
		buf.WriteString("event: " + name + "\ndata: ")
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	if after > head {
		event(0, "reset", headView{Head: head})
		after = 0
	}
	if !send() {
		return
	}

	beat := time.NewTicker(s.cfg.RevocationHeartbeat)
	defer beat.Stop()
	for {
		wake := sub.Wake()
		entries, err := sub.Next(ctx, after)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("revocation feed: read failed", "err", err)
		}
		for _, e := range entries {
			event(e.Seq, "revoked", viewRevocation(e))
			after = e.Seq
		}
		if buf.Len() > 0 && !send() {
			return
		}
		if len(entries) == revocation.PageSize {
			continue
		}
		select {
		case <-ctx.Done(): // client gone
			return
		case <-hub.Done(): // server shutting down
			return
		case <-wake:
		case <-beat.C:
			event(0, "ping", headView{Head: max(sub.LastHead(), after)})
			if !send() {
				return
			}
		}
	}
}
