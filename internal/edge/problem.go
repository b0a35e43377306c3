package edge

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// WriteProblem sends an RFC 9457 problem+json response that no cache may
// keep.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}

// WriteJSON sends v as a JSON body (application/json unless the handler
// chose a more specific JSON media type).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: nothing to report a failure to
}
