package store

import "time"

// GroupCommits is how many COMMITs db's group commit has issued.
func GroupCommits(db *DB) int64 {
	if db.group == nil {
		return 0
	}
	return db.group.commits.Load()
}

// SetGroupBounds sets how many fns and how much time one batch of db's
// group commit may take.
func SetGroupBounds(db *DB, maxBatch int, maxWork time.Duration) {
	db.group.maxBatch, db.group.maxWork = maxBatch, maxWork
}

// QueuedInTx is how many InTx calls wait for db's group commit to take them.
func QueuedInTx(db *DB) int {
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return len(db.group.queue)
}
