//go:build !race

package seqlock

// slotAsm: WriteAt and Read use the assembly in slot_amd64.s for slots of
// up to slotAsmMax bytes. Larger copies go to runtime.memmove, whose wide
// vector loops beat a 16-byte loop.
const (
	slotAsm    = true
	slotAsmMax = 256
)

// writeSlot performs write n: odd counter, slot header, payload, even
// counter (with XCHG if fence).
//
//go:noescape
func writeSlot(seq *uint64, n uint64, h *slotHeader, dst, src *byte, length uint64, t int64, fence bool)

// readSlot performs one read attempt; see Reader.Read.
//
//go:noescape
func readSlot(seq *uint64, slots *[2]slotRef, dst *byte, dstLen, capacity uint64) (s1, s2, n, t, num uint64)
