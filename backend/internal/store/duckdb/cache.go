package duckdb

import (
	"sync"

	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/model"
)

// userCache holds users read since start. Writes replace or drop entries
// after they commit (from the writer, so in commit order). A reader that
// loaded a user from the database may only insert it if no write touched the
// cache meanwhile (the generation check), so a stale row never lands after
// a newer write.
type userCache struct {
	mu   sync.RWMutex
	gen  uint64
	byID map[uuid.UUID]model.User
}

const maxCachedUsers = 100_000

func newUserCache() *userCache { return &userCache{byID: make(map[uuid.UUID]model.User)} }

func (c *userCache) get(id uuid.UUID) (model.User, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.byID[id]
	return u, ok, c.gen
}

func (c *userCache) fill(u model.User, gen uint64) {
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

func (c *userCache) put(u model.User) {
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
