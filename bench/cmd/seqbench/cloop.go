package main

// The C reference's in-process loops, compiled from bench/c/seqref.c into
// this program (gcc -O2, as the seqref binary), so that they run on the
// same pinned thread as the Go loops and alternate with them sample by
// sample: no process start, no other CPU, no other cache between the two
// sides of a ratio.

/*
#cgo CFLAGS: -O2 -DSEQREF_LIB -I${SRCDIR}/../../c
#include "seqref.c"
*/
import "C"

// cLoop returns the timed loop of the C reference for mode 'r' (read), 'w'
// (write) or 'n' (write with the waiter-word check) of size-byte values,
// on a segment of its own in ordinary memory, as the Go loops use.
func cLoop(size int, mode byte) func(int) float64 {
	l := C.loop_new(C.size_t(size))
	return func(iters int) float64 { return float64(C.loop_run(l, C.int(mode), C.long(iters))) }
}
