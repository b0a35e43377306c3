package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestCLIBFF runs `gatehouse bff` against a provider: the refusals of a
// configuration it cannot run with, the client secret never taken from a
// flag, and a BFF that starts, reads the provider's discovery and sends a
// sign-in there.
func TestCLIBFF(t *testing.T) {
	ctx := context.Background()
	gsrv := httptest.NewUnstartedServer(nil)
	gURL := "http://" + gsrv.Listener.Addr().String()
	g, err := app.Open(ctx, apptest.Config(t, gURL), app.Options{Log: slog.New(slog.DiscardHandler), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	if err := g.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, stop := context.WithCancel(ctx)
	g.Run(jobs)
	if err := g.Serve(jobs, app.ServeOptions{}); err != nil {
		t.Fatal(err)
	}
	gsrv.Config.Handler = g.Handler()
	gsrv.Start()
	t.Cleanup(gsrv.Close)
	t.Cleanup(func() { stop(); <-g.Hub.Done() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, secret, err := g.Clients.Add(ctx, session.CLI, provider.Spec{Name: "SPA", RedirectURIs: []string{"http://" + addr + "/bff/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"bff", "--issuer", gURL, "--client-id", c.ID, "--listen", addr, "--route", "/api/=http://127.0.0.1:9"}, extra...)
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"no secret", map[string]string{"GATEHOUSE_DATA": data}, args(), "no client secret"},
		{"the secret as a flag", map[string]string{"GATEHOUSE_DATA": data}, args("--client-secret", secret), "unknown flag"},
		{"a bad route", map[string]string{"GATEHOUSE_DATA": data, "GATEHOUSE_BFF_CLIENT_SECRET": secret},
			[]string{"bff", "--issuer", gURL, "--client-id", c.ID, "--listen", addr, "--route", "api"}, "PREFIX=UPSTREAM"},
		{"an unreachable provider", map[string]string{"GATEHOUSE_DATA": data, "GATEHOUSE_BFF_CLIENT_SECRET": secret},
			[]string{"bff", "--issuer", "http://127.0.0.1:9", "--client-id", c.ID, "--listen", addr}, "discovery"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cli(t, tt.env, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one about %q", err, tt.wantErr)
			}
		})
	}

	t.Run("runs", func(t *testing.T) {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- run(runCtx, args("--client-secret-file", secretFile), envFrom(map[string]string{"GATEHOUSE_DATA": data}),
				strings.NewReader(""), io.Discard, io.Discard)
		}()
		noFollow := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var resp *http.Response
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err = noFollow.Get("http://" + addr + "/bff/login")
			if err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, gURL+provider.PathAuthorize+"?") ||
			!strings.Contains(loc, "request_uri=") {
			t.Fatalf("/bff/login: %d to %q, want a pushed request at the provider", resp.StatusCode, loc)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("gatehouse bff ended with %v", err)
		}
	})
}
