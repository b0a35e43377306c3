package guard

import (
	"hash/maphash"
	"sync"
)

// maxCacheShards bounds the number of shards. Sharding spreads the locks,
// so concurrent requests on many cores rarely meet on one mutex.
const maxCacheShards = 64

// tokenCache maps an exact token string to the principal it verified to.
//
// Bound: at most the configured number of entries (each shard holds an
// equal part). When a shard is full, an insert first drops the shard's
// expired entries, then, if still full, one random entry of the shard
// (Go's map iteration starts at a random place). Random eviction needs no
// bookkeeping on the hit path, which is what the cache is for; a token
// evicted early only costs one more signature check.
//
// Memory: an entry is the token (at most maxTokenLen, typically 600–900
// bytes for Gatehouse) plus its Principal (a few hundred bytes), so the
// default 10,000 entries take about 10–15 MB, at worst (8 KiB tokens)
// about 90 MB.
//
// Entries are never served at or after the token's exp, checked on every
// read against the guard's clock; the leeway then applies through a full
// verification, as for an uncached token.
type tokenCache struct {
	seed   maphash.Seed
	mask   uint64
	per    int // entries per shard
	shards []cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
	_  [64]byte // keep neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	p   *Principal
	exp int64 // unix nanoseconds: served only before it
}

func newTokenCache(entries int) *tokenCache {
	n := maxCacheShards
	for n > 1 && n > entries {
		n /= 2
	}
	// #nosec G115 -- n is a power of two in [1, maxCacheShards]: n-1 ≥ 0.
	c := &tokenCache{seed: maphash.MakeSeed(), mask: uint64(n - 1), per: entries / n, shards: make([]cacheShard, n)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(raw string) *cacheShard {
	return &c.shards[maphash.String(c.seed, raw)&c.mask]
}

// get returns the principal cached for raw if its token has not expired
// at now. It allocates nothing.
func (c *tokenCache) get(raw string, now int64) (*Principal, bool) {
	s := c.shard(raw)
	s.mu.RLock()
	e, ok := s.m[raw]
	s.mu.RUnlock()
	if !ok || now >= e.exp {
		return nil, false
	}
	return e.p, true
}

// put caches p for raw until exp, evicting as the type comment says.
func (c *tokenCache) put(raw string, p *Principal, exp, now int64) {
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[raw]; !ok && len(s.m) >= c.per {
		for k, e := range s.m {
			if now >= e.exp {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.per {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[raw] = cacheEntry{p: p, exp: exp}
}

// len sums the shards' sizes.
func (c *tokenCache) len() int {
	size := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		size += len(s.m)
		s.mu.RUnlock()
	}
	return size
}
