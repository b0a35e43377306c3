package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
)

// TestCLIKeyEncryption: a key_encryption_key set after keys were created
// seals them, access and ID-token keys alike, at the next start; a wrong
// or missing key then stops every command with one line;
// key_encryption_key_previous re-encrypts under a new key.
func TestCLIKeyEncryption(t *testing.T) {
	data := migratedData(t)
	kek1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	kek2 := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	env := func(kek, prev string) map[string]string {
		return map[string]string{"GATEHOUSE_DATA": data, "GATEHOUSE_KEY_ENCRYPTION_KEY": kek,
			"GATEHOUSE_KEY_ENCRYPTION_KEY_PREVIOUS": prev}
	}
	sealed := func() bool {
		t.Helper()
		db, err := sqlite.Open(context.Background(), filepath.Join(data, sqlite.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ks, err := db.SigningKeys(context.Background())
		if err != nil || len(ks) == 0 {
			t.Fatalf("%d keys, %v", len(ks), err)
		}
		purposes := map[string]bool{}
		for _, k := range ks {
			purposes[k.Purpose] = true
		}
		if !purposes["access"] || !purposes["id"] {
			t.Fatalf("keys of purposes %v, want access and id", purposes)
		}
		for _, k := range ks {
			if !bytes.HasPrefix(k.Private, []byte("ghk1")) {
				return false
			}
		}
		return true
	}

	cliStep(t, env("", ""), "", []string{"keys", "rotate", "--now"}, "")
	cliStep(t, env("", ""), "", []string{"keys", "rotate", "--purpose", "id", "--now"}, "")
	if sealed() {
		t.Fatal("key sealed without a key_encryption_key")
	}
	cliStep(t, env(kek1, ""), "", []string{"keys", "list"}, "")
	if !sealed() {
		t.Fatal("legacy key not sealed at start with a key_encryption_key")
	}
	cliStep(t, env("", ""), "", []string{"keys", "list"}, "is encrypted but key_encryption_key is not set")
	cliStep(t, env(kek2, ""), "", []string{"keys", "rotate"}, "key_encryption_key does not decrypt signing key")
	cliStep(t, env(kek2, kek1), "", []string{"keys", "rotate"}, "")
	cliStep(t, env(kek2, ""), "", []string{"keys", "rotate", "--purpose", "id"}, "")
	cliStep(t, env(kek1, ""), "", []string{"keys", "list"}, "key_encryption_key does not decrypt signing key")
	if out, _ := cliStep(t, env(kek2, ""), "", []string{"keys", "list"}, ""); !strings.Contains(out, "ES256") {
		t.Fatalf("keys list:\n%s", out)
	}
	cliStep(t, env("not a key", ""), "", []string{"keys", "list"}, "key_encryption_key must be base64")
}

// TestCLIKeyPurposes: keys rotate --purpose id rotates the ID-token keys,
// with id_token_signing_alg unless --alg says otherwise, and leaves the
// access keys alone, and the other way round; keys list shows each key's
// purpose.
func TestCLIKeyPurposes(t *testing.T) {
	data := migratedData(t)
	env := map[string]string{"GATEHOUSE_DATA": data}
	// state is keys list as purpose/alg/state, sorted.
	state := func() []string {
		t.Helper()
		out, _ := cliStep(t, env, "", []string{"keys", "list"}, "")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if h := strings.Fields(lines[0]); len(h) < 4 || h[0] != "KID" || h[1] != "PURPOSE" || h[2] != "ALG" || h[3] != "STATE" {
			t.Fatalf("keys list header %q", lines[0])
		}
		var rows []string
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			rows = append(rows, f[1]+"/"+f[2]+"/"+f[3])
		}
		slices.Sort(rows)
		return rows
	}
	steps := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		wantOut string   // substring of the output
		want    []string // keys list after the step
	}{
		{"first access key", nil, []string{"keys", "rotate", "--now"}, "", "(access, ES256)",
			[]string{"access/ES256/signing"}},
		{"first id key: id_token_signing_alg", nil, []string{"keys", "rotate", "--purpose", "id", "--now"}, "", "(id, RS256)",
			[]string{"access/ES256/signing", "id/RS256/signing"}},
		{"access rotation retires the access key only", nil, []string{"keys", "rotate", "--purpose", "access", "--now"}, "", "(access, ES256)",
			[]string{"access/ES256/retired", "access/ES256/signing", "id/RS256/signing"}},
		{"id rotation with a configured id_token_signing_alg retires the id key only", map[string]string{"GATEHOUSE_ID_TOKEN_SIGNING_ALG": "ES256"},
			[]string{"keys", "rotate", "--purpose", "id", "--now"}, "", "(id, ES256)",
			[]string{"access/ES256/retired", "access/ES256/signing", "id/ES256/signing", "id/RS256/retired"}},
		{"next id key with --alg", nil, []string{"keys", "rotate", "--purpose", "id", "--alg", "EdDSA", "--activate-in", "1m"}, "", "(id, EdDSA)",
			[]string{"access/ES256/retired", "access/ES256/signing", "id/ES256/signing", "id/EdDSA/next", "id/RS256/retired"}},
		{"unknown purpose", nil, []string{"keys", "rotate", "--purpose", "refresh"}, "--purpose must be access or id", "", nil},
		{"bad id_token_signing_alg", map[string]string{"GATEHOUSE_ID_TOKEN_SIGNING_ALG": "HS256"},
			[]string{"keys", "rotate", "--purpose", "id"}, "id_token_signing_alg", "", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			stepEnv := maps.Clone(env)
			maps.Copy(stepEnv, st.env)
			out, ok := cliStep(t, stepEnv, "", st.args, st.wantErr)
			if !ok {
				return
			}
			if !strings.Contains(out, st.wantOut) {
				t.Fatalf("output %q does not contain %q", out, st.wantOut)
			}
			if got := state(); !slices.Equal(got, st.want) {
				t.Errorf("keys list %v, want %v", got, st.want)
			}
		})
	}
}
