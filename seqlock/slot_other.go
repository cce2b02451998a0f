//go:build race || purego || !amd64

package seqlock

// Only amd64 has the assembly write and read paths; everywhere else (and
// under -race) the Go code does all the work.
const (
	slotAsm    = false
	slotAsmMax = 0
	// readSmallLaps: no assembly attempts before readSlow.
	readSmallLaps = 0
)

func writeValue(w *Writer, p []byte, t int64, stamp bool) (uint64, error) {
	return writeSlow(w, p, t, stamp)
}

func readValue(r *Reader, buf []byte) (Meta, error) { return readSlow(r, buf) }

// spinPause would be the spin-wait hint (PAUSE); without the assembly the
// back-off after a lap is only the loop itself.
func spinPause(n uint64) {}
