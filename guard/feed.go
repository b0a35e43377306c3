package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// FeedOptions configure FollowFeed.
type FeedOptions struct {
	// Secret is Gatehouse's revocation_feed_secret, sent as a bearer
	// token (RFC 6750 §2.1). Required.
	Secret string
	// Set receives the revocations. Required.
	Set *Revocations
	// Client makes the requests. The default has dial, TLS-handshake and
	// response-header timeouts but no overall timeout, which would cut the
	// event stream.
	Client *http.Client
	// PollInterval is how often the JSON endpoint is polled while the
	// stream is down. Default 2s.
	PollInterval time.Duration
	// RetryMin and RetryMax bound the back-off between attempts to reopen
	// the stream. Defaults 250ms and 10s.
	RetryMin, RetryMax time.Duration
	// IdleTimeout drops a stream that has sent nothing (not even a ping)
	// for this long: a half-open connection otherwise looks like a quiet
	// feed for ever. Default 30s, three of Gatehouse's default heartbeats.
	IdleTimeout time.Duration
	// Log receives the feed's errors; the secret is never logged.
	Log *slog.Logger
	// Now is the clock of the set's LastContact, and of dropping the
	// entries whose tokens have all expired. Default time.Now.
	Now func() time.Time
	// AllowInsecureHTTP lets the feed be followed over plain HTTP from
	// another machine. Off, only https (or http on a loopback address) is
	// accepted: the secret travels in every request, and a feed anyone on
	// the path can silence or rewrite is no revocation at all.
	AllowInsecureHTTP bool
}

// maxFeedLine bounds one line of the event stream, and maxFeedPage a JSON
// page: a hostile or broken server cannot make the guard buffer without
// end. A Gatehouse event line is under 200 bytes and a full page of 1000
// entries under 150 KiB.
const (
	maxFeedLine = 64 << 10
	maxFeedPage = 4 << 20
)

// errFeedRefused: the server answered 401 or 404, which retrying soon
// will not change: the secret is wrong or the feed is not enabled there.
var errFeedRefused = errors.New("guard: revocation feed refused")

// feedEntry is one revocation on the wire.
type feedEntry struct {
	Seq   int64     `json:"seq"`
	SID   string    `json:"sid"`
	Until time.Time `json:"until"`
}

type feedHead struct {
	Head int64 `json:"head"`
}

type feedPage struct {
	Revocations []feedEntry `json:"revocations"`
	Head        int64       `json:"head"`
}

// FollowFeed keeps o.Set in step with Gatehouse's revocation feed at url
// (https://auth.example.com/auth/revocations) until ctx is done, and then
// returns ctx's error.
//
// It reads the feed as Server-Sent Events (WHATWG HTML §9.2), resuming
// from the set's cursor on every reconnect (after= and Last-Event-ID), and
// touches the set on every event and heartbeat, so the guard can tell a
// quiet feed from a broken one. While the stream is down it polls the JSON
// form of the same endpoint every PollInterval, touching the set on each
// successful poll, and retries the stream with exponential back-off. A
// head below the set's cursor (the server's store was replaced) restarts
// the set's cursor from 0. A 401 or 404 means the secret is wrong or the
// feed is not enabled on the server: it is logged as an error and retried
// at the longest back-off.
func FollowFeed(ctx context.Context, url string, o FeedOptions) error {
	if o.Set == nil || o.Secret == "" {
		return errors.New("guard: FollowFeed needs a Set and the feed Secret")
	}
	if err := checkRemoteURL(url, o.AllowInsecureHTTP); err != nil {
		return err
	}
	f := newFeed(url, o)
	backoff := f.o.RetryMin
	for {
		opened, err := f.stream(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if opened {
			backoff = f.o.RetryMin // the stream worked: reconnect promptly
		}
		wait := backoff
		if errors.Is(err, errFeedRefused) {
			f.o.Log.Error("guard: the revocation feed refused this guard; check the feed URL and that the secret equals Gatehouse's revocation_feed_secret",
				"url", f.url, "err", err)
			wait = f.o.RetryMax
		} else {
			f.o.Log.Warn("guard: revocation feed stream lost; polling until it is back", "url", f.url, "err", err, "retry_in", wait)
			backoff = min(2*backoff, f.o.RetryMax)
		}
		if err := f.pollFor(ctx, wait); err != nil {
			return err
		}
	}
}

type feed struct {
	url string
	o   FeedOptions
	set *revset.Set // o.Set's
}

func newFeed(url string, o FeedOptions) *feed {
	if o.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ResponseHeaderTimeout = 15 * time.Second
		o.Client = &http.Client{Transport: t}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 250 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(o.RetryMin, 10*time.Second)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &feed{url: url, o: o, set: revset.Of(o.Set)}
}

// request builds a GET of the feed after the set's cursor.
func (f *feed) request(ctx context.Context, accept string) (*http.Request, error) {
	u, err := url.Parse(f.url)
	if err != nil {
		return nil, fmt.Errorf("guard: feed url: %w", err)
	}
	cursor := f.set.Cursor()
	q := u.Query()
	q.Set("after", strconv.FormatInt(cursor, 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("guard: feed request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+f.o.Secret)
	req.Header.Set("Accept", accept)
	if cursor > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(cursor, 10))
	}
	return req, nil
}

// do sends req and checks the status and media type.
func (f *feed) do(req *http.Request, mediaType string) (*http.Response, error) {
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("guard: feed: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound:
		_ = resp.Body.Close() // the status or type is the error; the body is unread
		return nil, fmt.Errorf("%w: status %d", errFeedRefused, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		_ = resp.Body.Close() // the status or type is the error; the body is unread
		return nil, fmt.Errorf("guard: feed: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, mediaType) {
		_ = resp.Body.Close() // the status or type is the error; the body is unread
		return nil, fmt.Errorf("guard: feed: Content-Type %q, want %s", ct, mediaType)
	}
	return resp, nil
}

// stream reads the event stream until it fails or ctx ends. opened
// reports whether it got as far as a 200 event stream.
func (f *feed) stream(ctx context.Context) (opened bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := f.request(ctx, "text/event-stream")
	if err != nil {
		return false, err
	}
	resp, err := f.do(req, "text/event-stream")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	f.set.Touch(f.o.Now())

	// Nothing for IdleTimeout: the connection is presumed dead.
	idle := time.AfterFunc(f.o.IdleTimeout, cancel)
	defer idle.Stop()
	return true, readEvents(resp.Body, f.event, func() { idle.Reset(f.o.IdleTimeout) })
}

// readEvents reads an event stream (WHATWG HTML §9.2.6, as far as the
// revocation feed uses it) and calls dispatch with each event's name and
// data, and line after every line read (the idle timer). It is apart from
// stream so that the parsing can be fuzzed without a connection
// (FuzzReadEvents). It returns dispatch's first error, a read error, or,
// when the stream ends, an error saying so: a feed never ends on its own.
func readEvents(r io.Reader, dispatch func(name, data string) error, line func()) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxFeedLine)
	var name, data string
	for sc.Scan() {
		line()
		l := sc.Text()
		if l == "" { // dispatch (blank line ends an event)
			// Each data line ended with a line feed; the last one is not
			// part of the data (WHATWG HTML §9.2.6, "dispatch the event").
			if err := dispatch(name, strings.TrimSuffix(data, "\n")); err != nil {
				return err
			}
			name, data = "", ""
			continue
		}
		field, value, _ := strings.Cut(l, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if len(data)+len(value) > maxFeedLine {
				return errors.New("guard: feed: event data over the line limit")
			}
			data += value + "\n" // so an empty data line still counts
		}
		// "id" needs no handling: the seq in the data is the cursor.
		// Comments (":…") and unknown fields are ignored, as SSE says.
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("guard: feed stream: %w", err)
	}
	return errors.New("guard: feed stream ended")
}

// event applies one SSE event to the set.
func (f *feed) event(name, data string) error {
	now := f.o.Now()
	switch name {
	case "revoked":
		var e feedEntry
		if err := json.Unmarshal([]byte(data), &e); err != nil || e.SID == "" || e.Seq <= 0 {
			return fmt.Errorf("guard: feed: malformed revoked event %q", data)
		}
		f.set.Add(e.SID, e.Until, e.Seq)
	case "reset":
		// The server's numbering started again (its store was replaced):
		// it sends everything from 0 next.
		f.set.ResetCursor(0)
	case "ping", "":
	default:
		return nil // an event this guard does not know: ignore, as SSE does
	}
	f.set.Touch(now)
	f.set.Sweep(now)
	return nil
}

// pollFor polls the JSON feed at once and then every PollInterval until d
// has passed, returning ctx's error if it ends first.
func (f *feed) pollFor(ctx context.Context, d time.Duration) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(f.o.PollInterval)
	defer tick.Stop()
	for {
		if err := f.poll(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, errFeedRefused) {
			f.o.Log.Warn("guard: revocation feed poll failed", "url", f.url, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
}

// poll reads every page after the set's cursor.
func (f *feed) poll(ctx context.Context) error {
	for range 1000 { // at most a million entries per poll
		req, err := f.request(ctx, "application/json")
		if err != nil {
			return err
		}
		resp, err := f.do(req, "application/json")
		if err != nil {
			return err
		}
		var p feedPage
		err = json.NewDecoder(io.LimitReader(resp.Body, maxFeedPage)).Decode(&p)
		_ = resp.Body.Close() // the page is decoded (or not): a close error changes nothing
		if err != nil {
			return fmt.Errorf("guard: feed page: %w", err)
		}
		now := f.o.Now()
		if p.Head < f.set.Cursor() {
			f.set.ResetCursor(0)
			f.set.Touch(now)
			continue
		}
		for _, e := range p.Revocations {
			if e.SID != "" && e.Seq > 0 {
				f.set.Add(e.SID, e.Until, e.Seq)
			}
		}
		f.set.Touch(now)
		f.set.Sweep(now)
		if len(p.Revocations) == 0 || f.set.Cursor() >= p.Head {
			return nil
		}
	}
	return nil
}
