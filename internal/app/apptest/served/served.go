// Package served runs a whole Gatehouse for a test, over real HTTP on
// loopback: the composition root serve uses, its background jobs and its
// handler, stopped when the test ends. (It is apart from apptest, which
// the composition root's own tests import.)
package served

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
)

// Server is a Gatehouse listening at URL.
type Server struct {
	URL string
	App *app.App
	srv *httptest.Server
}

// Reserve takes a loopback address, so that the configuration can name
// its URL (the public URL, the issuer) before Start opens the app.
func Reserve(t testing.TB) *Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	return &Server{URL: "http://" + srv.Listener.Addr().String(), srv: srv}
}

// Start opens the app on cfg with o, ensures its signing keys, runs its
// background jobs, serves it at s.URL, and undoes all of it when the test
// ends.
func (s *Server) Start(t testing.TB, cfg config.Resolved, o app.Options) *app.App {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := a.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, stop := context.WithCancel(ctx)
	a.Run(jobs)
	if err := a.Serve(jobs, app.ServeOptions{}); err != nil {
		t.Fatal(err)
	}
	s.srv.Config.Handler = a.Handler()
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	// Before the closes above: streams and senders end first.
	t.Cleanup(func() { stop(); <-a.Hub.Done(); <-a.Backchannel.Done() })
	s.App = a
	return a
}
