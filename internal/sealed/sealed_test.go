package sealed

import (
	"bytes"
	"errors"
	"testing"
)

type rec struct {
	A string `json:"a"`
	N int    `json:"n"`
}

func TestSealOpen(t *testing.T) {
	key := Key([]byte("secret"), "test v1")
	blob, err := Seal(key, []byte("row"), rec{A: "x", N: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got rec
	if err := Open(key, []byte("row"), blob, &got); err != nil || got != (rec{A: "x", N: 7}) {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name    string
		key, ad []byte
		blob    []byte
	}{
		{"other key", Key([]byte("secret"), "test v2"), []byte("row"), blob},
		{"other secret", Key([]byte("secreT"), "test v1"), []byte("row"), blob},
		{"other associated data", key, []byte("other row"), blob},
		{"altered", key, []byte("row"), flipped},
		{"truncated", key, []byte("row"), blob[:20]},
		{"empty", key, []byte("row"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v rec
			if err := Open(c.key, c.ad, c.blob, &v); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestSealFreshNonce(t *testing.T) {
	key := Key([]byte("secret"), "test v1")
	a, _ := Seal(key, nil, rec{})
	b, _ := Seal(key, nil, rec{})
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same record are equal: the nonce is not fresh")
	}
}
