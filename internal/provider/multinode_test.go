package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newCluster starts n Gatehouse nodes on one fresh PostgreSQL schema, as
// behind a load balancer: one public URL (the issuer), each node on its
// own listener. The returned ops share the database; ops[i].URL is node
// i's own address, and every node's tokens carry the same iss.
func newCluster(t *testing.T, n int) []*op {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	clk := clock.NewFake(sessiontest.Start)
	var nodes []*op
	var public string
	for i := range n {
		srv := served.Reserve(t)
		addr := srv.URL
		if i == 0 {
			public = addr
		}
		cfg := apptest.Config(t, public)
		cfg.Database = dsn
		cfg.KEK = bytes.Repeat([]byte{7}, 32)
		a := srv.Start(t, cfg, app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler), Create: true, Limiter: apptest.NoLimits{}})
		nodes = append(nodes, &op{t: t, URL: addr, App: a, Clock: clk})
	}
	u, err := nodes[0].App.Engine.AddUser(ctx, session.CLI, testUser, testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range nodes {
		o.UserID = u.ID
	}
	return nodes
}

// TestMultiNode: on PostgreSQL, a code issued on node 1 is redeemed on
// node 2 exactly once, and 50 concurrent refreshes of one OAuth refresh
// token, spread over 3 nodes, all get the one successor.
func TestMultiNode(t *testing.T) {
	nodes := newCluster(t, 3)
	id, secret := nodes[0].register(provider.Spec{})

	code, verifier := nodes[0].code(id, nil)
	status, tok := nodes[1].exchange(code, verifier, id, secret)
	if status != http.StatusOK {
		t.Fatalf("redeeming node 1's code on node 2: %d %v", status, tok)
	}
	if status, _ := nodes[2].exchange(code, verifier, id, secret); status != http.StatusBadRequest {
		t.Fatalf("the same code on node 3: %d, want 400", status)
	}
	// The replay on node 3 ended the session; start another.
	code, verifier = nodes[0].code(id, nil)
	if status, tok = nodes[1].exchange(code, verifier, id, secret); status != http.StatusOK {
		t.Fatalf("second code: %d %v", status, tok)
	}
	rt := tok["refresh_token"].(string)

	const n = 50
	got := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, _, body := nodes[i%3].postFormQuiet(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret)
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.Unmarshal(body, &out)
			codes[i], got[i] = status, out.RefreshToken
		})
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusOK || got[i] == "" || got[i] != got[0] {
			t.Fatalf("refresh %d on node %d: %d %q; want 200 and the one successor %q", i, i%3+1, codes[i], got[i], got[0])
		}
	}
	// The successor is the session's one live refresh token.
	if status, _, body := nodes[2].postFormQuiet(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got[0]}}, id, secret); status != http.StatusOK {
		t.Fatalf("the successor: %d %s", status, body)
	}
}
