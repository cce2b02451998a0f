//go:build !linux && !windows

package seqlock

import "errors"

// Without futexes, waiters poll with backoff; the writer never has anyone
// to wake and fences nothing extra.

const haveFutex = false

const maxIdleSleep = maxSleep // unused: nobody sleeps

func membarrierRegister() bool { return false }

func wake(word *uint32) {}

func membarrierGlobal() error { return errors.ErrUnsupported }

func futexSleep(word *uint32, val uint32, d int64) error { return errors.ErrUnsupported }

func openWaitObjects(word *uint32, name string, writer bool) error { return errors.ErrUnsupported }

func closeWaitObjects(word *uint32) {}
