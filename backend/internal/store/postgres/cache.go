package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// notifyChannel carries cache invalidations between replicas. Payloads:
//
//	u:<user id>               the user changed or is gone (their API keys
//	                          are forgotten too: a deletion revokes them)
//	s:<session id>            the session ended
//	x:<user id>:<session id>  every session of the user but that one ended
//	                          (the nil UUID keeps none)
//	k:<key id>                the API key was revoked
const notifyChannel = "duckgate_cache"

// cache holds what every authenticated request asks (the user, whether
// the access token's session is live, the API key a bearer key names) for
// at most ttl. Fills carry the
// generation they started in: one that any invalidation overtook is
// dropped, so a read that raced a change never stores the old value. While
// the listening connection is down (notifications could be missed) nothing
// is served from it.
type cache struct {
	ttl time.Duration
	// hits and misses of lookups, for the metrics.
	hits, misses atomic.Uint64

	mu       sync.RWMutex
	gen      uint64
	live     bool // the listener is connected and listening
	users    map[uuid.UUID]entry[model.User]
	sessions map[uuid.UUID]entry[cachedSession]
	keys     map[string]entry[model.APIKey] // by secret hash
}

// entry is a cached value and when it was read from the table.
type entry[V any] struct {
	v  V
	at time.Time
}

type cachedSession struct {
	owner     uuid.UUID
	expiresAt time.Time // by the data clock
}

// maxCached bounds each map; a full map is cleared (a miss costs one
// indexed query).
const maxCached = 100_000

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, users: map[uuid.UUID]entry[model.User]{}, sessions: map[uuid.UUID]entry[cachedSession]{}, keys: map[string]entry[model.APIKey]{}}
}

// lookup returns m's fresh entry for k, and the generation to fill with.
// The maps are cleared, never replaced, so m may be read before the lock.
func lookup[K comparable, V any](c *cache, m map[K]entry[V], k K) (V, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := m[k]
	if !ok || !c.live || time.Since(e.at) >= c.ttl {
		c.misses.Add(1)
		var zero V
		return zero, false, c.gen
	}
	c.hits.Add(1)
	return e.v, true, c.gen
}

// fill caches v under k unless an invalidation came since gen was read.
func fill[K comparable, V any](c *cache, m map[K]entry[V], k K, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live {
		return
	}
	if len(m) >= maxCached {
		clear(m)
	}
	m[k] = entry[V]{v: v, at: time.Now()}
}

// user returns a fresh cached user, and the generation to fill with.
func (c *cache) user(id uuid.UUID) (model.User, bool, uint64) { return lookup(c, c.users, id) }

func (c *cache) fillUser(u model.User, gen uint64) { fill(c, c.users, u.ID, u, gen) }

// session returns a fresh cached session state, and the generation to fill
// with.
func (c *cache) session(id uuid.UUID) (cachedSession, bool, uint64) { return lookup(c, c.sessions, id) }

func (c *cache) fillSession(id, owner uuid.UUID, expiresAt time.Time, gen uint64) {
	fill(c, c.sessions, id, cachedSession{owner: owner, expiresAt: expiresAt}, gen)
}

// key returns a fresh cached live API key by its secret's hash, and the
// generation to fill with. Unknown hashes are never cached: a key made on
// another replica works here at once.
func (c *cache) key(hash string) (model.APIKey, bool, uint64) { return lookup(c, c.keys, hash) }

func (c *cache) fillKey(k model.APIKey, gen uint64) { fill(c, c.keys, k.Hash, k, gen) }

// usedKey is a key's last use as the table now holds it.
type usedKey struct {
	hash string
	use  model.KeyUse
}

// keyUsed brings cached keys' last use forward (this replica recorded
// them); other replicas read it from the table once their entries expire.
func (c *cache) keyUsed(used []usedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range used {
		e, ok := c.keys[u.hash]
		if !ok || e.v.ID != u.use.KeyID {
			continue
		}
		at := u.use.At
		e.v.LastUsedAt, e.v.LastUsedIP = &at, u.use.IP
		c.keys[u.hash] = e
	}
}

// apply carries out one invalidation (from a notification, or from this
// replica's own commit).
func (c *cache) apply(note string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	kind, rest, _ := strings.Cut(note, ":")
	switch kind {
	case "u":
		if id, err := uuid.Parse(rest); err == nil {
			delete(c.users, id)
			for hash, e := range c.keys {
				if e.v.UserID == id {
					delete(c.keys, hash)
				}
			}
			return
		}
	case "k":
		if id, err := uuid.Parse(rest); err == nil {
			for hash, e := range c.keys {
				if e.v.ID == id {
					delete(c.keys, hash)
				}
			}
			return
		}
	case "s":
		if id, err := uuid.Parse(rest); err == nil {
			delete(c.sessions, id)
			return
		}
	case "x":
		u, k, _ := strings.Cut(rest, ":")
		user, err1 := uuid.Parse(u)
		keep, err2 := uuid.Parse(k)
		if err1 == nil && err2 == nil {
			for id, e := range c.sessions {
				if e.v.owner == user && id != keep {
					delete(c.sessions, id)
				}
			}
			return
		}
	}
	// Unknown: forget everything rather than keep something stale.
	clear(c.users)
	clear(c.sessions)
	clear(c.keys)
}

// setLive marks the listener connected (after LISTEN) or not; either way
// everything cached so far is forgotten, since notifications may have been
// missed in between.
func (c *cache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	clear(c.users)
	clear(c.sessions)
	clear(c.keys)
}

func (c *cache) isLive() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live
}

// listener holds a connection of its own LISTENing on notifyChannel and
// applies each notification to the cache. It reconnects after a failure;
// meanwhile the cache is off.
type listener struct {
	s         *Store
	cfg       *pgx.ConnConfig
	cancel    context.CancelFunc
	done      chan struct{}
	listening chan struct{} // closed once LISTEN first succeeded
	once      sync.Once
	lastErr   error
	errMu     sync.Mutex
}

// Listener timings: how long a wait for notifications lasts before the
// connection is checked (a silent network failure must not leave the cache
// on), and the pause between reconnection attempts.
const (
	listenCheckEvery = 5 * time.Second
	listenRetry      = time.Second
)

func startListener(s *Store, cfg *pgx.ConnConfig) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{s: s, cfg: cfg, cancel: cancel, done: make(chan struct{}), listening: make(chan struct{})}
	go l.run(ctx)
	return l
}

// waitListening waits for the first LISTEN (so the caches work from the
// first request), or fails with the last connection error.
func (l *listener) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-l.listening:
		return nil
	case <-ctx.Done():
		l.errMu.Lock()
		defer l.errMu.Unlock()
		return fmt.Errorf("store: listen for cache invalidations: %w", errors.Join(ctx.Err(), l.lastErr))
	}
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	for ctx.Err() == nil {
		err := l.session(ctx)
		l.s.cache.setLive(false)
		if ctx.Err() != nil {
			return
		}
		l.errMu.Lock()
		l.lastErr = err
		l.errMu.Unlock()
		l.s.log.Warn("store: cache invalidations interrupted; caches off until reconnected", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
	}
}

// session is one connection's life: LISTEN, then apply notifications until
// the connection fails.
func (l *listener) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	l.s.cache.setLive(true)
	l.once.Do(func() { close(l.listening) })
	for {
		wait, cancel := context.WithTimeout(ctx, listenCheckEvery)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			l.s.cache.apply(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || wait.Err() != nil:
			// Quiet for a while: make sure the connection is still there.
			check, cancel := context.WithTimeout(ctx, listenCheckEvery)
			err := conn.Ping(check)
			cancel()
			if err != nil {
				return fmt.Errorf("listening connection lost: %w", err)
			}
		default:
			return err
		}
	}
}
