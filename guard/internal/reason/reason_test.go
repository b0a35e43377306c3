package reason

import (
	"os"
	"strings"
	"testing"
)

// TestNames: every reason has a distinct label value, Parse finds it,
// and docs/guard.md lists it.
func TestNames(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/guard.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for r := range N {
		s := r.String()
		if s == "" || seen[s] {
			t.Fatalf("reason %d: label %q empty or taken", r, s)
		}
		seen[s] = true
		if p, ok := Parse(s); !ok || p != r {
			t.Fatalf("Parse(%q) = %d, %v", s, p, ok)
		}
		if !strings.Contains(string(doc), "`"+s+"`") {
			t.Errorf("docs/guard.md does not list the refusal reason %s", s)
		}
	}
	if _, ok := Parse("unknown"); ok {
		t.Fatal("Parse accepted an unknown reason")
	}
}
