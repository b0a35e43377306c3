// Package revocation publishes the store's revocation feed to resource
// servers' guards: the Server-Sent Events stream and JSON poll of
// GET /auth/revocations, and a direct in-process subscription for a guard
// running inside Gatehouse.
//
// The store is the source of truth and the only channel between
// processes: every path that ends a session appends a feed row in the
// revoking transaction, whether the server or the command line (another
// process) ends it. A Hub polls the store for rows after its cursor while
// anyone is subscribed, so revocations made elsewhere arrive within one
// poll interval; the engine in this process nudges it (Notify) after each
// revocation it commits, so those arrive at once. A store shared by several
// nodes can also offer a Waker (PostgreSQL's LISTEN/NOTIFY): the other
// nodes' revocations then arrive at once too, and the poll is left as the
// safety net for a notification channel that is down.
package revocation

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// PageSize is the most entries one read returns.
const PageSize = 1000

// recentCap bounds the entries a Hub keeps in memory for its subscribers;
// a subscriber further behind reads from the store.
const recentCap = 4096

// Store is what the Hub reads, and each method's contract, which every
// backend is held to by the conformance suite (storetest). The entries
// are appended by the session engine's revocations (session.Store).
type Store interface {
	// Revocations returns up to limit (at most PageSize; 0 means
	// PageSize) feed entries with Seq above after, ascending. Seqs are
	// assigned in commit order and never reused: a reader that has seen
	// seq N has seen every entry committed before it.
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	// RevocationHead returns the highest seq ever assigned, 0 if none;
	// pruning does not lower it.
	RevocationHead(ctx context.Context) (int64, error)
}

// Config is a Hub's policy.
type Config struct {
	// PollInterval is how often the store is read while there are
	// subscribers: the longest a revocation made by another process (the
	// command line, another node) takes to reach them, unless a Waker
	// brings it sooner. Default 200ms.
	PollInterval time.Duration
	// Window is how long after its revocation an access token of the
	// session can still pass a verifier: the access-token lifetime plus
	// the verifiers' clock leeway on exp (RFC 7519 §4.1.4). An entry's
	// Until is its revocation time plus Window.
	Window time.Duration
	Clock  clock.Clock
	Log    *slog.Logger
	// Waker, when set, tells the hub at once that another process has
	// appended to the feed, so PollInterval only bounds how stale the
	// hub can be while the Waker's channel is down.
	Waker Waker
}

// Waker is a source of "the feed may have grown" signals from outside
// this process: the postgres store's LISTEN connection. Declared here so
// that the hub does not depend on a store backend.
type Waker interface {
	// Listen calls wake once it is listening, and again after every
	// notification, until ctx ends or its channel fails; it then returns
	// the reason (ctx.Err() when ctx ended). The first wake is what
	// makes a reconnect lose nothing: the poll it causes starts after
	// the listening did, so every entry committed while the channel was
	// down is read by it, and every later one is notified.
	Listen(ctx context.Context, wake func()) error
}

// Back-off between a Waker's failed Listen calls: a database restart is
// waited out without a connection storm, and a channel that came up
// again starts from the shortest wait.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 10 * time.Second
)

// Entry is one revocation as the feed publishes it.
type Entry struct {
	Seq int64
	SID string
	// Until is when the last access token the session can have expires,
	// leeway included: a guard may forget the session after it.
	Until time.Time
}

// Set is what Follow feeds; the set behind a guard.Revocations
// (revset.Of) is one. Declared here so that the server does not depend on
// the guard package's other parts.
type Set interface {
	Add(sid string, until time.Time, seq int64)
	Touch(t time.Time)
	Sweep(now time.Time)
}

// Hub polls the store's revocation feed and fans it out.
type Hub struct {
	st    Store
	cfg   Config
	nudge chan struct{} // Notify: poll now
	done  chan struct{} // closed when Run returns

	mu     sync.Mutex
	subs   int
	active chan struct{} // closed when subs goes from 0 to 1
	ready  bool          // head and recentFrom are known
	head   int64         // highest seq read
	// recent holds every entry with seq in (recentFrom, head], ascending.
	recent     []Entry
	recentFrom int64
	wake       chan struct{} // closed after each successful poll
}

// New returns a Hub over st. It does nothing until Run.
func New(st Store, cfg Config) *Hub {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Hub{st: st, cfg: cfg, nudge: make(chan struct{}, 1), done: make(chan struct{}),
		active: make(chan struct{}), wake: make(chan struct{})}
}

// Notify asks for a poll now. It never blocks, so the engine can call it
// after every revocation it commits.
func (h *Hub) Notify() {
	select {
	case h.nudge <- struct{}{}:
	default:
	}
}

// Done is closed when Run has returned: subscribers end then (server
// shutdown).
func (h *Hub) Done() <-chan struct{} { return h.done }

// Run polls the store every PollInterval while there are subscribers, and
// at once when nudged, until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	defer close(h.done)
	if h.cfg.Waker != nil {
		listening := make(chan struct{})
		defer func() { <-listening }()
		go func() { defer close(listening); h.listen(ctx) }()
	}
	t := time.NewTicker(h.cfg.PollInterval)
	defer t.Stop()
	for {
		h.mu.Lock()
		idle, active := h.subs == 0, h.active
		h.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return
			case <-active:
			}
		}
		if err := h.poll(ctx); err != nil && ctx.Err() == nil {
			h.cfg.Log.Warn("revocation feed: reading the store failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.nudge:
		}
	}
}

// listen keeps the Waker listening until ctx ends, nudging the hub on
// every wake. A failed Listen is retried after a back-off that doubles up
// to listenRetryMax, and starts again from listenRetryMin once a Listen
// got as far as listening. Until then the periodic poll carries on.
func (h *Hub) listen(ctx context.Context) {
	wait := listenRetryMin
	for {
		var woke atomic.Bool
		err := h.cfg.Waker.Listen(ctx, func() {
			woke.Store(true)
			h.Notify()
		})
		if ctx.Err() != nil {
			return
		}
		if woke.Load() {
			wait = listenRetryMin
		}
		h.cfg.Log.Warn("revocation feed: the notification channel failed; polling every interval until it is back",
			"err", err, "retry_in", wait, "poll_interval", h.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// poll reads every entry after the head into memory and wakes the
// subscribers. The first poll starts at the store's head: older entries
// are read from the store by whoever asks for them.
func (h *Hub) poll(ctx context.Context) error {
	h.mu.Lock()
	ready, head := h.ready, h.head
	h.mu.Unlock()
	if !ready {
		var err error
		if head, err = h.st.RevocationHead(ctx); err != nil {
			return fmt.Errorf("revocation head: %w", err)
		}
		h.mu.Lock()
		h.ready, h.head, h.recentFrom = true, head, head
		h.mu.Unlock()
	}
	var fresh []Entry
	for {
		rows, err := h.st.Revocations(ctx, head, PageSize)
		if err != nil {
			return fmt.Errorf("revocations after %d: %w", head, err)
		}
		for _, r := range rows {
			fresh = append(fresh, h.entry(r))
			head = r.Seq
		}
		if len(rows) < PageSize {
			break
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recent = append(h.recent, fresh...)
	if n := len(h.recent) - recentCap; n > 0 {
		h.recentFrom = h.recent[n-1].Seq
		h.recent = append([]Entry(nil), h.recent[n:]...)
	}
	h.head = head
	close(h.wake)
	h.wake = make(chan struct{})
	return nil
}

// entry computes an entry's Until, rounded up to the second because the
// wire carries RFC 3339 seconds and rounding down would let a guard drop
// the session before its last token expired.
func (h *Hub) entry(r store.Revocation) Entry {
	until := r.RevokedAt.Add(h.cfg.Window)
	if t := until.Truncate(time.Second); !t.Equal(until) {
		until = t.Add(time.Second)
	}
	return Entry{Seq: r.Seq, SID: r.SessionID, Until: until.UTC()}
}

// Head returns the store's head: the highest seq ever assigned.
func (h *Hub) Head(ctx context.Context) (int64, error) {
	head, err := h.st.RevocationHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("revocation: head: %w", err)
	}
	return head, nil
}

// Read returns up to PageSize entries after after, from the store: the
// JSON poll, which must see every committed entry whether or not the Hub
// is polling.
func (h *Hub) Read(ctx context.Context, after int64) ([]Entry, error) {
	rows, err := h.st.Revocations(ctx, after, PageSize)
	if err != nil {
		return nil, fmt.Errorf("revocation: read after %d: %w", after, err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = h.entry(r)
	}
	return out, nil
}

// Subscription is one live reader of the feed. It keeps the Hub polling
// until Close.
type Subscription struct {
	h    *Hub
	once sync.Once
}

// Subscribe registers a reader and starts the polling if it was idle.
func (h *Hub) Subscribe() *Subscription {
	h.mu.Lock()
	h.subs++
	if h.subs == 1 {
		close(h.active)
	}
	h.mu.Unlock()
	h.Notify()
	return &Subscription{h: h}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.h
		h.mu.Lock()
		h.subs--
		if h.subs == 0 {
			h.active = make(chan struct{})
		}
		h.mu.Unlock()
	})
}

// Wake returns a channel closed after the next successful poll. Take it
// before Next, and wait on it after: an entry committed in between is
// then never missed.
func (s *Subscription) Wake() <-chan struct{} {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.wake
}

// Next returns up to PageSize entries after after: from memory when the
// Hub holds everything after that seq, from the store otherwise (a new
// subscriber's backlog, or one that fell behind).
func (s *Subscription) Next(ctx context.Context, after int64) ([]Entry, error) {
	h := s.h
	h.mu.Lock()
	if h.ready && after >= h.recentFrom {
		i := sort.Search(len(h.recent), func(i int) bool { return h.recent[i].Seq > after })
		out := append([]Entry(nil), h.recent[i:min(len(h.recent), i+PageSize)]...)
		h.mu.Unlock()
		return out, nil
	}
	h.mu.Unlock()
	return h.Read(ctx, after)
}

// LastHead is the highest seq the Hub has read (its heartbeat's head).
func (s *Subscription) LastHead() int64 {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.head
}

// Follow feeds set until ctx ends or the Hub stops: the backlog first
// (every entry the store still holds), then each new entry as it is
// polled. It touches set on every poll, so a guard in this process sees
// its feed as healthy exactly while the store is being read.
func (h *Hub) Follow(ctx context.Context, set Set) {
	sub := h.Subscribe()
	defer sub.Close()
	var cursor int64
	for {
		wake := sub.Wake()
		entries, err := sub.Next(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.cfg.Log.Warn("revocation feed: in-process follower could not read", "err", err)
		}
		now := h.cfg.Clock.Now()
		for _, e := range entries {
			set.Add(e.SID, e.Until, e.Seq)
			cursor = e.Seq
		}
		if err == nil {
			set.Touch(now)
			set.Sweep(now)
		}
		if len(entries) == PageSize {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case <-wake:
		}
	}
}
