package duckdb

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// sessionCache knows every live session (a family whose newest token is
// neither revoked nor expired) and that newest token. Access tokens name
// their session in sid and authorisation checks it here, so ending a
// session ends its access tokens at once; and the writer rotates a current
// token from here without a database lookup (a point query costs ~0.4 ms in
// DuckDB, more than everything else a rotation does). Only the writer
// changes it, after its transaction committed, so it never runs ahead of the
// database; it is rebuilt from the database at start-up.
type sessionCache struct {
	mu       sync.RWMutex
	families map[uuid.UUID]liveSession
	byHash   map[string]uuid.UUID                 // current token hash → family
	byParent map[string]uuid.UUID                 // current token's parent hash → family
	byUser   map[uuid.UUID]map[uuid.UUID]struct{} // user → families
}

// liveSession is a session and its current (newest) refresh token.
type liveSession struct {
	user      uuid.UUID
	expiresAt time.Time
	born      time.Time // the sign-in
	tokenID   uuid.UUID
	tokenHash string
	// The token the current one replaced (none after a sign-in), and when
	// that token was first rotated: a retry within the grace presents it.
	parentID   uuid.UUID
	parentHash string
	rotatedAt  time.Time
	short      bool // signed in without "keep me signed in"
	// The current token's issue (the session's last use) and device.
	lastUsed  time.Time
	userAgent string
	ip        string
}

func newSessionCache() *sessionCache {
	return &sessionCache{
		families: make(map[uuid.UUID]liveSession),
		byHash:   make(map[string]uuid.UUID),
		byParent: make(map[string]uuid.UUID),
		byUser:   make(map[uuid.UUID]map[uuid.UUID]struct{}),
	}
}

func (c *sessionCache) set(family uuid.UUID, s liveSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.families[family]; ok {
		delete(c.byHash, old.tokenHash)
		delete(c.byParent, old.parentHash)
	}
	c.families[family] = s
	c.byHash[s.tokenHash] = family
	if s.parentHash != "" {
		c.byParent[s.parentHash] = family
	}
	if c.byUser[s.user] == nil {
		c.byUser[s.user] = make(map[uuid.UUID]struct{})
	}
	c.byUser[s.user][family] = struct{}{}
}

func (c *sessionCache) drop(family uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(family)
}

func (c *sessionCache) dropLocked(family uuid.UUID) {
	old, ok := c.families[family]
	if !ok {
		return
	}
	delete(c.byHash, old.tokenHash)
	delete(c.byParent, old.parentHash)
	delete(c.families, family)
	delete(c.byUser[old.user], family)
	if len(c.byUser[old.user]) == 0 {
		delete(c.byUser, old.user)
	}
}

// dropUser forgets every session of user but keep (uuid.Nil keeps none).
func (c *sessionCache) dropUser(user, keep uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := range c.byUser[user] {
		if f != keep {
			c.dropLocked(f)
		}
	}
}

// ofUser returns the user's sessions live at now.
func (c *sessionCache) ofUser(user uuid.UUID, now time.Time) map[uuid.UUID]liveSession {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[uuid.UUID]liveSession, len(c.byUser[user]))
	for f := range c.byUser[user] {
		if s := c.families[f]; now.Before(s.expiresAt) {
			out[f] = s
		}
	}
	return out
}

// active reports whether family is live at now, and whose it is.
func (c *sessionCache) active(family uuid.UUID, now time.Time) (uuid.UUID, bool) {
	c.mu.RLock()
	s, ok := c.families[family]
	c.mu.RUnlock()
	if !ok || !now.Before(s.expiresAt) {
		return uuid.Nil, false
	}
	return s.user, true
}

// current finds the live session whose newest token has this hash.
func (c *sessionCache) current(hash string) (uuid.UUID, liveSession, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	family, ok := c.byHash[hash]
	if !ok {
		return uuid.Nil, liveSession{}, false
	}
	return family, c.families[family], true
}

// childOf finds the live session whose current token replaced the token
// with this hash.
func (c *sessionCache) childOf(hash string) (uuid.UUID, liveSession, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	family, ok := c.byParent[hash]
	if !ok {
		return uuid.Nil, liveSession{}, false
	}
	return family, c.families[family], true
}
