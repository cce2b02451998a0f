//go:build !race

package seqlock

// On amd64 the counter and slot-word stores are plain MOVs. x86-TSO orders every store
// after every earlier store and every load after every earlier load, so the
// hardware needs no fence here; the only reordering left to exclude is the
// compiler's. The Go compiler keeps every store in the SSA memory chain: a
// store is never moved past another store, a call (runtime.memmove, which
// copies the payload) or an atomic operation, and a load is never moved
// past the next memory-changing operation. Dead-store elimination works
// within one basic block and stops at any call, so the odd store is not
// removed even though the commit store overwrites it.
// TestCompiledWriteOrder checks this on the compiled Writer.write; see
// docs/memory-model.md. (An assembly function per store, as gVisor uses for
// its read fence, cost a large part of a 64-byte write: docs/benchmarks.md,
// "What costs what".)

// beginWrite stores the odd slot word that opens a write in its slot; the
// payload stores stay after it.
func beginWrite(p *uint64, v uint64) { *p = v }

// commitWrite is a release store: of the odd counter, and of the even slot
// word and counter that complete a write.
func commitWrite(p *uint64, v uint64) { *p = v }

// loadFence orders the payload loads before the second slot-word load: x86
// does not reorder loads, and the compiler does not move a load past the
// atomic load that follows it.
func loadFence() {}

// commitLoadOrdered is false: a plain MOV store may be passed by a later
// load (x86 store buffering), so the writer's load of the waiter word after
// commitWrite needs either a full fence or the waiters' membarrier.
const commitLoadOrdered = false
