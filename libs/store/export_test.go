package store

// GroupCommits is how many COMMITs db's group commit has issued.
func GroupCommits(db *DB) int64 {
	if db.group == nil {
		return 0
	}
	return db.group.commits.Load()
}

// Ungrouped makes db run each InTx in a transaction of its own, as before
// group commit, so that benchmarks compare the two in the same run.
func Ungrouped(db *DB) { db.group = nil }
