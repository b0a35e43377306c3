package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// common is on the embedded common-password list and long enough to pass
// the length check, so only the list can refuse it.
const common = "password123"

// TestCommonPasswordRefusedWhenNew: AddUser and SetPassword refuse a
// common password as invalid input that names the reason, and leave
// nothing behind (ASVS 6.2.4).
func TestCommonPasswordRefusedWhenNew(t *testing.T) {
	ctx := context.Background()
	f := sessiontest.New(t, sessiontest.Options{})
	u, err := f.Engine.AddUser(ctx, session.CLI, user, pass, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		call func(pw string) error
	}{
		{"AddUser", func(pw string) error {
			_, err := f.Engine.AddUser(ctx, session.CLI, "bob", pw, nil)
			return err
		}},
		{"SetPassword", func(pw string) error {
			_, err := f.Engine.SetPassword(ctx, session.CLI, u.ID, pw)
			return err
		}},
	}
	for _, tt := range tests {
		for _, pw := range []string{common, strings.ToUpper(common), "Password1"} {
			t.Run(tt.name+"/"+pw, func(t *testing.T) {
				err := tt.call(pw)
				if !errors.Is(err, session.ErrInvalidInput) {
					t.Fatalf("err = %v, want ErrInvalidInput", err)
				}
				if !errors.Is(err, password.ErrCommon) {
					t.Errorf("err = %q, want it to wrap %q", err, password.ErrCommon)
				}
				if strings.Contains(err.Error(), pw) {
					t.Errorf("err = %q repeats the password", err)
				}
			})
		}
	}

	if _, err := f.Engine.User(ctx, "bob"); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("refused AddUser created the user: %v", err)
	}
	if _, err := f.Engine.Login(ctx, user, pass, session.Client{IP: "192.0.2.1"}); err != nil {
		t.Errorf("refused SetPassword changed the password: login with the old one: %v", err)
	}
}

// TestCommonPasswordStillLogsIn: the list applies to new passwords only. A
// user whose stored password predates it (or any later rule) still logs
// in, and the transparent rehash after a parameter change does not apply
// the rule either; otherwise tightening the policy would lock users out.
func TestCommonPasswordStillLogsIn(t *testing.T) {
	ctx := context.Background()
	f := sessiontest.New(t, sessiontest.Options{})
	u, err := f.Engine.AddUser(ctx, session.CLI, user, pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Store the common password's hash directly, bypassing Validate, as a
	// database from before the list would hold it.
	hash := password.NewHasher(sessiontest.Cheap).Hash(common)
	if _, err := f.DB.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.PasswordHash = hash
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cl := session.Client{IP: "192.0.2.1", UserAgent: "test"}

	if _, err := f.Engine.Login(ctx, user, common, cl); err != nil {
		t.Fatalf("login with an existing common password: %v", err)
	}

	stronger := password.Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}
	f.Engine = f.NewEngine(stronger)
	if _, err := f.Engine.Login(ctx, user, common, cl); err != nil {
		t.Fatalf("login that rehashes a common password: %v", err)
	}
	got, err := f.DB.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.PasswordHash, "m=128,t=2,p=1") {
		t.Fatalf("hash not upgraded: %s", got.PasswordHash)
	}
	if _, err := f.Engine.Login(ctx, user, common, cl); err != nil {
		t.Fatalf("login after the rehash: %v", err)
	}
}
