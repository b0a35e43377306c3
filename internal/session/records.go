package session

import "github.com/gatehouse-auth/gatehouse/internal/store"

// The records the engine takes and hands out, as the store keeps them.
// They are aliases, so that the layers above the engine (the HTTP API)
// reach the store only through the engine, importing no store package.
type (
	User          = store.User
	Session       = store.Session
	UserQuery     = store.UserQuery
	SessionQuery  = store.SessionQuery
	AuditEvent    = store.AuditEvent
	AuditFilter   = store.AuditFilter
	RefreshRecord = store.RefreshToken
)

// ErrUnavailable wraps the errors of a store that cannot be reached just
// now (a database restarting): the request may be retried.
var ErrUnavailable = store.ErrUnavailable
