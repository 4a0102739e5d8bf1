package statesqlite

import (
	"context"
	"time"
)

// CheckpointEveryDefault is how often a file database's WAL is copied back
// into the database file when Config.CheckpointEvery is zero.
const CheckpointEveryDefault = 500 * time.Millisecond

// checkpointTimeout bounds one checkpoint; a slow disk or a loaded machine
// makes one take longer than the interval, which only delays the next.
const checkpointTimeout = 30 * time.Second

// autoCheckpointPages is SQLite's own checkpoint threshold, left as a safety
// net should the background checkpointer fall behind: 10,000 pages (40 MB).
const autoCheckpointPages = 10000

// checkpointer copies the WAL into the database file every interval on a
// reader connection. SQLite would otherwise checkpoint (and fsync twice)
// inside whichever commit crosses its threshold, every thousand pages: a
// stall of milliseconds on the engine's hot path every hundred or so steps.
// A PASSIVE checkpoint never blocks the writer; the writer restarts the WAL
// from its beginning once a checkpoint has caught up.
func (s *Store) checkpointer(every time.Duration) {
	defer close(s.checkpointDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopCheckpoint:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
		if _, err := s.r.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && !s.closed.Load() {
			s.logger.Warn("statesqlite: checkpoint failed; SQLite checkpoints on its own past its threshold", "error", err)
		}
		cancel()
	}
}
