//go:build !race

package seqlock

// slotAsm: WriteAt and Read use the assembly in slot_amd64.s for slots of
// up to slotAsmMax bytes. Larger copies go to runtime.memmove, whose wide
// vector loops beat a 16-byte loop.
const (
	slotAsm    = true
	slotAsmMax = 256
	// readSmallLaps bounds readSmall's attempts before it leaves the read
	// to the Go loop (which yields the processor now and then).
	readSmallLaps = 16
)

// writeSmall performs Writer.WriteAt for one value; see slot_amd64.s.
//
//go:noescape
func writeSmall(w *Writer, src *byte, length uint64, t int64) (n uint64, st uint8)

// readSmall performs Reader.Read for a complete value that fits; see
// slot_amd64.s.
//
//go:noescape
func readSmall(r *Reader, dst *byte, dstLen uint64) (n, seq, t uint64, ok bool)
