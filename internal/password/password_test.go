package password

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// cheap keeps the suite fast; the floor is enforced by config, not here.
var cheap = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func TestHashCheck(t *testing.T) {
	h := NewHasher(cheap)
	encoded := h.Hash("correct horse battery staple")

	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right password", "correct horse battery staple", true},
		{"wrong password", "correct horse battery stapler", false},
		{"empty", "", false},
		{"case matters", "Correct horse battery staple", false},
		{"no trimming", "correct horse battery staple ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Check(tt.pw, encoded)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if ok != tt.want {
				t.Errorf("Check = %v, want %v", ok, tt.want)
			}
		})
	}

	t.Run("salted", func(t *testing.T) {
		if again := h.Hash("correct horse battery staple"); again == encoded {
			t.Error("two hashes of one password are equal: salt not random")
		}
	})
	t.Run("checked with the hash's own parameters", func(t *testing.T) {
		other := NewHasher(Params{MemoryKiB: 128, Iterations: 2, Parallelism: 2})
		if ok, err := other.Check("correct horse battery staple", encoded); err != nil || !ok {
			t.Errorf("Check under other parameters = %v, %v; want true", ok, err)
		}
	})
}

func TestHashFormat(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 96, Iterations: 3, Parallelism: 2})
	encoded := h.Hash("password1")
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		t.Fatalf("%q: %d fields, want 6", encoded, len(parts))
	}
	if want := "$argon2id$v=19$m=96,t=3,p=2$"; !strings.HasPrefix(encoded, want) {
		t.Errorf("%q does not start with %q", encoded, want)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) != saltLen {
		t.Errorf("salt %q: %d bytes, %v; want %d", parts[4], len(salt), err, saltLen)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) != keyLen {
		t.Errorf("key %q: %d bytes, %v; want %d", parts[5], len(key), err, keyLen)
	}
	if strings.Contains(parts[4]+parts[5], "=") {
		t.Errorf("%q: PHC strings use unpadded base64", encoded)
	}
}

func TestNeedsRehash(t *testing.T) {
	h := NewHasher(cheap)
	current := h.Hash("password1")
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current parameters", current, false},
		{"more memory", NewHasher(Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1}).Hash("password1"), true},
		{"more iterations", NewHasher(Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}).Hash("password1"), true},
		{"more lanes", NewHasher(Params{MemoryKiB: 64, Iterations: 1, Parallelism: 2}).Hash("password1"), true},
		{"shorter key", shortKey(t, current), true},
		{"malformed", "not a hash", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.want)
			}
		})
	}
}

// shortKey returns encoded with its key cut to 16 bytes: still valid, but
// not what the hasher makes today.
func shortKey(t *testing.T, encoded string) string {
	t.Helper()
	parts := strings.Split(encoded, "$")
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		t.Fatal(err)
	}
	parts[5] = b64.EncodeToString(key[:16])
	return strings.Join(parts, "$")
}

func TestMalformed(t *testing.T) {
	h := NewHasher(cheap)
	good := h.Hash("password1")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(v, params, s, k string) string {
		return fmt.Sprintf("$argon2id$%s$%s$%s$%s", v, params, s, k)
	}

	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "password1"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "$argon2id$", "$argon2i$", 1)},
		{"argon2d", strings.Replace(good, "$argon2id$", "$argon2d$", 1)},
		{"no leading dollar", strings.TrimPrefix(good, "$")},
		{"trailing field", good + "$extra"},
		{"missing key", strings.TrimSuffix(good, "$"+key)},
		{"old version", with("v=16", "m=64,t=1,p=1", salt, key)},
		{"version junk", with("v=19x", "m=64,t=1,p=1", salt, key)},
		{"no version", with("19", "m=64,t=1,p=1", salt, key)},
		{"params reordered", with("v=19", "t=1,m=64,p=1", salt, key)},
		{"params missing", with("v=19", "m=64,t=1", salt, key)},
		{"params junk", with("v=19", "m=64,t=1,p=1,x=2", salt, key)},
		{"params spaces", with("v=19", "m= 64,t=1,p=1", salt, key)},
		{"params sign", with("v=19", "m=+64,t=1,p=1", salt, key)},
		{"params negative", with("v=19", "m=-64,t=1,p=1", salt, key)},
		{"parallelism overflows", with("v=19", "m=64,t=1,p=256", salt, key)},
		{"memory overflows", with("v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"salt not base64", with("v=19", "m=64,t=1,p=1", "!!!!", key)},
		{"salt padded", with("v=19", "m=64,t=1,p=1", salt+"==", key)},
		{"salt too short", with("v=19", "m=64,t=1,p=1", b64.EncodeToString([]byte("1234567")), key)},
		{"key not base64", with("v=19", "m=64,t=1,p=1", salt, "!!!!")},
		{"key too short", with("v=19", "m=64,t=1,p=1", salt, b64.EncodeToString(make([]byte, 15)))},
		{"key empty", with("v=19", "m=64,t=1,p=1", salt, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Check("password1", tt.encoded)
			if ok {
				t.Error("malformed hash matched")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			if !h.NeedsRehash(tt.encoded) {
				t.Error("NeedsRehash = false for a malformed hash")
			}
		})
	}
}

// TestAbsurdParams: a hash's parameters come from the database row, so a
// tampered row must not be able to make a check exhaust memory or CPU, or
// panic the argon2 implementation.
func TestAbsurdParams(t *testing.T) {
	h := NewHasher(cheap)
	parts := strings.Split(h.Hash("password1"), "$")
	tests := []struct {
		name   string
		params string
	}{
		{"memory 8 TiB", "m=8589934592,t=1,p=1"},
		{"memory just over the cap", fmt.Sprintf("m=%d,t=1,p=1", 4<<20+1)},
		{"memory max uint32", "m=4294967295,t=1,p=1"},
		{"iterations", "m=64,t=1000000,p=1"},
		{"iterations max uint32", "m=64,t=4294967295,p=1"},
		{"zero iterations", "m=64,t=0,p=1"},
		{"zero parallelism", "m=64,t=1,p=0"},
		{"zero memory", "m=0,t=1,p=1"},
		{"memory below 8 per lane", "m=15,t=1,p=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := fmt.Sprintf("$argon2id$v=19$%s$%s$%s", tt.params, parts[4], parts[5])
			ok, err := h.Check("password1", encoded)
			if ok || !errors.Is(err, ErrMalformed) {
				t.Errorf("Check = %v, %v; want false, ErrMalformed", ok, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", ErrTooShort},
		{"7 runes", "1234567", ErrTooShort},
		{"8 runes", "kq7#Vwz2", nil},
		{"8 runes, common", "12345678", ErrCommon},
		// Counted in runes, not bytes: 7 three-byte runes are 21 bytes
		// but still too short; 8 are enough.
		{"7 multibyte runes", strings.Repeat("密", 7), ErrTooShort},
		{"8 multibyte runes", strings.Repeat("密", 8), nil},
		{"8 emoji", strings.Repeat("🔑", 8), nil},
		{"spaces count", "        ", nil},
		{"1024 bytes", strings.Repeat("a", MaxBytes), nil},
		{"1025 bytes", strings.Repeat("a", MaxBytes+1), ErrTooLong},
		{"1024 bytes of multibyte runes", strings.Repeat("é", MaxBytes/2), nil},
		{"1026 bytes of multibyte runes", strings.Repeat("é", MaxBytes/2+1), ErrTooLong},
		{"invalid UTF-8", "password\xff", ErrInvalidUTF8},
		{"truncated rune", "password\xe5\xaf", ErrInvalidUTF8},
		{"overlong encoding", "password\xc0\xaf", ErrInvalidUTF8},
		{"short and invalid", "\xff", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("Validate(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}

// TestNoTruncation: unlike bcrypt, which ignores everything after byte
// 72, every byte of the password counts (ASVS 6.2.8).
func TestNoTruncation(t *testing.T) {
	h := NewHasher(cheap)
	for _, n := range []int{72, 1000, MaxBytes - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			prefix := strings.Repeat("x", n)
			a, b := prefix+"a", prefix+"b"
			ok, err := h.Check(b, h.Hash(a))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Errorf("passwords differing only after byte %d match", n)
			}
		})
	}
}

func TestCheckNobody(t *testing.T) {
	h := NewHasher(cheap)
	// It must return (and not panic) whatever the input; it has no result.
	for _, pw := range []string{"", "password1", strings.Repeat("x", MaxBytes)} {
		h.CheckNobody(pw)
	}
	if ok, err := h.Check("anything", h.dummy); ok || err != nil {
		t.Errorf("dummy hash: Check = %v, %v; want a well-formed hash nobody knows the password of", ok, err)
	}
	if h.NeedsRehash(h.dummy) {
		t.Error("dummy hash not made with the current parameters: CheckNobody would not cost the same as Check")
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"defaults", DefaultParams, false},
		{"above the floor", Params{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 4}, false},
		{"memory below", Params{MemoryKiB: DefaultParams.MemoryKiB - 1, Iterations: 2, Parallelism: 1}, true},
		{"iterations below", Params{MemoryKiB: DefaultParams.MemoryKiB, Iterations: 1, Parallelism: 1}, true},
		{"no parallelism", Params{MemoryKiB: DefaultParams.MemoryKiB, Iterations: 2, Parallelism: 0}, true},
		{"test parameters", cheap, true},
		{"at the ceiling", Params{MemoryKiB: maxMemoryKiB, Iterations: maxIterations, Parallelism: 255}, false},
		{"memory above the ceiling", Params{MemoryKiB: maxMemoryKiB + 1, Iterations: 2, Parallelism: 1}, true},
		{"iterations above the ceiling", Params{MemoryKiB: DefaultParams.MemoryKiB, Iterations: maxIterations + 1, Parallelism: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%+v) = %v, want error %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

// TestValidParamsParse: every parameter set Validate accepts must make
// hashes that Check accepts, or a configuration could lock every new user
// out. The extremes are checked through parse; hashing at them is too slow.
func TestValidParamsParse(t *testing.T) {
	salt, key := b64.EncodeToString(make([]byte, saltLen)), b64.EncodeToString(make([]byte, keyLen))
	for _, p := range []Params{
		DefaultParams,
		{MemoryKiB: DefaultParams.MemoryKiB, Iterations: maxIterations, Parallelism: 1},
		{MemoryKiB: maxMemoryKiB, Iterations: DefaultParams.Iterations, Parallelism: 255},
	} {
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate(%+v): %v", p, err)
		}
		encoded := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.MemoryKiB, p.Iterations, p.Parallelism, salt, key)
		got, err := parse(encoded)
		if err != nil {
			t.Errorf("parse(%q): %v", encoded, err)
		} else if got.params != p {
			t.Errorf("parse(%q) params = %+v, want %+v", encoded, got.params, p)
		}
	}
}

// TestCheckLogin: a failed check of a hash made with older parameters is
// padded to the cost of a check at the current ones; a check at the
// current parameters, or a success, pads nothing.
func TestCheckLogin(t *testing.T) {
	old := NewHasher(cheap)
	raised := Params{MemoryKiB: 8 << 10, Iterations: 4, Parallelism: 1}
	h := NewHasher(raised)
	outdated, current := old.Hash("the password"), h.Hash("the password")
	for _, c := range []struct {
		name    string
		pw, enc string
		ok, pad bool
	}{
		{"outdated hash, wrong password", "not it", outdated, false, true},
		{"outdated hash, right password", "the password", outdated, true, false},
		{"current hash, wrong password", "not it", current, false, false},
		{"current hash, right password", "the password", current, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, pad, err := h.CheckLogin(c.pw, c.enc)
			if err != nil || ok != c.ok || (pad > 0) != c.pad {
				t.Fatalf("ok %v pad %v err %v; want ok %v, a pad %v", ok, pad, err, c.ok, c.pad)
			}
		})
	}
	if _, pad, err := h.CheckLogin("x", "$argon2id$garbage"); err == nil || pad <= 0 {
		t.Fatalf("a malformed hash: pad %v, err %v; want an error and the full cost", pad, err)
	}
}
