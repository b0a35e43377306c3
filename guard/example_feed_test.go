package guard_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/guard"
)

// ExampleFollowFeed is the walk-through of docs/guard.md, "A guard that
// honours logout": a resource server whose guard takes Gatehouse's keys
// from its JWKS and the ended sessions from its revocation feed, so that a
// logged-out session's token is refused at once rather than when it
// expires. docs/guard.md shows the part between the environment and the
// requests; TestDocSnippets keeps the two the same.
func ExampleFollowFeed() {
	// A stand-in for `gatehouse serve --demo` (which prints the feed secret
	// it generates); the resource server reads both settings it needs from
	// its environment.
	gatehouse := startExampleGatehouse()
	defer gatehouse.Close()
	os.Setenv("GATEHOUSE_PUBLIC_URL", gatehouse.URL)
	os.Setenv("GATEHOUSE_REVOCATION_FEED_SECRET", gatehouse.FeedSecret)

	// Gatehouse's public_url (the tokens' issuer, and their audience unless
	// Gatehouse sets audience) and its revocation_feed_secret.
	authURL := os.Getenv("GATEHOUSE_PUBLIC_URL")
	feedSecret := os.Getenv("GATEHOUSE_REVOCATION_FEED_SECRET")

	ctx, stop := context.WithCancel(context.Background())
	defer stop() // ends the key refresh and the feed

	// Keys: fetched now, refreshed in the background, fetched again for
	// a kid the guard does not know yet.
	keys := guard.RemoteJWKS(authURL+"/.well-known/jwks.json", guard.RemoteOptions{})
	if err := keys.Start(ctx); err != nil {
		log.Printf("JWKS not reachable yet, retrying: %v", err)
	}

	// Revocations: the ended sessions, kept up to date by Gatehouse's
	// revocation feed until ctx ends. Without them a logged-out session's
	// tokens stay valid until they expire.
	revocations := guard.NewRevocations()
	go guard.FollowFeed(ctx, authURL+"/auth/revocations", guard.FeedOptions{
		Secret: feedSecret,
		Set:    revocations,
	})

	g, err := guard.New(guard.Config{
		Issuer:      authURL,
		Audience:    authURL,
		Keys:        keys,
		Revocations: revocations,
	})
	if err != nil {
		log.Fatal(err)
	}

	api := http.NewServeMux()
	api.Handle("GET /notes", g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := guard.PrincipalFrom(r.Context()) // p.Subject, p.SessionID, p.Roles, p.Scopes, ...
		fmt.Fprintf(w, "notes of %s", p.Username)
	})))
	api.Handle("DELETE /notes/{id}", g.Middleware(guard.Require(guard.Role("admin"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))))
	// and serve it: log.Fatal(http.ListenAndServe("localhost:8081", api))

	// Alice logs in at Gatehouse and calls the API with her access token.
	token := gatehouse.Login("alice", "session-1")
	call := func(method, path string) string {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		var p struct{ Code string } // the problem details' code member (docs/guard.md)
		if json.Unmarshal(w.Body.Bytes(), &p) == nil {
			return fmt.Sprint(method, " ", path, ": ", w.Code, " ", p.Code)
		}
		return fmt.Sprint(method, " ", path, ": ", w.Code, " ", w.Body.String())
	}
	fmt.Println(call("GET", "/notes"))
	fmt.Println(call("DELETE", "/notes/1"))

	// She logs out. Her token has minutes to live, but the feed brings
	// the logout to the guard within moments, and the guard refuses it.
	gatehouse.Logout("session-1")
	for deadline := time.Now().Add(5 * time.Second); !revocations.Revoked("session-1") && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	fmt.Println(call("GET", "/notes"))
	// Output:
	// GET /notes: 200 notes of alice
	// DELETE /notes/1: 403 insufficient_scope
	// GET /notes: 401 session_ended
}

// exampleGatehouse stands in for a running `gatehouse serve` in the
// examples: it publishes its keys at /.well-known/jwks.json and its
// revocation feed at /auth/revocations (Server-Sent Events, or JSON pages
// for Accept: application/json) behind the feed secret, as Gatehouse does
// (docs/api.md), and its login and logout are method calls.
type exampleGatehouse struct {
	URL        string // the public URL: issuer and audience of its tokens
	FeedSecret string // its revocation_feed_secret

	srv  *httptest.Server
	key  ed25519.PrivateKey
	jwks []byte
	done chan struct{} // closed by Close: ends open streams

	mu      sync.Mutex
	revoked []exampleRevocation // ascending seq
	changed chan struct{}       // closed and replaced on every revocation
}

type exampleRevocation struct {
	Seq   int64     `json:"seq"`
	SID   string    `json:"sid"`
	Until time.Time `json:"until"`
}

func startExampleGatehouse() *exampleGatehouse {
	// Ed25519, as exampleIssuer: go-jose's ECDSA signer may write the
	// high-S signatures the guard refuses.
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub, KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		panic(err)
	}
	gh := &exampleGatehouse{FeedSecret: rand.Text() + rand.Text(), key: key, jwks: jwks,
		done: make(chan struct{}), changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(gh.jwks)
	})
	mux.HandleFunc("GET /auth/revocations", gh.feed)
	gh.srv = httptest.NewServer(mux)
	gh.URL = gh.srv.URL
	return gh
}

// Close ends the open feed streams and stops the server.
func (gh *exampleGatehouse) Close() {
	close(gh.done)
	gh.srv.Close()
}

// Login starts session sid for user and returns its access token, as
// POST /auth/login answers in bearer mode.
func (gh *exampleGatehouse) Login(user, sid string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: gh.key, KeyID: "key-1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		panic(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": gh.URL, "aud": gh.URL, "sub": "id-" + user, "preferred_username": user, "sid": sid,
		"jti": sid + "-1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "api",
	}).Serialize()
	if err != nil {
		panic(err)
	}
	return tok
}

// Logout ends session sid, as POST /auth/logout does: the feed announces it.
func (gh *exampleGatehouse) Logout(sid string) {
	gh.mu.Lock()
	defer gh.mu.Unlock()
	gh.revoked = append(gh.revoked, exampleRevocation{Seq: int64(len(gh.revoked) + 1), SID: sid,
		Until: time.Now().Add(5*time.Minute + 30*time.Second)})
	close(gh.changed)
	gh.changed = make(chan struct{})
}

// after returns the revocations after seq, the head, and a channel closed
// at the next revocation.
func (gh *exampleGatehouse) after(seq int64) ([]exampleRevocation, int64, <-chan struct{}) {
	gh.mu.Lock()
	defer gh.mu.Unlock()
	var out []exampleRevocation
	for _, r := range gh.revoked {
		if r.Seq > seq {
			out = append(out, r)
		}
	}
	return out, int64(len(gh.revoked)), gh.changed
}

func (gh *exampleGatehouse) feed(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+gh.FeedSecret {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	cursor, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if r.Header.Get("Accept") == "application/json" {
		entries, head, _ := gh.after(cursor)
		if entries == nil {
			entries = []exampleRevocation{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"revocations": entries, "head": head})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flush := w.(http.Flusher).Flush
	fmt.Fprint(w, "event: ping\ndata: {}\n\n")
	flush()
	ping := time.NewTicker(time.Second)
	defer ping.Stop()
	for {
		entries, _, changed := gh.after(cursor)
		for _, e := range entries {
			data, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: revoked\ndata: %s\n\n", e.Seq, data)
			cursor = e.Seq
		}
		flush()
		select {
		case <-changed:
		case <-ping.C:
			fmt.Fprint(w, "event: ping\ndata: {}\n\n")
		case <-r.Context().Done():
			return
		case <-gh.done:
			return
		}
	}
}
