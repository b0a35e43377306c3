package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"
)

// FuzzAddNote: the demo API's one JSON body, POST /demo/api/notes
// (docs/security/fuzzing.md). A note is stored (201) only from an
// application/json body in valid UTF-8 that is one JSON object with the
// single member "text", named exactly and once, and nothing after it;
// the text stored is the one encoding/json reads from the body, and it
// passes validText. Every other body is answered 400, 413 or 415 and
// stores nothing.
func FuzzAddNote(f *testing.F) {
	for _, s := range []struct{ body, ct string }{
		{`{"text":"buy milk"}`, "application/json"},
		{`{"text":"line one\nline two \u00e9 \ud83d\ude00"}`, "application/json; charset=utf-8"},
		{`{"text":"a","text":"b"}`, "application/json"},
		{`{"TEXT":"a"}`, "application/json"},
		{`{"text":"a"}{}`, "application/json"},
		{`{"text":"\u0000"}`, "application/json"},
		{"{\"text\":\"\xff\"}", "application/json"},
		{`{"text":"   "}`, "application/json"},
		{`text=hello`, "application/x-www-form-urlencoded"},
		{`["text"]`, "application/json"},
		{`null`, "application/json"},
	} {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		a := &api{
			principal: func(context.Context) (Principal, bool) { return Principal{UserID: "u_1"}, true },
			notes:     newNotes(Limits{}.withDefaults()),
			log:       slog.New(slog.DiscardHandler),
		}
		r := httptest.NewRequest(http.MethodPost, "/demo/api/notes", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		a.addNote(w, r)
		stored := a.notes.list("u_1")
		if w.Code != http.StatusCreated {
			if len(stored) != 0 || (w.Code != 400 && w.Code != 413 && w.Code != 415) {
				t.Fatalf("answered %d, stored %d notes", w.Code, len(stored))
			}
			return
		}
		if !utf8.Valid(body) || len(stored) != 1 {
			t.Fatalf("stored %d notes from %q", len(stored), body)
		}
		// The reference: one object, one member, exactly "text".
		dec := json.NewDecoder(bytes.NewReader(body))
		var names []string
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("stored a note from %q, not a JSON object", body)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if len(names) != 1 || names[0] != "text" {
			t.Fatalf("stored a note from %q, members %q", body, names)
		}
		var ref struct{ Text string }
		if err := json.Unmarshal(body, &ref); err != nil || ref.Text != stored[0].Text || !validText(ref.Text, a.notes.limits.TextRunes) {
			t.Fatalf("stored %q from %q (reference %q, %v)", stored[0].Text, body, ref.Text, err)
		}
	})
}
