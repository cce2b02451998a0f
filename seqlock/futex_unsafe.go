//go:build linux

// This file calls the futex and membarrier system calls, which take the
// address of the counter inside the shared mapping.

package seqlock

import (
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	futexWait = 0
	futexWake = 1

	membarrierCmdGlobalExpedited         = 1 << 1
	membarrierCmdRegisterGlobalExpedited = 1 << 2
)

var (
	membarrierOnce sync.Once
	membarrierOK   bool
)

// writerFlags registers this process for expedited global membarriers, once.
// When that works (Linux ≥ 4.16) a waiter about to sleep can force a full
// barrier on this writer's CPU, so the writer's commit store need not be a
// full fence on amd64. See docs/memory-model.md, "Waking waiters".
func writerFlags() uint64 {
	if commitLoadOrdered {
		return 0
	}
	membarrierOnce.Do(func() {
		_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdRegisterGlobalExpedited, 0, 0)
		membarrierOK = e == 0
	})
	if membarrierOK {
		return flagMembarrier
	}
	return 0
}

// globalBarrier runs a full memory barrier on every CPU running a process
// registered by writerFlags.
func globalBarrier() error {
	_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobalExpedited, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// futexWord is the low 32 bits of the counter: the counter is little-endian,
// so they are its first four bytes. Every write changes them.
func futexWord(seq *uint64) *uint32 {
	// Safe: seq is 8-byte aligned inside a live mapping; its first 4 bytes
	// are the low half of the little-endian counter.
	return (*uint32)(unsafe.Pointer(seq))
}

// wake wakes every process sleeping on the counter. Shared futex (no
// FUTEX_PRIVATE_FLAG): the sleepers are other processes.
func wake(seq *uint64) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(futexWord(seq))), futexWake, uintptr(1<<31-1), 0, 0, 0)
}

// futexSleep sleeps while the counter's low word equals val, at most d.
func futexSleep(seq *uint64, val uint32, d int64) error {
	ts := unix.NsecToTimespec(d)
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(futexWord(seq))), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, syscall.EAGAIN, syscall.EINTR, syscall.ETIMEDOUT:
		return nil
	}
	return e
}

// haveFutex: Wait sleeps on the counter instead of polling.
const haveFutex = true
