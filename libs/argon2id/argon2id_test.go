package argon2id

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/argon2"
)

// dirtyPool puts a block full of garbage of at least memory blocks into
// the pool, so that the next hash works in memory that is not zero.
func dirtyPool(memory uint32, seed uint64) {
	B := make([]block, memory+uint32(seed%3))
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range B {
		for j := range B[i] {
			B[i][j] = r.Uint64()
		}
	}
	putBlocks(B)
}

// TestVectorsInReusedMemory runs RFC 9106's vectors (section 5) and the
// reference CLI's again in memory a previous hash and garbage left: the
// pool must not change a key.
func TestVectorsInReusedMemory(t *testing.T) {
	defer func(sse4 bool) { useSSE4 = sse4 }(useSSE4)
	for _, sse4 := range []bool{useSSE4, false} {
		useSSE4 = sse4
		for round := range 3 {
			dirtyPool(32, uint64(round))
			testArgon2i(t)
			dirtyPool(32, uint64(round)+7)
			testArgon2d(t)
			dirtyPool(32, uint64(round)+13)
			testArgon2id(t)
			dirtyPool(4096, uint64(round))
			TestVectors(t)
		}
	}
}

// TestIDKeyMatchesUpstream compares IDKey with x/crypto/argon2.IDKey on
// random inputs and parameters, each in reused, dirty memory, and once
// with auth's production parameters (19 MiB, t=2, p=1).
func TestIDKeyMatchesUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	check := func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) {
		t.Helper()
		dirtyPool(memory, r.Uint64())
		got := IDKey(password, salt, time, memory, threads, keyLen)
		want := argon2.IDKey(password, salt, time, memory, threads, keyLen)
		if !bytes.Equal(got, want) {
			t.Fatalf("IDKey(%q, %x, t=%d, m=%d, p=%d, %d) = %x; want %x (x/crypto/argon2)",
				password, salt, time, memory, threads, keyLen, got, want)
		}
	}
	for range 60 {
		password := make([]byte, r.IntN(80))
		salt := make([]byte, 8+r.IntN(24))
		for _, b := range [][]byte{password, salt} {
			for i := range b {
				b[i] = byte(r.Uint32())
			}
		}
		check(password, salt, 1+r.Uint32N(3), r.Uint32N(600), uint8(1+r.IntN(4)), 4+r.Uint32N(60))
	}
	if !testing.Short() {
		check([]byte("zaytoun-olive-2026"), []byte("0123456789abcdef"), 2, 19*1024, 1, 32)
	}
}

// TestPoolAcrossSizes hashes with growing then shrinking memory: a pooled
// buffer larger than needed is used in part, a smaller one replaced.
func TestPoolAcrossSizes(t *testing.T) {
	for _, m := range []uint32{64, 1024, 256, 8, 2048, 64} {
		got := IDKey([]byte("password"), []byte("somesalt"), 2, m, 1, 32)
		want := argon2.IDKey([]byte("password"), []byte("somesalt"), 2, m, 1, 32)
		if !bytes.Equal(got, want) {
			t.Fatalf("m=%d: IDKey = %s; want %s", m, hex.EncodeToString(got), hex.EncodeToString(want))
		}
	}
}

// FuzzIDKey holds IDKey to x/crypto/argon2.IDKey on any input, in memory
// the previous input's hash left behind.
func FuzzIDKey(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(2), uint16(64), uint8(1), uint8(32))
	f.Add([]byte{}, []byte("12345678"), uint8(1), uint16(8), uint8(4), uint8(4))
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads, keyLen uint8) {
		tm, m, p, k := uint32(time%4)+1, uint32(memory%1024), threads%8+1, uint32(keyLen%64)+4
		got := IDKey(password, salt, tm, m, p, k)
		want := argon2.IDKey(password, salt, tm, m, p, k)
		if !bytes.Equal(got, want) {
			t.Fatalf("IDKey(t=%d, m=%d, p=%d, %d) = %x; want %x", tm, m, p, k, got, want)
		}
	})
}
