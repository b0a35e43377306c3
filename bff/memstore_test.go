package bff_test

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/bff"
)

// memStore is a bff.Store in memory, for the package's own tests; the
// server's SQLite and PostgreSQL stores are held to the same contract by
// the store conformance suite.
type memStore struct {
	mu sync.Mutex
	m  map[string]bff.Session
}

func newMemStore() *memStore { return &memStore{m: map[string]bff.Session{}} }

func (m *memStore) CreateSession(_ context.Context, s bff.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[string(s.Hash)] = s
	return nil
}

func (m *memStore) Session(_ context.Context, hash []byte) (bff.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[string(hash)]
	if !ok {
		return s, bff.ErrNotFound
	}
	return s, nil
}

func (m *memStore) TouchSession(_ context.Context, hash []byte, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[string(hash)]
	if !ok {
		return bff.ErrNotFound
	}
	s.LastUsedAt = at
	m.m[string(hash)] = s
	return nil
}

func (m *memStore) LeaseRefresh(_ context.Context, hash []byte, holder string, now, until time.Time) (bff.Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[string(hash)]
	if !ok {
		return s, false, bff.ErrNotFound
	}
	if s.LeaseHolder != "" && now.Before(s.LeaseUntil) {
		return s, false, nil
	}
	s.LeaseHolder, s.LeaseUntil = holder, until
	m.m[string(hash)] = s
	return s, true, nil
}

func (m *memStore) UpdateTokens(_ context.Context, hash []byte, holder string, tokens []byte, accessExp, exp time.Time) (bff.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[string(hash)]
	if !ok {
		return s, bff.ErrNotFound
	}
	if s.LeaseHolder != holder {
		return s, bff.ErrLeaseLost
	}
	s.Tokens, s.AccessExpiresAt, s.ExpiresAt, s.Version = tokens, accessExp, exp, s.Version+1
	s.LeaseHolder, s.LeaseUntil = "", time.Time{}
	m.m[string(hash)] = s
	return s, nil
}

func (m *memStore) ReleaseRefresh(_ context.Context, hash []byte, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.m[string(hash)]; ok && s.LeaseHolder == holder {
		s.LeaseHolder, s.LeaseUntil = "", time.Time{}
		m.m[string(hash)] = s
	}
	return nil
}

func (m *memStore) DeleteSession(_ context.Context, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, string(hash))
	return nil
}

func (m *memStore) deleteWhere(f func(bff.Session) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []string
	for k, s := range m.m {
		if f(s) {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		delete(m.m, k)
	}
	return len(slices.Compact(gone))
}

func (m *memStore) DeleteSessionsBySID(_ context.Context, issuer, sid string) (int, error) {
	return m.deleteWhere(func(s bff.Session) bool { return sid != "" && s.Issuer == issuer && s.SID == sid }), nil
}

func (m *memStore) DeleteSessionsBySubject(_ context.Context, issuer, sub string) (int, error) {
	return m.deleteWhere(func(s bff.Session) bool { return sub != "" && s.Issuer == issuer && s.Subject == sub }), nil
}
