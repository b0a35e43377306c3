package edge

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/httpserve"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// TestFramingCode: the listener's refusal (internal/httpserve, in front
// of every handler) uses a code of the documented
// list.
func TestFramingCode(t *testing.T) {
	if httpserve.CodeAmbiguousFraming != problem.CodeAmbiguousFraming {
		t.Fatalf("httpserve answers %q, the list has %q", httpserve.CodeAmbiguousFraming, problem.CodeAmbiguousFraming)
	}
}
