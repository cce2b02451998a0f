package seqlock

import "errors"

// Windows: waiters poll with backoff for now; the writer has nobody to wake.

const haveFutex = false

func writerFlags() uint64 { return 0 }

func wake(word *uint32) {}

func globalBarrier() error { return errors.ErrUnsupported }

func futexSleep(word *uint32, val uint32, d int64) error { return errors.ErrUnsupported }

// openWaitObjects prepares what a writer (writer true) or a waiter needs
// besides the waiter word to wake or sleep for the segment name; wake and
// futexSleep find it by the word's address. closeWaitObjects releases it.
func openWaitObjects(word *uint32, name string, writer bool) error { return errors.ErrUnsupported }

func closeWaitObjects(word *uint32) {}
