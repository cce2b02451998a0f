//go:build race || !amd64

package seqlock

// Only amd64 has the assembly write and read paths; everywhere else (and
// under -race) the Go code in Writer.write and Reader.read does all the
// work.
const (
	slotAsm    = false
	slotAsmMax = 0
)

func writeSmall(w *Writer, src *byte, length uint64, t int64) (n uint64, st uint8) {
	panic("seqlock: writeSmall without assembly")
}

func readSmall(r *Reader, dst *byte, dstLen uint64) (n, seq, t uint64, ok bool) {
	panic("seqlock: readSmall without assembly")
}
