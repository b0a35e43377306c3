// Package problem writes RFC 9457 problem details the way every part of
// Gatehouse answers errors — the server's endpoints and the guard in front
// of a resource server alike — so a client parses one shape and branches on
// one set of codes wherever the answer came from.
package problem

import (
	"encoding/json"
	"net/http"
)

// TypePrefix starts the type member of every problem: the type is
// TypePrefix followed by the code.
const TypePrefix = "urn:gatehouse:problem:"

// Details is an RFC 9457 problem details body. Code is Gatehouse's stable,
// machine-readable name for the problem: clients branch on it, never on
// Title or Detail, which are for people and may change.
type Details struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Write sends a problem+json response that no cache may keep (RFC 9111
// §5.2.2.5): it is about this request, often about its credentials.
func Write(w http.ResponseWriter, status int, code, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	// The status is sent: a failed write (the client gone) cannot be reported.
	_ = json.NewEncoder(w).Encode(Details{
		Type:   TypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Code:   code,
		Detail: detail,
	})
}
