package argon2id

import "sync"

// blocksPool holds the working memory of finished hashes, as *[]block, for
// the next hash to reuse. A sync.Pool keeps about as many as run at once
// (the caller bounds that: auth's hash slots), and lets the garbage
// collector take them back when hashing stops for a while, so an idle
// service does not hold slots × memory.
var blocksPool sync.Pool

// getBlocks returns memory blocks of working memory, reused when the pool
// has a large enough one. Their contents are whatever the last hash left.
func getBlocks(memory uint32) []block {
	if p, ok := blocksPool.Get().(*[]block); ok && uint32(cap(*p)) >= memory {
		return (*p)[:memory]
	}
	// A buffer too small for these parameters (they changed) is dropped.
	return make([]block, memory)
}

// putBlocks gives B back to the pool.
func putBlocks(B []block) {
	blocksPool.Put(&B)
}
