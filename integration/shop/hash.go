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

// lookup3Mix is lookup3's mix(): six steps, each the same on the next
// pair of the three words (x -= y; x ^= y rotated; y += z), with its own
// rotation.
func lookup3Mix(a, b, c uint32) (uint32, uint32, uint32) {
	x, y, z := a, c, b
	for _, r := range [...]int{4, 6, 8, 16, 19, 4} {
		x -= y
		x ^= bits.RotateLeft32(y, r)
		y += z
		x, y, z = z, x, y
	}
	return x, z, y // six steps bring the words back to (a, c, b)
}

// lookup3Final is lookup3's final(): seven steps, each the same on the
// next pair of the three words (x ^= y; x -= y rotated), with its own
// rotation.
func lookup3Final(a, b, c uint32) (uint32, uint32, uint32) {
	x, y, z := c, b, a
	for _, r := range [...]int{14, 11, 25, 16, 4, 14, 24} {
		x ^= y
		x -= bits.RotateLeft32(y, r)
		x, y, z = z, x, y
	}
	return x, z, y // seven steps leave the words at (a, c, b)
}
