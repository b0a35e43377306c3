package bff

import (
	"context"
	"errors"
	"time"
)

// Session is a BFF session as its Store keeps it. The browser holds only
// the session cookie's secret; the store holds its SHA-256 and the tokens
// sealed (AES-256-GCM) under the BFF's key, so that neither a copy of the
// store nor one of the cookie alone opens a token.
type Session struct {
	Hash            []byte // SHA-256 of the cookie's secret
	Issuer          string // the provider's issuer
	Subject         string // the ID token's sub
	SID             string // the ID token's sid, for back-channel logout
	Tokens          []byte // the sealed tokens
	AccessExpiresAt time.Time
	// Version is 1 at creation and grows at every token update: a request
	// waiting for another's refresh sees it change.
	Version int64
	// LeaseHolder holds the session's refresh lease until LeaseUntil: the
	// one refresh in flight, across every BFF node.
	LeaseHolder string
	LeaseUntil  time.Time
	CreatedAt   time.Time
	LastUsedAt  time.Time
	ExpiresAt   time.Time
}

// Errors a Store returns.
var (
	// ErrNotFound: no such session.
	ErrNotFound = errors.New("bff: no such session")
	// ErrLeaseLost: the refresh lease is another's now (it ran out).
	ErrLeaseLost = errors.New("bff: the refresh lease was lost")
)

// Store keeps the BFF's sessions. Gatehouse's SQLite and PostgreSQL
// stores implement it (several BFF nodes share a PostgreSQL one), held to
// one conformance suite.
type Store interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with the hash, or ErrNotFound.
	Session(ctx context.Context, hash []byte) (Session, error)
	// TouchSession records a use of the session at at.
	TouchSession(ctx context.Context, hash []byte, at time.Time) error
	// LeaseRefresh takes the session's refresh lease for holder until
	// until, if no unexpired lease is held, atomically on any node: of
	// concurrent callers exactly one gets true while the lease holds. It
	// returns the session as stored.
	LeaseRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (Session, bool, error)
	// UpdateTokens stores a refresh's tokens and releases the lease, if
	// holder still holds it (else ErrLeaseLost, and nothing is written),
	// and returns the session with its new Version.
	UpdateTokens(ctx context.Context, hash []byte, holder string, tokens []byte, accessExpiresAt, expiresAt time.Time) (Session, error)
	// ReleaseRefresh gives the lease up, if holder holds it.
	ReleaseRefresh(ctx context.Context, hash []byte, holder string) error
	// DeleteSession removes the session; none is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteSessionsBySID and DeleteSessionsBySubject remove the sessions
	// a back-channel logout token names, and report how many.
	DeleteSessionsBySID(ctx context.Context, issuer, sid string) (int, error)
	DeleteSessionsBySubject(ctx context.Context, issuer, subject string) (int, error)
}
