package shop

import "math/bits"

// The generator draws every pseudo-random choice from PostgreSQL's
// hashint8extended(value, seed): a C function the server evaluates in a few
// nanoseconds and must keep stable across versions, because hash-partitioned
// tables depend on it. mix reproduces it so that Go can predict row counts
// (for progress totals and tests) without asking the server.

// hashMask keeps the hash non-negative in both SQL bigint and Go int64.
const hashMask = 1<<62 - 1

// mix is hashint8extended(v, seed) & hashMask.
func mix(v, seed int64) int64 {
	lo := uint32(v)
	hi := uint32(uint64(v) >> 32)
	if v >= 0 {
		lo ^= hi
	} else {
		lo ^= ^hi
	}
	return int64(hashUint32Extended(lo, uint64(seed))) & hashMask
}

// hashUint32Extended is Bob Jenkins' lookup3 final mix over one 32-bit key
// with a 64-bit seed, as PostgreSQL's hash_bytes_uint32_extended computes it.
func hashUint32Extended(k uint32, seed uint64) uint64 {
	a := uint32(0x9e3779b9 + 4 + 3923095)
	b, c := a, a
	if seed != 0 {
		a += uint32(seed >> 32)
		b += uint32(seed)
		a, b, c = lookup3Mix(a, b, c)
	}
	a += k
	_, b, c = lookup3Final(a, b, c)
	return uint64(b)<<32 | uint64(c)
}

func lookup3Mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func lookup3Final(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return a, b, c
}
