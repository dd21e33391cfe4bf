package store

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// userCache holds users read since start. Writes replace or drop entries
// after they commit (from the writer, so in commit order). A reader that
// loaded a user from the database may only insert it if no write touched the
// cache meanwhile (the generation check), so a stale row never lands after
// a newer write.
type userCache struct {
	mu   sync.RWMutex
	gen  uint64
	byID map[uuid.UUID]User
}

const maxCachedUsers = 100_000

func newUserCache() *userCache { return &userCache{byID: make(map[uuid.UUID]User)} }

func (c *userCache) get(id uuid.UUID) (User, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.byID[id]
	return u, ok, c.gen
}

func (c *userCache) fill(u User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.byID) >= maxCachedUsers {
		clear(c.byID) // crude but bounded; a miss costs one indexed query
	}
	c.byID[u.ID] = u
}

func (c *userCache) put(u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.byID[u.ID] = u
}

func (c *userCache) drop(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.byID, id)
}

// sessionCache knows every live session (a family with an active refresh
// token): access tokens name their session in sid, and authorisation checks
// it here, so ending a session ends its access tokens at once.
type sessionCache struct {
	mu       sync.RWMutex
	families map[uuid.UUID]sessionEntry
}

type sessionEntry struct {
	userID    uuid.UUID
	expiresAt time.Time
}

func newSessionCache() *sessionCache {
	return &sessionCache{families: make(map[uuid.UUID]sessionEntry)}
}

func (c *sessionCache) set(family, user uuid.UUID, expiresAt time.Time) {
	c.mu.Lock()
	c.families[family] = sessionEntry{userID: user, expiresAt: expiresAt}
	c.mu.Unlock()
}

func (c *sessionCache) drop(family uuid.UUID) {
	c.mu.Lock()
	delete(c.families, family)
	c.mu.Unlock()
}

func (c *sessionCache) dropUser(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f, e := range c.families {
		if e.userID == user {
			delete(c.families, f)
		}
	}
}

func (c *sessionCache) active(family uuid.UUID, now time.Time) (uuid.UUID, bool) {
	c.mu.RLock()
	e, ok := c.families[family]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expiresAt) {
		return uuid.Nil, false
	}
	return e.userID, true
}

func (c *sessionCache) ofUser(user uuid.UUID) []uuid.UUID {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []uuid.UUID
	for f, e := range c.families {
		if e.userID == user {
			out = append(out, f)
		}
	}
	return out
}
