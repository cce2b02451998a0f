package seqlock

import (
	"fmt"
	"runtime/debug"
)

// faultSafe runs f with faults on bad addresses turned into panics, and
// those panics into errors, so that a segment truncated under a mapping
// makes a Subscriber fail instead of killing the process. Faults only occur
// in the segment's memory here: the Reader never follows a pointer.
func faultSafe[T any](f func() (T, error)) (v T, err error) {
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return f()
}

// recoverFault is deferred with the previous SetPanicOnFault setting; it
// restores it and turns a memory-fault panic into an ErrTruncated error.
// Any other panic is not ours and goes on.
func recoverFault(old bool, err *error) {
	debug.SetPanicOnFault(old)
	if r := recover(); r != nil {
		re, ok := r.(interface{ Addr() uintptr })
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("%w (fault at %#x)", ErrTruncated, re.Addr())
	}
}
