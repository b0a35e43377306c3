package authapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
)

// The API documents are part of the feature: these tests fail when a
// route or a problem code is added, removed or renamed in the code and
// not in docs/openapi.yaml and docs/errors.md, or the other way round.

const (
	openAPIPath = "../../docs/openapi.yaml"
	errorsPath  = "../../docs/errors.md"
)

// TestOpenAPIMatchesRoutes compares the documented paths and methods with
// the route table.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var documented, served []string
	for path, item := range doc.Paths {
		for key := range item {
			switch key {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	for _, rt := range (&Server{}).routeTable() {
		for m := range rt.methods {
			served = append(served, m+" "+rt.path)
		}
	}
	// The provider shares the mux and the document.
	served = append(served, provider.RoutePatterns()...)
	slices.Sort(documented)
	slices.Sort(served)
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("%s is served but not in docs/openapi.yaml", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s is in docs/openapi.yaml but not served", op)
		}
	}
}

// TestProblemCodesDocumented checks that every Code constant appears in
// the table of docs/errors.md and in the OpenAPI Problem enum, and that
// neither lists a code the server does not have.
func TestProblemCodesDocumented(t *testing.T) {
	codes := problemCodes(t)
	errorsDoc, err := os.ReadFile(errorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var inErrors []string
	for line := range strings.SplitSeq(string(errorsDoc), "\n") {
		if strings.HasPrefix(line, "| `") {
			inErrors = append(inErrors, strings.Trim(strings.Split(line, "|")[1], " `"))
		}
	}
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `yaml:"enum"`
						} `yaml:"code"`
					} `yaml:"properties"`
				} `yaml:"Problem"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string][]string{"docs/errors.md": inErrors, "openapi Problem.code enum": doc.Components.Schemas.Problem.Properties.Code.Enum} {
		slices.Sort(list)
		if !slices.Equal(list, codes) {
			t.Errorf("%s lists %v\nthe server has %v", name, list, codes)
		}
	}
}

// problemCodes reads the Code* constants from internal/problem/codes.go,
// the one list every surface answers with.
func problemCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../problem/codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Code") || len(vs.Values) != 1 {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
			v, _ := strconv.Unquote(lit.Value)
			codes = append(codes, v)
		}
		return true
	})
	if len(codes) < 10 {
		t.Fatalf("found only %d problem codes in internal/problem/codes.go", len(codes))
	}
	slices.Sort(codes)
	return codes
}
