package provider

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
)

// CodeRetention is how long a code is kept after it expires: long enough
// that a replay a day late is still recognised as one, and ends the
// session it was exchanged for (RFC 6749 §4.1.2), rather than being an
// unknown code.
const CodeRetention = 24 * time.Hour

// Pruner deletes expired authorization codes, pushed requests and the
// ids of expired client assertions.
type Pruner struct {
	st interface {
		Codes
		PushedRequests
		ClientAssertions
	}
	clock clock.Clock
	log   *slog.Logger
}

// NewPruner returns a Pruner over st.
func NewPruner(st Store, clk clock.Clock, log *slog.Logger) *Pruner {
	return &Pruner{st: st, clock: clk, log: log}
}

// Prune deletes codes expired CodeRetention ago and pushed requests past
// their expiry, and reports how many of each.
func (p *Pruner) Prune(ctx context.Context) (codes, pushed int, err error) {
	now := p.clock.Now()
	if codes, err = p.st.PruneCodes(ctx, now.Add(-CodeRetention)); err != nil {
		return 0, 0, fmt.Errorf("provider: prune codes: %w", err)
	}
	if pushed, err = p.st.PrunePushedRequests(ctx, now); err != nil {
		return codes, 0, fmt.Errorf("provider: prune pushed requests: %w", err)
	}
	if _, err = p.st.PruneClientAssertions(ctx, now); err != nil {
		return codes, pushed, fmt.Errorf("provider: prune client assertions: %w", err)
	}
	return codes, pushed, nil
}

// Run prunes every interval until ctx ends, logging what it did.
func (p *Pruner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if codes, pushed, err := p.Prune(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("pruning authorization codes failed", "err", err)
		} else if codes+pushed > 0 {
			p.log.Info("pruned authorization codes and pushed requests", "codes", codes, "pushed_requests", pushed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
