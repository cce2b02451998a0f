//go:build !race && (amd64 || arm64)

package seqlock

// Payload and slot-header accesses are plain memory operations on amd64 and
// arm64; the counter and slot-word accesses and the fences around them
// (order_*.go) give the ordering. They race, by design, with a writer; the
// second load of the slot's word detects every copy that a write
// overlapped, and such a copy is discarded.

func copyIn(dst, src []byte)        { copy(dst, src) }
func copyOut(dst, src []byte)       { copy(dst, src) }
func loadMeta(p *uint64) uint64     { return *p }
func storeMeta(p *uint64, v uint64) { *p = v }
