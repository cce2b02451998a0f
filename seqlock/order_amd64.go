//go:build !race

package seqlock

// On amd64 the counter stores are plain MOVs (assembly in order_amd64.s):
// x86-TSO orders a store after all earlier stores and a load after all
// earlier loads, so the only reordering left to prevent is the compiler's,
// which an assembly call does. docs/memory-model.md has the argument.

// beginWrite stores the odd counter value that opens a write.
//
//go:noescape
func beginWrite(p *uint64, v uint64)

// commitWrite stores the even counter value that completes a write.
//
//go:noescape
func commitWrite(p *uint64, v uint64)

// loadFence orders the payload loads before the second counter load.
func loadFence()

// commitLoadOrdered is false: a plain MOV store may be passed by a later
// load (x86 store buffering), so the writer's load of the waiter count after
// commitWrite needs either a full fence or the waiters' membarrier.
const commitLoadOrdered = false
