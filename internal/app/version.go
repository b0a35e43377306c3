package app

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
)

// BuildInfo is what `gatehouse version` prints: the module's version and
// the commit and time it was built from (runtime/debug.ReadBuildInfo, set
// by `go build` in a git checkout), the Go version, and the schema version
// this binary migrates to (both backends carry the same migrations).
type BuildInfo struct {
	Version   string
	Commit    string
	Modified  bool
	BuildTime string
	GoVersion string
	Schema    int64
}

// Build reads the running binary's build information.
func Build() BuildInfo {
	b := BuildInfo{Version: "(unknown)", Schema: sqlite.LatestVersion()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Version, b.GoVersion = bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.BuildTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the build information, one fact a line.
func (b BuildInfo) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "gatehouse %s\n", b.Version)
	commit := b.Commit
	if commit == "" {
		commit = "(unknown)"
	} else if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(&sb, "commit %s\n", commit)
	if b.BuildTime != "" {
		fmt.Fprintf(&sb, "built %s\n", b.BuildTime)
	}
	fmt.Fprintf(&sb, "go %s\n", b.GoVersion)
	fmt.Fprintf(&sb, "schema version %d\n", b.Schema)
	return sb.String()
}
