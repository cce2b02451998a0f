//go:build linux

// This file calls the futex and membarrier system calls, which take the
// address of the waiter word inside the shared mapping.

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

// membarrierRegister registers this process for expedited global
// membarriers, once, and reports whether that worked (Linux ≥ 4.16): then a
// waiter about to sleep can force a full barrier on this writer's CPU
// (fence.go).
func membarrierRegister() bool {
	membarrierOnce.Do(func() {
		_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdRegisterGlobalExpedited, 0, 0)
		membarrierOK = e == 0
	})
	return membarrierOK
}

// membarrierGlobal runs a full memory barrier on every CPU running a
// process registered by membarrierRegister.
func membarrierGlobal() error {
	_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobalExpedited, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// wake wakes every process sleeping on the waiter word. Shared futex (no
// FUTEX_PRIVATE_FLAG): the sleepers are other processes. FUTEX_WAKE never
// blocks, so it skips the scheduler's blocking-system-call bookkeeping
// (RawSyscall6), which costs the publisher more than the call.
func wake(word *uint32) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake, uintptr(1<<31-1), 0, 0, 0)
}

// futexSleep sleeps while *word equals val, at most d nanoseconds.
func futexSleep(word *uint32, val uint32, d int64) error {
	ts := unix.NsecToTimespec(d)
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, syscall.EAGAIN, syscall.EINTR, syscall.ETIMEDOUT:
		return nil
	}
	return e
}

// haveFutex: Wait sleeps on the waiter word instead of polling.
const haveFutex = true

// maxIdleSleep: every futex sleep is bounded by maxSleep, however long the
// wait (a timed-out futex wait costs a few µs of CPU here).
const maxIdleSleep = maxSleep

// openWaitObjects: a futex needs nothing but the word.
func openWaitObjects(word *uint32, name string, writer bool) error { return nil }

func closeWaitObjects(word *uint32) {}
