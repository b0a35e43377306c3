package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
)

// TestReadiness: /readyz is 200 once the database answers, the keys are
// loaded and the revocation feed is live, and 503 not_ready, naming the
// cause, when the database stops answering; /healthz stays 200, since the
// process still answers.
func TestReadiness(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	a, err := app.Open(ctx, apptest.Config(t, base), app.Options{Log: slog.New(slog.DiscardHandler), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, stop := context.WithCancel(ctx)
	a.Run(jobs)
	if err := a.Serve(jobs, app.ServeOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { stop(); <-a.Hub.Done() })
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			Code, Detail, Status string
		}
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Code + " " + p.Detail
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if status, _ := get("/readyz"); status == http.StatusOK { // the feed has made its first contact
			break
		}
	}
	if status, body := get("/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz on a ready server: %d %s", status, body)
	}
	if err := a.DB.Close(); err != nil {
		t.Fatal(err)
	}
	status, body := get("/readyz")
	if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not_ready ") || !strings.Contains(body, "database") {
		t.Fatalf("/readyz with the database gone: %d %s", status, body)
	}
	if status, _ := get("/healthz"); status != http.StatusOK {
		t.Fatalf("/healthz with the database gone: %d", status)
	}
}

// TestOpenAPIServed: GET /openapi.json answers the OpenAPI description
// the repository documents (docs/openapi.yaml), as JSON, every path of it.
func TestOpenAPIServed(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	a, err := app.Open(ctx, apptest.Config(t, base), app.Options{Log: slog.New(slog.DiscardHandler), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if err := a.Serve(ctx, app.ServeOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
		json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("/openapi.json: %d %s, openapi %q", resp.StatusCode, resp.Header.Get("Content-Type"), doc.OpenAPI)
	}
	for _, p := range []string{"/auth/login", "/oauth2/token", "/readyz", "/openapi.json"} {
		if doc.Paths[p] == nil {
			t.Errorf("the served description lacks %s", p)
		}
	}
}
