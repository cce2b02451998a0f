//go:build !race

package seqlock

import "sync/atomic"

// On arm64 the counter and the slot words are stored with STLR and read
// with LDAR, and two DMBs in order_arm64.s cover what those do not order. docs/memory-model.md has
// the argument.

// beginWrite stores the odd slot word (STLR) and fences later stores (the
// payload) behind it (DMB ISHST).
//
//go:noescape
func beginWrite(p *uint64, v uint64)

// commitWrite is a release store: of the odd counter, and of the even slot
// word and counter that complete a write. atomic.StoreUint64 is STLR on
// arm64: every earlier load and store of the writer (the payload, then the
// slot word) is visible before the new value.
func commitWrite(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// loadFence orders the payload loads before the second slot-word load (DMB ISHLD).
func loadFence()

// commitLoadOrdered is true: an LDAR (the writer's load of the waiter word)
// is never performed before an earlier STLR (the commit) of the same thread.
const commitLoadOrdered = true
