package server

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/httpserve"
)

// TestFramingCode: the listener's refusal (internal/httpserve, in front
// of this package's handler) uses a code of this package's documented
// list.
func TestFramingCode(t *testing.T) {
	if httpserve.CodeAmbiguousFraming != CodeAmbiguousFraming {
		t.Fatalf("httpserve answers %q, the list has %q", httpserve.CodeAmbiguousFraming, CodeAmbiguousFraming)
	}
}
