package guard

import (
	"context"
	"strings"
	"testing"
)

// TestRemoteURLs: the JWKS and the feed are fetched over https, or plain
// http only on a loopback address, unless the insecure opt-out is set.
func TestRemoteURLs(t *testing.T) {
	tests := []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://auth.example.com/.well-known/jwks.json", false, true},
		{"http://127.0.0.1:8080/.well-known/jwks.json", false, true},
		{"http://[::1]:8080/.well-known/jwks.json", false, true},
		{"http://localhost:8080/auth/revocations", false, true},
		{"http://auth.example.com/.well-known/jwks.json", false, false},
		{"http://10.0.0.5/.well-known/jwks.json", false, false},
		{"http://127.0.0.1.evil.example/jwks.json", false, false},
		{"http://auth.internal/.well-known/jwks.json", true, true},
		{"ftp://auth.example.com/jwks.json", false, false},
		{"/relative/jwks.json", false, false},
	}
	for _, tt := range tests {
		err := checkRemoteURL(tt.url, tt.insecure)
		if (err == nil) != tt.ok {
			t.Errorf("%s (insecure %v): err = %v, want ok %v", tt.url, tt.insecure, err, tt.ok)
		}
	}

	// Both entry points refuse before any request is made.
	r := RemoteJWKS("http://auth.example.com/.well-known/jwks.json", RemoteOptions{})
	if err := r.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "https") || r.Fetches() != 0 {
		t.Fatalf("RemoteJWKS over plain http: err %v, %d fetches", err, r.Fetches())
	}
	err := FollowFeed(context.Background(), "http://auth.example.com/auth/revocations", FeedOptions{Secret: "s", Set: NewRevocations()})
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("FollowFeed over plain http: %v", err)
	}
}
