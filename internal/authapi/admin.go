package authapi

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// RoleAdmin is the role that opens the admin API.
const RoleAdmin = "admin"

// Page sizes of the admin listings. The store would return up to 1000
// rows; a smaller default keeps an unfiltered listing cheap.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// adminUserView is a user as the admin API shows it. The password hash
// and the credential version never leave the server.
type adminUserView struct {
	userView
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewAdminUser(u session.User) adminUserView {
	return adminUserView{userView: viewUser(u), Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// adminSessionView is a session as the admin API shows it: whose it is,
// where it began, and how it ended if it has.
type adminSessionView struct {
	registrySessionView
	UserID       string     `json:"user_id"`
	CreatedIP    string     `json:"created_ip"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

func viewAdminSession(s session.Session) adminSessionView {
	return adminSessionView{registrySessionView: viewRegistrySession(s), UserID: s.UserID, CreatedIP: s.CreatedIP,
		RevokedAt: timePtr(s.RevokedAt), RevokeReason: s.RevokeReason}
}

type auditView struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	ActorID   string    `json:"actor_id"`
	UserID    string    `json:"user_id"`
	SessionID string    `json:"session_id"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail"`
}

func viewAudit(e session.AuditEvent) auditView {
	return auditView{ID: e.ID, Time: e.Time, Type: e.Type, ActorID: e.ActorID, UserID: e.UserID, SessionID: e.SessionID,
		IP: e.IP, UserAgent: e.UserAgent, Outcome: e.Outcome, Detail: e.Detail}
}

// adminHandler is an admin API handler; c is the authorised admin.
type adminHandler func(w http.ResponseWriter, r *http.Request, c caller)

// admin wraps h with the admin API's authorisation: a live session
// (requireLive, which also does CSRF) whose access token carries the
// admin role, and whose user still has the role now. The stored roles are
// checked as well because a role change reaches access tokens only at
// their next refresh; for the API that can create admins and end anyone's
// sessions, a demotion must count from the moment it is made.
func (s *Server) admin(h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok {
			return
		}
		if !slices.Contains(c.principal.Roles, RoleAdmin) {
			s.adminRefused(w, r, c)
			return
		}
		u, err := s.engine.UserByID(r.Context(), c.principal.Subject)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		if !slices.Contains(u.Roles, RoleAdmin) {
			s.adminRefused(w, r, c)
			return
		}
		h(w, r, c)
	})
}

// adminRefused answers an authenticated caller without the admin role.
// The attempt is logged: a user probing the admin API is worth noticing.
func (s *Server) adminRefused(w http.ResponseWriter, r *http.Request, c caller) {
	s.log.Warn("admin API refused", "user_id", c.principal.Subject, "session_id", c.session.ID,
		"method", r.Method, "path", r.URL.Path, "ip", s.edge.ClientIP(r))
	edge.WriteProblem(w, http.StatusForbidden, problem.CodeForbidden, "this needs the "+RoleAdmin+" role")
}

// query parses the URL query as strictly as decode parses bodies: a
// malformed query, a parameter not in allowed, or one given twice is
// refused rather than guessed at, so a typo ("limt=10") is an error and not
// a silently unfiltered listing.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badQuery("malformed query string")
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if !slices.Contains(allowed, k) {
			return nil, badQuery("unknown query parameter " + edge.Quote(k))
		}
		if len(v) != 1 {
			return nil, badQuery("query parameter " + edge.Quote(k) + " is repeated")
		}
		out[k] = v[0]
	}
	return out, nil
}

func badQuery(detail string) *edge.RequestError {
	return &edge.RequestError{Status: http.StatusBadRequest, Code: problem.CodeBadRequest, Detail: detail}
}

// pageLimit reads the limit parameter: defaultPageSize when absent, an
// integer from 1 to maxPageSize otherwise.
func pageLimit(q map[string]string) (int, error) {
	v, ok := q["limit"]
	if !ok {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, badQuery("limit must be an integer from 1 to " + strconv.Itoa(maxPageSize))
	}
	return n, nil
}

// pagedQuery is query for a paged listing: the parameters named plus
// limit, and the page size it sets.
func pagedQuery(r *http.Request, allowed ...string) (map[string]string, int, error) {
	q, err := query(r, append(allowed, "limit")...)
	if err != nil {
		return nil, 0, err
	}
	limit, err := pageLimit(q)
	return q, limit, err
}

// page cuts a result fetched with one row to spare down to limit, and
// returns the cursor of the next page: the key of the last row shown, or
// "" when there is no further row. Fetching one extra row spares the
// client a last, empty page.
func page[T any](rows []T, limit int, key func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, key(rows[limit-1])
}

// mapRows converts store rows to their views; never nil, so an empty list
// is [] in JSON.
func mapRows[T, V any](rows []T, view func(T) V) []V {
	out := make([]V, len(rows))
	for i, x := range rows {
		out[i] = view(x)
	}
	return out
}

// queryProblem writes the problem for an error of query, pageLimit or a
// parameter parser.
func queryProblem(w http.ResponseWriter, err error) {
	var re *edge.RequestError
	if !errors.As(err, &re) {
		re = badQuery(err.Error())
	}
	re.Write(w)
}

// refuseSelf guards an admin against locking themselves out by accident.
// Disabling or deleting one's own account ends every session of it at
// once, the one making the request included, and if it was the only admin
// nobody could undo it through the API: recovery would need shell access
// to run the command line. That is too much to risk on a mis-click, so the
// API refuses it; another admin, or the command line, can still do it on
// purpose. Removing one's own admin role is allowed: it ends no session and
// is the ordinary way to step down, which a guard would make impossible.
// Resetting one's own password is allowed too: it ends the sessions, but
// the admin knows the new password and can log straight back in.
func refuseSelf(w http.ResponseWriter, c caller, userID, what string) bool {
	if userID != c.principal.Subject {
		return false
	}
	edge.WriteProblem(w, http.StatusConflict, problem.CodeConflict, "an admin cannot "+what+" their own account; ask another admin")
	return true
}

// handleAdminListUsers serves GET /admin/users.
func (s *Server) handleAdminListUsers() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		q, limit, err := pagedQuery(r, "search", "after")
		if err != nil {
			queryProblem(w, err)
			return
		}
		users, err := s.engine.Users(r.Context(), session.UserQuery{Search: q["search"], After: q["after"], Limit: limit + 1})
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		users, next := page(users, limit, func(u session.User) string { return u.Username })
		s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "list_users", "")
		edge.WriteJSON(w, http.StatusOK, map[string]any{"users": mapRows(users, viewAdminUser), "next": next})
	})
}

type createUserRequest struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// handleAdminCreateUser serves POST /admin/users.
func (s *Server) handleAdminCreateUser() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		var req createUserRequest
		if _, ok := s.decodeOrProblem(w, r, &req); !ok {
			return
		}
		u, err := s.engine.AddUser(r.Context(), c.actor(s, r), req.Username, req.Password, req.Roles)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		w.Header().Set("Location", "/admin/users/"+url.PathEscape(u.ID))
		edge.WriteJSON(w, http.StatusCreated, viewAdminUser(u))
	})
}

// handleAdminGetUser serves GET /admin/users/{id}.
func (s *Server) handleAdminGetUser() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		u, err := s.engine.UserByID(r.Context(), r.PathValue("id"))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "get_user", u.ID)
		edge.WriteJSON(w, http.StatusOK, viewAdminUser(u))
	})
}

// handleAdminDeleteUser serves DELETE /admin/users/{id}.
func (s *Server) handleAdminDeleteUser() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		id := r.PathValue("id")
		if !s.noBody(w, r) || refuseSelf(w, c, id, "delete") {
			return
		}
		if err := s.engine.DeleteUser(r.Context(), c.actor(s, r), id); err != nil {
			s.engineError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAdminSetDisabled serves POST /admin/users/{id}/disable and
// /enable. Disabling ends every session of the user.
func (s *Server) handleAdminSetDisabled(disabled bool) http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		id := r.PathValue("id")
		if !s.noBody(w, r) || (disabled && refuseSelf(w, c, id, "disable")) {
			return
		}
		u, err := s.engine.SetDisabled(r.Context(), c.actor(s, r), id, disabled)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		edge.WriteJSON(w, http.StatusOK, viewAdminUser(u))
	})
}

type setRolesRequest struct {
	// Roles is a pointer so that a body without it is refused rather than
	// read as "no roles".
	Roles *[]string `json:"roles"`
}

// handleAdminSetRoles serves PUT /admin/users/{id}/roles: the user's roles
// become exactly the given list.
func (s *Server) handleAdminSetRoles() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		var req setRolesRequest
		if _, ok := s.decodeOrProblem(w, r, &req); !ok {
			return
		}
		if req.Roles == nil {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, "roles is required (an empty list removes every role)")
			return
		}
		u, err := s.engine.SetRoles(r.Context(), c.actor(s, r), r.PathValue("id"), *req.Roles)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		edge.WriteJSON(w, http.StatusOK, viewAdminUser(u))
	})
}

type setPasswordRequest struct {
	Password string `json:"password"`
}

// handleAdminSetPassword serves POST /admin/users/{id}/password: a reset,
// which ends every session of the user.
func (s *Server) handleAdminSetPassword() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		var req setPasswordRequest
		if _, ok := s.decodeOrProblem(w, r, &req); !ok {
			return
		}
		if _, err := s.engine.SetPassword(r.Context(), c.actor(s, r), r.PathValue("id"), req.Password); err != nil {
			s.engineError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAdminUserSessions serves GET /admin/users/{id}/sessions.
func (s *Server) handleAdminUserSessions() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		u, err := s.engine.UserByID(r.Context(), r.PathValue("id"))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.listSessions(w, r, c, u.ID)
	})
}

// handleAdminListSessions serves GET /admin/sessions.
func (s *Server) handleAdminListSessions() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		s.listSessions(w, r, c, "")
	})
}

// listSessions answers both session listings. userID, when set, comes
// from the path and the user_id parameter is not accepted.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, c caller, userID string) {
	params := []string{"live", "after"}
	if userID == "" {
		params = append(params, "user_id")
	}
	q, limit, err := pagedQuery(r, params...)
	if err != nil {
		queryProblem(w, err)
		return
	}
	live := false
	switch q["live"] {
	case "", "false":
	case "true":
		live = true
	default:
		queryProblem(w, badQuery(`live must be "true" or "false"`))
		return
	}
	if userID == "" {
		userID = q["user_id"]
	}
	list, err := s.engine.Sessions(r.Context(), session.SessionQuery{UserID: userID, After: q["after"], Limit: limit + 1}, live)
	if err != nil {
		s.engineError(w, r, err)
		return
	}
	list, next := page(list, limit, func(x session.Session) string { return x.ID })
	s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "list_sessions", userID)
	edge.WriteJSON(w, http.StatusOK, map[string]any{"sessions": mapRows(list, viewAdminSession), "next": next})
}

// handleAdminForceLogout serves DELETE /admin/users/{id}/sessions: every
// session of the user ends.
func (s *Server) handleAdminForceLogout() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		if !s.noBody(w, r) {
			return
		}
		n, err := s.engine.ForceLogout(r.Context(), c.actor(s, r), r.PathValue("id"))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		edge.WriteJSON(w, http.StatusOK, revokedView{Revoked: n})
	})
}

// handleAdminRevokeSession serves DELETE /admin/sessions/{id}.
func (s *Server) handleAdminRevokeSession() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		if !s.noBody(w, r) {
			return
		}
		if _, err := s.engine.RevokeSession(r.Context(), c.actor(s, r), r.PathValue("id"), ""); err != nil {
			s.engineError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAdminAudit serves GET /admin/audit, newest first; before pages
// backwards by event id.
func (s *Server) handleAdminAudit() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		q, limit, err := pagedQuery(r, "user_id", "type", "session_id", "actor_id", "since", "until", "before")
		if err != nil {
			queryProblem(w, err)
			return
		}
		f, err := auditFilter(q)
		if err != nil {
			queryProblem(w, err)
			return
		}
		f.Limit = limit + 1
		events, err := s.engine.Audit(r.Context(), f)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		events, next := page(events, limit, func(e session.AuditEvent) string { return strconv.FormatInt(e.ID, 10) })
		s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "read_audit", f.UserID)
		edge.WriteJSON(w, http.StatusOK, map[string]any{"events": mapRows(events, viewAudit), "next": next})
	})
}

// auditFilter builds the store filter from the audit query's parameters.
func auditFilter(q map[string]string) (session.AuditFilter, error) {
	f := session.AuditFilter{Type: q["type"], UserID: q["user_id"], ActorID: q["actor_id"], SessionID: q["session_id"]}
	var err error
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v, ok := q[name]; ok {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				return f, badQuery(name + " must be an RFC 3339 time, such as 2026-01-02T15:04:05Z")
			}
		}
	}
	if v, ok := q["before"]; ok {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			return f, badQuery("before must be an event id (a positive integer)")
		}
	}
	return f, nil
}
