package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gatehouse-auth/gatehouse/"

// imports maps each package of the module (its directory, relative to the
// repository) to the module packages its non-test files import, read with
// go/parser from the tree itself.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[dir], rest) {
				out[dir] = append(out[dir], rest)
			}
			if strings.Contains(p, "prometheus") && !slices.Contains(out[dir], p) {
				out[dir] = append(out[dir], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deps is every package p reaches through the module's own imports, and
// the outside ones named in the map (Prometheus).
func deps(m map[string][]string, p string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(q string) {
		for _, d := range m[q] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(p)
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// TestLayout holds the README's folder list and imports paragraph to the
// code: every listed folder exists and every package is listed (itself or
// a folder above it), and the layers of the paragraph's arrow chain import
// only their own layer and those below it; and the rules the paragraph
// states hold.
func TestLayout(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	a, b := strings.Index(section, "## Layout"), strings.Index(section, "## Tests")
	if a < 0 || b < a {
		t.Fatal("README.md has no Layout section before Tests")
	}
	section = section[a:b]
	m := imports(t, root)

	// The folder list.
	block := section[strings.Index(section, "```\n")+4:]
	block = block[:strings.Index(block, "```")]
	var listed []string
	top := ""
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		path := strings.Fields(line)[0]
		if strings.HasPrefix(line, " ") {
			path = top + path
		} else {
			top = path
		}
		listed = append(listed, strings.TrimSuffix(path, "/"))
	}
	for _, p := range listed {
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
			t.Errorf("README lists %s/, which is not a folder", p)
		}
	}
	for p := range m {
		covered := false
		for _, l := range listed {
			covered = covered || p == l || strings.HasPrefix(p, l+"/")
		}
		if !covered {
			t.Errorf("package %s is in no folder the README lists", p)
		}
	}

	// The arrow chain: a package of a layer imports none of a layer above.
	para := section[strings.Index(section, "Imports run one way:"):]
	para = para[:strings.Index(para, ".")]
	pkg := func(name string) string {
		switch name {
		case "cmd":
			return "cmd/gatehouse"
		case "guard", "bff":
			return name // the public packages
		}
		return "internal/" + name
	}
	var layers [][]string
	for _, part := range strings.Split(para, "→") {
		var layer []string
		for _, n := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(part, -1) {
			p := pkg(n[1])
			if _, ok := m[p]; !ok {
				t.Errorf("the imports paragraph names %q, which is no package", n[1])
			}
			layer = append(layer, p)
		}
		layers = append(layers, layer)
	}
	if len(layers) < 4 {
		t.Fatalf("no arrow chain in %q", para)
	}
	for i, layer := range layers {
		for _, p := range layer {
			for _, above := range layers[:i] {
				for _, q := range above {
					if slices.Contains(m[p], q) {
						t.Errorf("%s imports %s, a layer above it", p, q)
					}
				}
			}
		}
	}

	// The rules.
	backends := []string{"internal/store/sqlite", "internal/store/postgres"}
	for p, ims := range m {
		for _, be := range backends {
			if slices.Contains(ims, be) && p != "internal/app" && !strings.HasPrefix(p, "cmd/") {
				t.Errorf("%s imports the store backend %s: only app and cmd may", p, be)
			}
		}
	}
	for _, p := range []string{"internal/authapi", "internal/edge", "internal/demo", "internal/httpserve", "internal/credential", "guard"} {
		for _, d := range deps(m, p) {
			if d == "internal/store" || strings.HasPrefix(d, "internal/store/") {
				if slices.Contains(m[p], d) {
					t.Errorf("the HTTP package %s imports %s: it reaches the store only through the engine", p, d)
				}
			}
		}
	}
	if d := deps(m, "internal/config"); len(d) != 0 {
		t.Errorf("config imports %v: it is plain data", d)
	}
	for _, d := range deps(m, "guard") {
		if strings.Contains(d, "prometheus") {
			t.Errorf("guard links %s", d)
		}
	}
}

// TestDocPaths: every file or folder of the repository the documentation
// names (README, SECURITY and docs/; not the CHANGELOG, which tells where
// things were) exists, and every test, fuzz target, example or benchmark
// it names just before a test file in parentheses ("`TestX`, `TestY/case`
// (`pkg/x_test.go`)") is a function of that file.
func TestDocPaths(t *testing.T) {
	root := filepath.Join("..", "..")
	docs := []string{"README.md", "SECURITY.md"}
	for _, pat := range []string{"docs/*.md", "docs/security/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(root, p)
			docs = append(docs, rel)
		}
	}
	path := regexp.MustCompile(`(?:^|[^/A-Za-z0-9_.-])((?:internal|guard|cmd|web)/[A-Za-z0-9_./-]*[A-Za-z0-9_])`)
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range path.FindAllStringSubmatch(text, -1) {
			if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
				t.Errorf("%s names %s, which does not exist", d, m[1])
			}
		}
		for _, m := range testFile.FindAllStringSubmatchIndex(text, -1) {
			file := text[m[2]:m[3]]
			src, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				continue // reported above
			}
			// The names since the end of the previous reference, cell or line.
			start := max(strings.LastIndexAny(text[:m[0]], ");|\n"), 0)
			for _, n := range testName.FindAllStringSubmatch(text[start:m[0]], -1) {
				if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(n[1]) + `\(`).Match(src) {
					t.Errorf("%s names %s in %s, which has no such function", d, n[1], file)
				}
			}
		}
	}
}

var (
	testFile = regexp.MustCompile("\\(`([A-Za-z0-9_./-]+_test\\.go)`")
	testName = regexp.MustCompile("`((?:Test|Fuzz|Example|Benchmark)[A-Za-z0-9_]*)(?:/[^`]*)?`")
)
