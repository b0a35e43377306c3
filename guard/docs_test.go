package guard_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root as seen from this package's directory, where
// go test runs.
const repoRoot = ".."

// exampleMarker names the function a Go block of the documentation is
// copied from: <!-- example: guard/example_feed_test.go ExampleFollowFeed -->
// on the line above the block, the path relative to the module root.
var exampleMarker = regexp.MustCompile(`^<!--\s*example:\s*(\S+\.go)\s+(\w+)\s*-->$`)

// docSnippet is one ```go block of a Markdown file.
type docSnippet struct {
	doc    string // path relative to the module root
	line   int    // of the opening fence
	marker string // the last non-blank line before the fence
	body   []string
}

// TestDocSnippets keeps the Go code in the documentation runnable: every
// ```go block in README.md, docs/*.md and docs/security/*.md must name, on
// the line above it, the Example (or Test) it is copied from, and must
// appear in that function's body, line for line (indentation and runs of
// spaces aside). An Example must have an Output comment, so that go test
// runs it rather than only compiling it. A snippet that would not compile
// on its own has no function to live in, so it cannot pass.
func TestDocSnippets(t *testing.T) {
	var docs []string
	for _, pattern := range []string{"README.md", "docs/*.md", "docs/security/*.md"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m...)
	}
	var snippets []docSnippet
	for _, path := range docs {
		rel, _ := filepath.Rel(repoRoot, path)
		s, err := goSnippets(path, filepath.ToSlash(rel))
		if err != nil {
			t.Error(err)
		}
		snippets = append(snippets, s...)
	}
	if len(snippets) == 0 {
		t.Fatalf("no ```go block in %d documents: docs/guard.md has at least one, so the documents were not found", len(docs))
	}
	for _, s := range snippets {
		if err := s.check(); err != nil {
			t.Errorf("%s:%d: %v", s.doc, s.line, err)
		}
	}
}

// goSnippets returns the ```go blocks of the Markdown file at path.
func goSnippets(path, rel string) ([]docSnippet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		out      []docSnippet
		cur      *docSnippet
		fence    string // the fence of an open block of another language
		lastText string
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil:
			if trimmed == "```" {
				out = append(out, *cur)
				cur = nil
				continue
			}
			cur.body = append(cur.body, line)
		case fence != "":
			if trimmed == fence {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"):
			switch lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```")); lang {
			case "go", "golang":
				cur = &docSnippet{doc: rel, line: n, marker: lastText}
			default:
				fence = "```"
			}
		case trimmed != "":
			lastText = trimmed
		}
	}
	if cur != nil {
		return out, fmt.Errorf("%s:%d: the ```go block is never closed", rel, cur.line)
	}
	return out, sc.Err()
}

// check finds the function the snippet names and the snippet in its body.
func (s docSnippet) check() error {
	m := exampleMarker.FindStringSubmatch(s.marker)
	if m == nil {
		return fmt.Errorf("a ```go block must say which runnable example it is copied from: "+
			"put <!-- example: FILE_test.go ExampleName --> (path from the module root) on the line above it, "+
			"and the block's code in that function; the line above is %q", s.marker)
	}
	file, name := m[1], m[2]
	if !strings.HasSuffix(file, "_test.go") || filepath.IsAbs(file) || strings.Contains(file, "..") {
		return fmt.Errorf("%s: the example must be in a _test.go file of this module, named from the module root", file)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(file)))
	if err != nil {
		return fmt.Errorf("the block names %s: %w", file, err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return err
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Recv == nil && d.Name.Name == name {
			fn = d
		}
	}
	if fn == nil || fn.Body == nil {
		return fmt.Errorf("the block names %s in %s, which has no such function", name, file)
	}
	switch {
	case strings.HasPrefix(name, "Example"):
		if !hasOutput(f, fn) {
			return fmt.Errorf("%s in %s has no // Output: comment, so go test compiles it but never runs it", name, file)
		}
	case strings.HasPrefix(name, "Test"):
	default:
		return fmt.Errorf("%s in %s is neither an Example nor a Test: go test would not run it", name, file)
	}
	from, to := fset.Position(fn.Body.Lbrace).Offset+1, fset.Position(fn.Body.Rbrace).Offset
	body := normalize(strings.Split(string(src[from:to]), "\n"))
	snip := normalize(s.body)
	if len(snip) == 0 {
		return fmt.Errorf("the ```go block is empty")
	}
	best, at := 0, -1
	for i := range body {
		k := 0
		for k < len(snip) && i+k < len(body) && body[i+k] == snip[k] {
			k++
		}
		if k == len(snip) {
			return nil
		}
		if k > best {
			best, at = k, i
		}
	}
	if best == 0 {
		return fmt.Errorf("the block is not in the body of %s (%s): its first line %q is not there; "+
			"copy the block from the function, or change both", name, file, snip[0])
	}
	return fmt.Errorf("the block is not in the body of %s (%s): it follows the function for %d lines, then has %q where the function has %q; "+
		"copy the block from the function, or change both", name, file, best, snip[best], lineAt(body, at+best))
}

// normalize drops blank lines and reduces each line's white space to
// single spaces, so indentation (tabs in Go, spaces in Markdown) and
// gofmt's alignment do not count.
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(the end of the function)"
}

// hasOutput reports whether fn holds an Output comment, without which an
// Example is compiled but not run.
func hasOutput(f *ast.File, fn *ast.FuncDecl) bool {
	for _, cg := range f.Comments {
		if cg.Pos() < fn.Body.Lbrace || cg.End() > fn.Body.Rbrace {
			continue
		}
		text := strings.TrimSpace(cg.Text())
		for _, prefix := range []string{"Output:", "Unordered output:"} {
			if strings.Contains(text, prefix) {
				return true
			}
		}
	}
	return false
}

// TestDocSnippetCheck: the check accepts a block copied from its example
// with other indentation, and refuses, naming what is wrong, a block with
// no marker, one naming a function that does not exist or is never run,
// and one that drifted from its function.
func TestDocSnippetCheck(t *testing.T) {
	const marker = "<!-- example: guard/example_feed_test.go ExampleFollowFeed -->"
	copied := []string{
		"  revocations := guard.NewRevocations()",
		"  go guard.FollowFeed(ctx, authURL+\"/auth/revocations\", guard.FeedOptions{",
		"",
		"      Secret:   feedSecret,",
		"      Set: revocations,",
		"  })",
	}
	for _, tc := range []struct {
		name, marker string
		body         []string
		want         string // "" for a block that passes
	}{
		{"copied", marker, copied, ""},
		{"no marker", "Some prose.", copied, "must say which runnable example"},
		{"no such function", "<!-- example: guard/example_feed_test.go ExampleNothing -->", copied, "no such function"},
		{"not run", "<!-- example: guard/example_feed_test.go startExampleGatehouse -->", copied, "neither an Example nor a Test"},
		{"outside the module", "<!-- example: ../elsewhere/x_test.go ExampleX -->", copied, "of this module"},
		{"drifted", marker, []string{copied[0], copied[1], "Secret: os.Getenv(\"SECRET\"),"}, `then has "Secret: os.Getenv(\"SECRET\")," where the function has "Secret: feedSecret,"`},
		{"made up", marker, []string{"g := guard.MustNew()"}, `its first line "g := guard.MustNew()" is not there`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := docSnippet{doc: "docs/x.md", line: 1, marker: tc.marker, body: tc.body}.check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
