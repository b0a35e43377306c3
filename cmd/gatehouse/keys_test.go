package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
)

// TestCLIKeyEncryption: a key_encryption_key set after keys were created
// seals them at the next start; a wrong or missing key then stops every
// command with one line; key_encryption_key_previous re-encrypts under a
// new key.
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
		for _, k := range ks {
			if !bytes.HasPrefix(k.Private, []byte("ghk1")) {
				return false
			}
		}
		return true
	}

	cliStep(t, env("", ""), "", []string{"keys", "rotate", "--now"}, "")
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
	cliStep(t, env(kek1, ""), "", []string{"keys", "list"}, "key_encryption_key does not decrypt signing key")
	if out, _ := cliStep(t, env(kek2, ""), "", []string{"keys", "list"}, ""); !strings.Contains(out, "ES256") {
		t.Fatalf("keys list:\n%s", out)
	}
	cliStep(t, env("not a key", ""), "", []string{"keys", "list"}, "key_encryption_key must be base64")
}
