package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderCheckEvery is how often a leader makes sure the connection holding
// its lock is alive: a leader whose connection broke has lost the lock
// (another replica may hold it already) and must stop within about this.
const leaderCheckEvery = time.Second

// Lead blocks until this replica holds the advisory lock of job, on a
// connection of its own, or ctx ends. Waiting is the server's (a blocking
// pg_advisory_lock), so a job moves the moment its leader's connection
// ends: a SIGKILLed leader's socket closes, its session ends and the lock
// passes to the next replica in line. The returned context ends when the
// connection holding the lock fails; release unlocks and closes it.
func (s *Store) Lead(ctx context.Context, job string) (context.Context, func(), error) {
	conn, err := pgx.ConnectConfig(ctx, s.conn)
	if err != nil {
		return nil, nil, fmt.Errorf("store: leadership of %s: connect: %w", job, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockNamespace, lockKey("job:"+job)); err != nil {
		_ = conn.Close(context.Background())
		return nil, nil, fmt.Errorf("store: leadership of %s: %w", job, err)
	}
	held, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(leaderCheckEvery)
		defer ticker.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-ticker.C:
			}
			check, stop := context.WithTimeout(held, leaderCheckEvery)
			err := conn.Ping(check)
			stop()
			if err != nil && held.Err() == nil {
				s.log.Warn("store: the connection holding a job's leadership failed; stepping down", "job", job, "err", err)
				cancel()
				return
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		// Closing the connection ends its session, which releases the lock.
		_ = conn.Close(context.Background())
	}
	return held, release, nil
}
