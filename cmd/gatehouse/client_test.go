package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestCLIClients: `client add --output json` prints the client id and,
// for a confidential client, the secret, and nothing else; the secret is
// never shown again (show and list have no secret); rotate-secret prints
// a new one; bad registrations are refused with the rule they break;
// delete removes the client. Every change is in the audit trail.
func TestCLIClients(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA": migratedData(t)}
	out, _ := cliStep(t, env, "", []string{"client", "add", "web app", "--redirect-uri", "https://app.example.com/callback",
		"--audience", "https://api.example.com", "--scope", "openid profile offline_access", "--output", "json"}, "")
	var added map[string]string
	if err := json.Unmarshal([]byte(out), &added); err != nil || len(added) != 2 || added["client_id"] == "" || len(added["client_secret"]) < 43 {
		t.Fatalf("add printed %q (%v), want exactly a client_id and a client_secret", out, err)
	}
	id, secret := added["client_id"], added["client_secret"]

	out, _ = cliStep(t, env, "", []string{"client", "add", "cli", "--public", "--redirect-uri", "http://127.0.0.1/callback", "--output", "json"}, "")
	var public map[string]string
	if err := json.Unmarshal([]byte(out), &public); err != nil || len(public) != 1 || public["client_id"] == "" {
		t.Fatalf("public add printed %q, want only a client_id", out)
	}

	out, _ = cliStep(t, env, "", []string{"client", "show", id}, "")
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown["client_id"] != id || shown["client_name"] != "web app" ||
		shown["token_endpoint_auth_method"] != "client_secret_basic" || shown["scope"] != "openid profile offline_access" {
		t.Fatalf("show: %s", out)
	}
	if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), "secret_hash") {
		t.Fatalf("show reveals the secret or its hash: %s", out)
	}
	out, _ = cliStep(t, env, "", []string{"client", "list"}, "")
	if !strings.Contains(out, id) || !strings.Contains(out, public["client_id"]) || strings.Contains(out, secret) {
		t.Fatalf("list:\n%s", out)
	}

	out, _ = cliStep(t, env, "", []string{"client", "rotate-secret", id, "--output", "json"}, "")
	var rotated map[string]string
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated["client_secret"] == "" || rotated["client_secret"] == secret {
		t.Fatalf("rotate-secret printed %q", out)
	}
	cliStep(t, env, "", []string{"client", "rotate-secret", public["client_id"]}, "is public")

	for _, bad := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"client", "add", "x", "--redirect-uri", "https://*.example.com/cb"}, "wildcards"},
		{[]string{"client", "add", "x", "--redirect-uri", "http://app.example.com/cb"}, "loopback"},
		{[]string{"client", "add", "x", "--redirect-uri", "https://app.example.com/cb#frag"}, "fragment"},
		{[]string{"client", "add", "x"}, "redirect_uri"},
		{[]string{"client", "add", "x", "--redirect-uri", "https://a.example/cb", "--grant", "implicit"}, "not supported"},
		{[]string{"client", "add", "x", "--public", "--grant", "client_credentials"}, "public client"},
		{[]string{"client", "add", "x", "--redirect-uri", "https://a.example/cb", "--output", "yaml"}, "--output"},
		{[]string{"client", "show", "nope"}, `no client "nope"`},
	} {
		cliStep(t, env, "", bad.args, bad.wantErr)
	}

	cliStep(t, env, "", []string{"client", "delete", id}, "")
	cliStep(t, env, "", []string{"client", "show", id}, "no client")
	cliStep(t, env, "", []string{"client", "delete", id}, "no client")

	withTestApp(t, env, func(ctx context.Context, a *app.App) error {
		events, err := a.DB.AuditEvents(ctx, store.AuditFilter{Limit: 100})
		if err != nil {
			return err
		}
		seen := map[string]int{}
		for _, ev := range events {
			if ev.ActorID == "cli" && strings.HasPrefix(ev.Type, "client_") {
				seen[ev.Type]++
			}
		}
		if seen["client_registered"] != 2 || seen["client_secret_rotated"] != 1 || seen["client_deleted"] != 1 {
			t.Errorf("audit trail of the client commands: %v", seen)
		}
		return nil
	})
}
