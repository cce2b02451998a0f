package seqlock

import "sync/atomic"

// Fenced-commit mode: who pays for the full fence between the writer's
// commit store and its load of the waiter word (docs/memory-model.md,
// "Waking waiters" and "Who pays for the fence"). Everything of the mode
// in Go is in this file; the system calls are membarrierRegister and
// membarrierGlobal (futex_unsafe.go), and slot_amd64.s repeats
// Writer.commit and Writer.noWaiter in its write (marked "fence.go").
//
// Where commitLoadOrdered is false (amd64 without -race) and membarrier
// registration works, the writer commits with a plain store and sets
// flagMembarrier; a waiter about to sleep then calls membarrier. While
// waiters are sleeping the writer commits with XCHG instead and sets
// flagFenced, so that they skip it, until quietWrites writes in a row find
// no waiter. Always committing with XCHG would be simpler, and costs
// nothing in a loop of bare 64-byte writes, but a few nanoseconds per
// stamped write and per write of a writer that loads a little state before
// each write (measured in docs/design-decisions.md, "Waiting: a waiter
// page, and membarrier instead of a fence per write").

// Flag bits, stored at offFlags.
const (
	// flagMembarrier: the writer does not fence between its commit store and
	// its load of the waiter word, relying on waiters to issue
	// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) before they sleep.
	flagMembarrier = 1 << 0
	// flagFenced: the writer has bit 0 set but, while waiters are asleep,
	// commits with a full fence anyway, so waiters may skip the
	// membarrier. Set with any store, cleared with a full fence (XCHG),
	// and by every writer that adopts the segment.
	flagFenced = 1 << 1
)

// quietWrites is how many writes in a row a fenced writer must see no
// waiter bit before it goes back to plain commits.
const quietWrites = 1024

// commitFence is the Writer's state of the mode (slot_amd64.s reads it).
type commitFence struct {
	// fence: commit with a full fence (XCHG). Always where the waiters
	// have no membarrier to rely on (see commitLoadOrdered); otherwise
	// while waiters are asleep (fenced, with flagFenced in the header),
	// until quiet reaches 0.
	fence  bool
	fenced bool
	quiet  uint32
}

// writerFlags returns the flags a new Writer stores in the header (with a
// full fence, before its first commit: that clears a flagFenced left by a
// writer that died fenced), registering this process for expedited global
// membarriers if its commits need them.
func writerFlags() uint64 {
	if !commitLoadOrdered && membarrierRegister() {
		return flagMembarrier
	}
	return 0
}

// initFence sets the Writer's mode from the flags it stored.
func (w *Writer) initFence() {
	// Without membarrier to rely on, every commit is fenced.
	w.fence = !commitLoadOrdered && w.g.flags&flagMembarrier == 0
}

// commit stores the even counter value that completes a write, with a full
// fence when the mode asks for one: then the waiter check that follows must
// not be performed before this store is visible (store buffering), and no
// membarrier covers it.
func (w *Writer) commit(seq *uint64, v uint64) {
	if w.fence {
		atomic.StoreUint64(seq, v)
	} else {
		commitWrite(seq, v)
	}
}

// noWaiter counts a write whose check found no waiter bit.
func (w *Writer) noWaiter() {
	if w.fenced {
		if w.quiet--; w.quiet == 0 {
			w.unfence()
		}
	}
}

// woke follows a wake: waiters are going to sleep on this segment, so
// commit with a full fence from now on and say so, so that they need not
// pay a membarrier, which interrupts every CPU running a writer, this one
// included (its cost: docs/benchmarks.md, "What costs what").
func (w *Writer) woke() {
	if !w.fence && !w.closed && w.g.flags&flagMembarrier != 0 {
		w.h.storeFlags(w.g.flags | flagFenced)
		w.fence, w.fenced = true, true
	}
	if w.fenced {
		w.quiet = quietWrites
	}
}

// unfence goes back to plain commits after quietWrites writes without a
// waiter. The flag is cleared with a full fence (atomic.StoreUint64 is
// XCHG on amd64): a waiter that still saw it set had set its bit before,
// so every load of the waiter word after this one sees that bit.
func (w *Writer) unfence() {
	w.h.storeFlags(w.g.flags)
	w.fence, w.fenced = false, false
}

// writeQuiet ends a fenced write done by the assembly that found no waiter
// bit for quietWrites writes in a row.
func writeQuiet(w *Writer, _ []byte, _ int64, _ bool) (uint64, error) {
	w.unfence()
	return w.next - 1, nil
}

// writerBarrier is the waiter's part, after it set its bit and before its
// last look at the counter. Flags are re-read: a writer that took over the
// segment since NewReader may rely on membarrier where its predecessor did
// not. A writer that says it fences (flagFenced) needs no help; one that
// commits with a plain store gets a full barrier forced on its CPU, so that
// the commit is visible to our load or its later load sees our bit. false:
// the barrier failed (cannot happen on the kernel where the writer
// registered); poll instead.
func (r *Reader) writerBarrier() bool {
	if r.h.loadFlags()&(flagMembarrier|flagFenced) == flagMembarrier {
		return membarrierGlobal() == nil
	}
	return true
}
