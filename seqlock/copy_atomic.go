//go:build race || !(amd64 || arm64)

// The negative term is deliberate: every architecture without a reviewed
// fence implementation, and every -race build, gets this portable version.

package seqlock

import (
	"encoding/binary"
	"sync/atomic"
)

// This file is the portable, race-detector-clean implementation: every
// access to shared words is a sequentially consistent Go atomic, which the
// Go memory model alone makes correct (docs/memory-model.md), and which the
// race detector understands. Slots are 8-byte aligned and padded to a
// multiple of 8 bytes, so whole-word accesses never leave the slot.

func beginWrite(p *uint64, v uint64)  { atomic.StoreUint64(p, v) }
func commitWrite(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
func loadFence()                      {}
func loadMeta(p *uint64) uint64       { return atomic.LoadUint64(p) }
func storeMeta(p *uint64, v uint64)   { atomic.StoreUint64(p, v) }

// commitLoadOrdered is true: sequentially consistent atomics order the
// commit store before the writer's later load of the waiter word.
const commitLoadOrdered = true

// copyIn copies src into the slot dst one atomic word at a time.
func copyIn(dst, src []byte) {
	ne := binary.NativeEndian
	i := 0
	for ; i+8 <= len(src); i += 8 {
		atomic.StoreUint64(word64(dst, i), ne.Uint64(src[i:]))
	}
	if i < len(src) {
		var tail [8]byte
		copy(tail[:], src[i:])
		atomic.StoreUint64(word64(dst, i), ne.Uint64(tail[:]))
	}
}

// copyOut copies len(dst) bytes from the slot src one atomic word at a time.
func copyOut(dst, src []byte) {
	ne := binary.NativeEndian
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		ne.PutUint64(dst[i:], atomic.LoadUint64(word64(src, i)))
	}
	if i < len(dst) {
		var tail [8]byte
		ne.PutUint64(tail[:], atomic.LoadUint64(word64(src, i)))
		copy(dst[i:], tail[:])
	}
}
