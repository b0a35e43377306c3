// Package web holds the files Gatehouse serves to browsers: the client
// module gatehouse.js and the demo app. They are embedded, so the server
// stays one binary with nothing to install beside it, and they are plain
// files in the repository, so they need no build step and can be read,
// copied and reviewed as they are.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"time"
)

// The embedded files are read-only data fixed at build time; go:embed
// needs package-level variables, and nothing writes to them.
var (
	//go:embed gatehouse.js
	clientJS []byte
	//go:embed demo
	demoFiles embed.FS
)

// ClientScript returns the source of gatehouse.js.
func ClientScript() []byte { return bytes.Clone(clientJS) }

// ClientHandler serves gatehouse.js. It is revalidated on every use
// (Cache-Control: no-cache) against a strong ETag of its content: after an
// upgrade every page gets the new client at once, and until then a reload
// costs a 304. ServeContent answers HEAD, If-None-Match and ranges.
func ClientHandler() http.Handler {
	sum := sha256.Sum256(clientJS)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "gatehouse.js", time.Time{}, bytes.NewReader(clientJS))
	})
}

// DemoFiles returns the demo app's files (index.html, app.js, app.css)
// at the root of the returned file system.
func DemoFiles() fs.FS {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		// fs.Sub fails only for an invalid path; "demo" is a constant.
		panic(err)
	}
	return sub
}
