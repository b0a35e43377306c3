package problem

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "99") // set by a handler before the error
	Write(rec, 429, "rate_limited", "slow down")
	if rec.Code != 429 || rec.Header().Get("Content-Type") != "application/problem+json" ||
		rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Length") != "" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	var d Details
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	want := Details{Type: "urn:gatehouse:problem:rate_limited", Title: "Too Many Requests", Status: 429, Code: "rate_limited", Detail: "slow down"}
	if d != want {
		t.Fatalf("got %+v, want %+v", d, want)
	}
}
