//go:build !windows

package seqlock

import "os"

// waiterAlign: the waiter area is mapped on its own (mmap offsets are
// multiples of the page size), so it starts on a page boundary.
var waiterAlign = os.Getpagesize()
