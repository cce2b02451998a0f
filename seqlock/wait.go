package seqlock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxSleep bounds one futex sleep, so that a writer that never wakes
	// anyone (a foreign implementation, or a lost wake-up on a kernel
	// without membarrier) delays a waiter by at most this much. Where a
	// timed-out sleep costs more, later sleeps of one idle Wait are
	// bounded by up to maxIdleSleep (per OS).
	maxSleep = 100 * time.Millisecond
	// pollMin and pollMax bound the backoff of a waiter that cannot sleep
	// on a futex (read-only waiter area, or no futexes on this OS).
	pollMin = 20 * time.Microsecond
	pollMax = 5 * time.Millisecond
	// spinChecks is how many times Wait rechecks the counter before it
	// sleeps: a value due within a microsecond or so is taken without a
	// system call.
	spinChecks = 64
)

// waiterArea returns the offset and size of the region's waiter area, or
// 0, 0 if it has none.
func (r *Reader) waiterArea() (off, n int) {
	if r.g.notify == 0 {
		return 0, 0
	}
	return r.g.notify, notifySize
}

// sleepOn gives the Reader a writable view of the region's waiter area, so
// that Wait can register itself and sleep on a futex, and a waitHook to
// keep its cancel hook between Waits; stopSleeping removes that hook. Both
// are for a Subscriber, which calls sleepOn before its first Wait and
// stopSleeping in Close.
func (r *Reader) sleepOn(area []byte, name string) {
	if len(area) < 4 || !haveFutex {
		return
	}
	word := word32(area, offNotifyWaiter)
	if openWaitObjects(word, name, false) != nil {
		return // poll
	}
	r.waiters = word
	r.wakeFn = r.wakeAll // made once: a method value allocates
	r.hook = new(waitHook)
}

func (r *Reader) stopSleeping() {
	r.hook.close()
	if r.waiters != nil {
		closeWaitObjects(r.waiters)
	}
}

// Wait blocks until a value with a write number greater than after is
// published, or ctx ends, and returns the newest write number. It does not
// consume CPU while it waits: a Subscriber's Reader whose waiter word the
// Subscriber could map writable sleeps (on Linux a futex on that word, on
// Windows the named event of its wake epoch); any other Reader polls with a
// backoff of up to 5 ms. Wait(ctx, 0) waits for the first value.
//
// The value itself is read with Read, which may return an even newer one:
// values published faster than a reader takes them coalesce.
func (r *Reader) Wait(ctx context.Context, after uint64) (uint64, error) {
	return r.wait(ctx, after, nil)
}

// wait is Wait, calling check (if not nil) whenever a sleep or maxSleep of
// polling ends with nothing new: an error from it ends the wait.
func (r *Reader) wait(ctx context.Context, after uint64, check func() error) (uint64, error) {
	for i := 0; i < spinChecks; i++ {
		if s := atomic.LoadUint64(r.seq) / 2; s > after {
			return s, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if r.waiters != nil {
		return r.sleepWait(ctx, after, check)
	}
	return r.pollWait(ctx, after, check)
}

func (r *Reader) pollWait(ctx context.Context, after uint64, check func() error) (uint64, error) {
	d := pollMin
	t := time.NewTimer(d)
	defer t.Stop()
	var idle time.Duration
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
		if s := atomic.LoadUint64(r.seq) / 2; s > after {
			return s, nil
		}
		if idle += d; idle >= maxSleep && check != nil {
			idle = 0
			if err := check(); err != nil {
				return 0, err
			}
		}
		d = min(2*d, pollMax)
		t.Reset(d)
	}
}

func (r *Reader) sleepWait(ctx context.Context, after uint64, check func() error) (uint64, error) {
	// A cancelled context wakes the sleepers on the waiter word (on
	// Windows, this process's only); those whose context is not cancelled
	// find nothing new and sleep again. A context that cannot be cancelled
	// needs no such hook (and Wait then does not allocate).
	if ctx.Done() != nil {
		// Only a system call in the hook, never a store: it may run
		// after Wait returned and the mapping is gone, where the kernel
		// answers EFAULT but a store would crash the process. A cancel
		// that lands between the ctx check below and the sleep is seen
		// when the sleep ends (at most its bound: maxSleep, maxIdleSleep).
		if r.hook.acquire(ctx, r.wakeFn) {
			defer r.hook.release()
		} else {
			stop := context.AfterFunc(ctx, r.wakeFn)
			defer stop()
		}
	}
	bound := maxSleep
	for ; ; bound = min(2*bound, maxIdleSleep) {
		// Set the waiter bit before the last look at the counter, and
		// remember the word: either the writer's load of the word (after
		// its commit) sees the bit and wakes us, or our load of the
		// counter sees the commit. A wake after this point changes the
		// word, so the sleep below does not start (docs/memory-model.md,
		// "Waking waiters"). The bit is never cleared here: the writer
		// clears it when it wakes the sleepers.
		key := atomic.OrUint32(r.waiters, waiterBit) | waiterBit
		// The writer's commit may need our help (fence.go).
		if !r.writerBarrier() {
			return r.pollWait(ctx, after, check)
		}
		s := atomic.LoadUint64(r.seq)
		if s/2 > after {
			return s / 2, nil
		}
		d := bound
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, time.Until(dl))
		}
		if d <= 0 {
			// The deadline passed; ctx.Err says so once its timer has
			// fired, which it is about to. Wait for that rather than
			// spin, so that callers see ctx.Err() set.
			<-ctx.Done()
			return 0, ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// FUTEX_WAIT compares the word with key atomically with going to
		// sleep: a wake since we set the bit returns at once.
		if err := futexSleep(r.waiters, key, int64(d)); err != nil {
			return r.pollWait(ctx, after, check)
		}
		if s := atomic.LoadUint64(r.seq) / 2; s > after {
			return s, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if check != nil {
			if err := check(); err != nil {
				return 0, err
			}
		}
	}
}

// wakeAll wakes every waiter on the waiter word, in every process; those
// with nothing new to see sleep again.
func (r *Reader) wakeAll() { wake(r.waiters) }

// A waitHook keeps one cancel hook (context.AfterFunc) registered across
// the Waits of a Subscriber, for as long as they use contexts with the same
// Done channel, instead of registering and removing one per sleeping Wait:
// that pair cost about a tenth of a wake-up (docs/benchmarks.md).
// A Wait that finds the hook watching another context while other Waits
// use it registers its own, as without a waitHook. The nil *waitHook (a
// Reader that is not a Subscriber's, which has no Close to remove a kept
// hook) keeps nothing.
type waitHook struct {
	mu   sync.Mutex
	done <-chan struct{} // Done of the context the hook watches
	stop func() bool
	busy int // Waits relying on the hook now
}

// acquire makes the kept hook watch ctx for one Wait and reports whether it
// does; the Wait then calls release when it returns.
func (h *waitHook) acquire(ctx context.Context, f func()) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if done := ctx.Done(); done != h.done {
		if h.busy > 0 {
			return false
		}
		if h.stop != nil {
			h.stop()
		}
		h.done, h.stop = done, context.AfterFunc(ctx, f)
	}
	h.busy++
	return true
}

func (h *waitHook) release() {
	h.mu.Lock()
	h.busy--
	h.mu.Unlock()
}

// close removes the kept hook; no Wait may run at the same time.
func (h *waitHook) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop != nil {
		h.stop()
	}
	h.done, h.stop = nil, nil
}
