package store_test

import (
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dialects are the migration directories, one per backend, relative to
// this package. Each backend embeds its own (migrations/*.sql), written
// plainly in its dialect; together they are one versioned set.
var dialects = []string{"sqlite/migrations", "postgres/migrations"}

// TestMigrationsMatch: every migration version exists in every dialect,
// under the same name, so that a schema change made for one backend and
// forgotten for the other fails here rather than in production.
func TestMigrationsMatch(t *testing.T) {
	sets := map[string]map[int64]string{}
	for _, dir := range dialects {
		versions := map[int64]string{}
		entries, err := fs.ReadDir(os.DirFS(dir), ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".sql")
			if !ok {
				continue
			}
			num, _, _ := strings.Cut(name, "_")
			v, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				t.Errorf("%s/%s: no version number", dir, e.Name())
				continue
			}
			if other, dup := versions[v]; dup {
				t.Errorf("%s: version %d twice (%s and %s)", dir, v, other, name)
			}
			versions[v] = name
		}
		if len(versions) == 0 {
			t.Errorf("%s: no migrations", dir)
		}
		sets[dir] = versions
	}
	first := sets[dialects[0]]
	for _, dir := range dialects[1:] {
		other := sets[dir]
		all := slices.Sorted(maps.Keys(first))
		for v := range other {
			if _, ok := first[v]; !ok {
				all = append(all, v)
			}
		}
		for _, v := range all {
			a, inFirst := first[v]
			b, inOther := other[v]
			switch {
			case !inOther:
				t.Errorf("version %d (%s) is in %s but not in %s", v, a, dialects[0], dir)
			case !inFirst:
				t.Errorf("version %d (%s) is in %s but not in %s", v, b, dir, dialects[0])
			case a != b:
				t.Errorf("version %d is %s in %s but %s in %s", v, a, dialects[0], b, dir)
			}
		}
	}
}
