//go:build race || !amd64

package seqlock

// Only amd64 has the assembly write and read paths; everywhere else (and
// under -race) the Go code in WriteAt and Read does all the work.
const (
	slotAsm    = false
	slotAsmMax = 0
)

func writeSlot(seq *uint64, n uint64, h *slotHeader, dst, src *byte, length uint64, t int64, fence bool) {
	panic("seqlock: writeSlot without assembly")
}

func readSlot(seq *uint64, slots *[2]slotRef, dst *byte, dstLen, capacity uint64) (s1, s2, n, t, num uint64) {
	panic("seqlock: readSlot without assembly")
}
