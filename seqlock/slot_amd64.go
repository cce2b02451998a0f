//go:build !race && !purego

package seqlock

// slotAsm: WriteAt and Read use the assembly in slot_amd64.s for a
// capacity of up to slotAsmMax bytes. Larger copies go to runtime.memmove, whose wide
// vector loops beat the assembly's 16-byte moves.
const (
	slotAsm    = true
	slotAsmMax = 256
	// readSmallLaps bounds readValue's attempts before it leaves the read
	// to readSlow. After its k-th lap readValue pauses k times, and
	// readSlow goes on from there (see readBackoff).
	readSmallLaps = 16
)

// writeValue performs a write; see Writer.WriteAt and slot_amd64.s.
//
//go:noescape
func writeValue(w *Writer, p []byte, t int64, stamp bool) (n uint64, err error)

// readValue performs Reader.Read; see slot_amd64.s.
//
//go:noescape
func readValue(r *Reader, buf []byte) (m Meta, err error)

// The Go functions slot_amd64.s jumps to, and a constant it uses. Tools
// that look for unused code do not read assembly; this keeps them in view.
var _ = [...]any{readSlow, writeSlow, writeWake, writeQuiet, readSmallLaps}

// spinPause executes n PAUSE instructions (slot_amd64.s).
//
//go:noescape
func spinPause(n uint64)
