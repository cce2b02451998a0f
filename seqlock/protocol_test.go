package seqlock

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests reach into the region to play a crashed or hostile writer.

func mustWriter(t *testing.T, region []byte, capacity int) *Writer {
	t.Helper()
	w, err := NewWriter(region, &WriterOptions{Capacity: capacity, NoTimestamp: true})
	if err != nil {
		t.Fatalf("NewWriter = %v", err)
	}
	return w
}

// slotOf returns the offset of the slot that holds write n in a region
// laid out by g: slot n&(N-1) of its N slots.
func slotOf(g geometry, n uint64) int { return g.slot0 + int(n&uint64(g.slotCount-1))*g.slotSize }

func readString(t *testing.T, r *Reader) (string, Meta) {
	t.Helper()
	buf := make([]byte, r.Capacity())
	m, err := r.Read(buf)
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	return string(buf[:m.Len]), m
}

// A writer that dies between its odd and even stores leaves the previous
// value readable; a new writer completes the interrupted write number.
func TestAdoptInterruptedWrite(t *testing.T) {
	region := MakeRegion(32)
	w := mustWriter(t, region, 32)
	w.Write([]byte("one"))
	w.Write([]byte("two"))
	// Write 3 dies half-way: odd counter, odd slot word, half a payload
	// in its slot.
	seq := word64(region, offSeq)
	atomic.StoreUint64(seq, 5)
	atomic.StoreUint64(word64(region, slotOf(w.g, 3)+offSlotSeq), 5)
	copy(region[slotOf(w.g, 3)+slotHeaderSize:], "GARBAGE")
	r, err := NewReader(region)
	if err != nil {
		t.Fatal(err)
	}
	if got, m := readString(t, r); got != "two" || m.Seq != 2 {
		t.Errorf("Read after a crash mid-write = %q (write %d), want \"two\" (write 2)", got, m.Seq)
	}
	w2 := mustWriter(t, region, 32)
	if n, err := w2.Write([]byte("three")); err != nil || n != 3 {
		t.Errorf("adopting Write = %d, %v, want 3, nil", n, err)
	}
	if got, m := readString(t, r); got != "three" || m.Seq != 3 {
		t.Errorf("Read after adoption = %q (write %d), want \"three\" (write 3)", got, m.Seq)
	}
	if got := atomic.LoadUint64(seq); got != 6 {
		t.Errorf("counter = %d, want 6", got)
	}
}

// A reader lapped by a writer retries; lapped on every attempt it gives up
// with ErrLapped instead of spinning forever.
func TestLapped(t *testing.T) {
	region := MakeRegion(64 << 10)
	w := mustWriter(t, region, 64<<10)
	w.Write(bytes.Repeat([]byte("a"), 64<<10))
	r, err := NewReader(region)
	if err != nil {
		t.Fatal(err)
	}
	// The slot word of write 1, the newest.
	word := word64(region, slotOf(w.g, 1)+offSlotSeq)
	buf := make([]byte, 64<<10)

	// A hostile writer that begins a write in the reader's slot during
	// every copy: the reader is told on every attempt that its slot was
	// rewritten.
	hostile := func(stop *atomic.Bool, limit int64) {
		for n := int64(0); limit < 0 || n < limit; n++ {
			atomic.AddUint64(word, 2*uint64(w.g.slotCount))
			if n%1024 == 0 && stop.Load() {
				return
			}
		}
	}
	t.Run("gives up", func(t *testing.T) {
		// Every Read must end, with ErrLapped when the hostile writer ran
		// during all its attempts. Never a hang.
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() { hostile(&stop, -1) })
		var nLapped, nCorrupt int
		for start := time.Now(); time.Since(start) < time.Second || nLapped == 0 && time.Since(start) < 10*time.Second; {
			m, err := r.Read(buf)
			switch {
			case errors.Is(err, ErrLapped):
				nLapped++
			case errors.Is(err, ErrCorrupt):
				nCorrupt++
			case err == nil && m.Seq == 1 && buf[0] == 'a':
				// Read before the hostile writer started.
			default:
				t.Fatalf("Read under a writer that always laps = %+v, %v, want ErrLapped or ErrCorrupt", m, err)
			}
		}
		stop.Store(true)
		wg.Wait()
		t.Logf("%d reads gave up lapped, %d saw an inconsistent slot", nLapped, nCorrupt)
		if nLapped == 0 || nCorrupt != 0 {
			t.Errorf("%d reads gave up lapped, %d called the slot corrupt: want some and none", nLapped, nCorrupt)
		}
	})
	t.Run("recovers", func(t *testing.T) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() { hostile(&stop, 50) })
		// The hostile writer stops after 50 laps; the read must then
		// succeed within its bounded attempts or report ErrLapped.
		m, err := r.Read(buf)
		stop.Store(true)
		wg.Wait()
		if err != nil && !errors.Is(err, ErrLapped) {
			t.Errorf("Read = %+v, %v, want success or ErrLapped", m, err)
		}
		// The next write goes to another slot; the reader reads it.
		if _, err := w.Write(bytes.Repeat([]byte("b"), 100)); err != nil {
			t.Fatal(err)
		}
		if m, err := r.Read(buf); err != nil || m.Seq != 2 || m.Len != 100 || buf[0] != 'b' {
			t.Errorf("Read after the writer stopped = %+v, %v, want write 2 of 100 bytes", m, err)
		}
	})
}

// A slot whose header contradicts the validated geometry gives ErrCorrupt,
// never a read out of bounds.
func TestCorruptSlot(t *testing.T) {
	region := MakeRegion(16)
	w := mustWriter(t, region, 16)
	w.Write([]byte("ok"))
	r, _ := NewReader(region)
	slot := slotOf(w.g, 1)
	binary.LittleEndian.PutUint64(region[slot+offSlotLen:], 1<<40)
	if _, err := r.Read(make([]byte, 1<<10)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Read of a slot claiming 1 TiB = %v, want ErrCorrupt", err)
	}
	binary.LittleEndian.PutUint64(region[slot+offSlotLen:], 2)
	// A slot word below the write the counter says is complete: the
	// writer never stores the counter before the slot word.
	binary.LittleEndian.PutUint64(region[slot+offSlotSeq:], 0)
	if _, err := r.Read(make([]byte, 16)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Read of a slot holding an older write = %v, want ErrCorrupt", err)
	}
	// One stuck above it, as if the writer began a write there and
	// stopped: every attempt is lapped, and the Read ends.
	binary.LittleEndian.PutUint64(region[slot+offSlotSeq:], 99)
	if _, err := r.Read(make([]byte, 16)); !errors.Is(err, ErrLapped) {
		t.Errorf("Read of a slot holding a later write = %v, want ErrLapped", err)
	}
}

// A reader keeps the geometry it validated: a header rewritten afterwards
// cannot send it outside the region.
func TestReaderKeepsValidatedHeader(t *testing.T) {
	region := MakeRegion(16)
	w := mustWriter(t, region, 16)
	w.Write([]byte("fine"))
	r, _ := NewReader(region)
	binary.LittleEndian.PutUint64(region[offCapacity:], 1<<30)
	binary.LittleEndian.PutUint64(region[offSlot0:], 1<<30)
	binary.LittleEndian.PutUint64(region[offSlotCount:], 3)
	if got, _ := readString(t, r); got != "fine" {
		t.Errorf("Read after the header was rewritten = %q, want \"fine\"", got)
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	valid := func() []byte {
		region := MakeRegion(64)
		mustWriter(t, region, 64)
		return region
	}
	put := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
	}
	g := newGeometry(64, 0, 0, 0)
	tests := []struct {
		name   string
		break_ func([]byte) []byte
		want   error
	}{
		{"zero magic", put(offMagic, 0), ErrNotReady},
		{"bad magic", func(b []byte) []byte { copy(b, "BOOST!!!"); return b }, ErrNotSeqshm},
		{"version 1", put(offVersion, 1), ErrVersion},
		{"version 3", put(offVersion, 3), ErrVersion},
		{"header size small", put(offHeaderSize, 8), ErrCorrupt},
		{"header size huge", put(offHeaderSize, 1<<62), ErrCorrupt},
		{"capacity 0", put(offCapacity, 0), ErrCorrupt},
		{"capacity huge", put(offCapacity, 1<<62), ErrCorrupt},
		{"capacity beyond slot", put(offCapacity, uint64(g.slotSize)), ErrCorrupt},
		{"slot size huge", put(offSlotSize, 1<<63), ErrCorrupt},
		{"slot0 beyond file", put(offSlot0, uint64(g.totalSize)), ErrCorrupt},
		{"slot0 wraps", put(offSlot0, ^uint64(0)-7), ErrCorrupt},
		{"slot in header", put(offSlot0, 8), ErrCorrupt},
		{"slot misaligned", put(offSlot0, uint64(g.slot0+4)), ErrCorrupt},
		{"slots past the end", put(offSlot0, uint64(g.notify-g.slotSize)), ErrCorrupt},
		{"slot count 0", put(offSlotCount, 0), ErrCorrupt},
		{"slot count 1", put(offSlotCount, 1), ErrCorrupt},
		{"slot count 3", put(offSlotCount, 3), ErrCorrupt},
		{"slot count 128", put(offSlotCount, 128), ErrCorrupt},
		{"slot count huge", put(offSlotCount, 1<<63), ErrCorrupt},
		{"more slots than fit", func(b []byte) []byte {
			// 64 slots of a 32nd of the segment each: twice its size,
			// whatever the waiter area's alignment on this system.
			put(offSlotSize, uint64(roundUp(g.totalSize/32, 8)))(b)
			return put(offSlotCount, 64)(b)
		}, ErrCorrupt},
		{"total beyond region", put(offTotalSize, uint64(g.totalSize+1)), ErrCorrupt},
		{"notify overlaps slot", put(offNotify, uint64(slotOf(g, uint64(g.slotCount-1)))), ErrCorrupt}, // the last slot
		{"notify beyond file", put(offNotify, uint64(g.totalSize)), ErrCorrupt},
		{"truncated", func(b []byte) []byte { return b[:g.totalSize-1] }, ErrCorrupt},
		{"header only", func(b []byte) []byte { return b[:headerSize] }, ErrCorrupt},
		{"shorter than header", func(b []byte) []byte { return b[:100] }, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.break_(valid())
			if _, err := NewReader(b); !errors.Is(err, tt.want) {
				t.Errorf("NewReader(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestWaitWakes(t *testing.T) {
	region := MakeRegion(16)
	w := mustWriter(t, region, 16)
	r, _ := NewReader(region)
	r.sleepOn(region[r.g.notify:], "test")
	// "unannounced": a value whose writer wakes nobody (another
	// implementation that skips the wake, or one killed between its commit
	// and its wake) is still seen, because every sleep is bounded (maxSleep,
	// growing to maxIdleSleep while one Wait stays idle).
	for _, name := range []string{"futex", "unannounced", "poll"} {
		t.Run(name, func(t *testing.T) {
			pause := 20 * time.Millisecond // let it sleep; the test passes either way
			switch {
			case name == "poll":
				r.waiters = nil
			case r.waiters == nil:
				t.Skip("no futex sleeps on this OS: Wait polls")
			case name == "unannounced":
				pause = 350 * time.Millisecond // a few sleeps
			}
			after := r.Seq()
			done := make(chan uint64)
			go func() {
				n, err := r.Wait(context.Background(), after)
				if err != nil {
					t.Errorf("Wait = %v", err)
				}
				done <- n
			}()
			time.Sleep(pause)
			if name == "unannounced" {
				// Take the waiter bit, so that the write wakes nobody. (If
				// a sleep ended just now, the bit is set again and the
				// write wakes the waiter: also a pass.)
				atomic.AndUint32(r.waiters, ^uint32(waiterBit))
			}
			n, _ := w.Write([]byte("x"))
			select {
			case got := <-done:
				if got != n {
					t.Errorf("Wait = %d, want %d", got, n)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Wait did not return within 10 s of a write (sleeps bounded by %v to %v)", maxSleep, maxIdleSleep)
			}
		})
	}
	t.Run("context", func(t *testing.T) {
		r.sleepOn(region[r.g.notify:], "test")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := r.Wait(ctx, r.Seq())
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Wait after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not return after cancel")
		}
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if _, err := r.Wait(ctx, r.Seq()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait with a 30ms deadline = %v, want DeadlineExceeded", err)
		}
		// The waiter left its bit set; the next write clears it (and
		// wakes nobody), and advances the epoch.
		before := atomic.LoadUint32(r.waiters)
		if before&waiterBit == 0 {
			t.Errorf("waiter word after a Wait slept = %#x, want bit 0 set", before)
		}
		w.Write([]byte("y"))
		if got := atomic.LoadUint32(r.waiters); got&waiterBit != 0 || got == before&^waiterBit {
			t.Errorf("waiter word after a write = %#x (was %#x), want bit 0 clear and a new epoch", got, before)
		}
	})
}

// A writer that checks the waiter word late (preempted between its commit
// and the check) must not consume the wake-up of a waiter that prepared to
// sleep after seeing that very commit: the check changes the word, so the
// waiter's sleep, keyed on the word it saw, does not start, and it prepares
// again, where the next write finds it.
func TestLateWakeCheckLosesNothing(t *testing.T) {
	region := MakeRegion(16)
	w := mustWriter(t, region, 16)
	r, _ := NewReader(region)
	r.sleepOn(region[r.g.notify:], "test")
	w.Write([]byte("m")) // commit of write 1; imagine the writer preempted here
	// The waiter sees write 1 and prepares to wait for a newer one.
	key := atomic.OrUint32(r.waiters, waiterBit) | waiterBit
	if got := r.Seq(); got != 1 {
		t.Fatalf("Seq() = %d, want 1", got)
	}
	// The writer resumes and runs its (late) check for write 1.
	w.wakeWaiters()
	// The waiter's FUTEX_WAIT(word, key) must not sleep now.
	if got := atomic.LoadUint32(r.waiters); got == key {
		t.Fatalf("waiter word = %#x after the writer's wake, still the waiter's key: it would sleep through write 2", got)
	}
	// Preparing again sets the bit, which write 2 finds.
	atomic.OrUint32(r.waiters, waiterBit)
	w.Write([]byte("m+1"))
	if got := atomic.LoadUint32(r.waiters); got&waiterBit != 0 {
		t.Errorf("waiter word after write 2 = %#x, want the bit taken (the waiter woken)", got)
	}
}

// A writer that finds waiters asleep commits with a full fence and says so
// in the header (so that waiters skip their membarrier) until quietWrites
// writes in a row find no waiter; then it clears the flag and commits with
// plain stores again. A writer that adopts the segment starts unfenced.
func TestFencedWhileWaitersSleep(t *testing.T) {
	region := MakeRegion(16)
	w := mustWriter(t, region, 16)
	if w.g.flags&flagMembarrier == 0 {
		t.Skip("this writer fences every commit (no membarrier registration, or an architecture that needs none)")
	}
	r, _ := NewReader(region)
	r.sleepOn(region[r.g.notify:], "test")
	flags := func() uint64 { return atomic.LoadUint64(word64(region, offFlags)) }
	if flags()&flagFenced != 0 || w.fence {
		t.Fatalf("new writer: flags %#x, fence %v; want unfenced", flags(), w.fence)
	}
	after := r.Seq()
	done := make(chan error)
	go func() {
		_, err := r.Wait(context.Background(), after)
		done <- err
	}()
	// Once the waiter has set its bit, the next write finds it (only the
	// writer clears it) and turns the fence on.
	for deadline := time.Now().Add(10 * time.Second); atomic.LoadUint32(r.waiters)&waiterBit == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the waiter never set its bit")
		}
		time.Sleep(time.Millisecond)
	}
	w.Write([]byte("x"))
	if err := <-done; err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if flags()&flagFenced == 0 || !w.fence {
		t.Fatalf("after waking a waiter: flags %#x, fence %v; want flagFenced and a fenced writer", flags(), w.fence)
	}
	for i := range quietWrites {
		if flags()&flagFenced == 0 {
			t.Fatalf("flag cleared after %d quiet writes, want %d", i, quietWrites)
		}
		w.Write([]byte("y"))
	}
	if flags()&flagFenced != 0 || w.fence {
		t.Fatalf("after %d writes without waiters: flags %#x, fence %v; want unfenced", quietWrites, flags(), w.fence)
	}
	// Fenced again, then taken over: the new writer clears the flag.
	atomic.OrUint32(r.waiters, waiterBit)
	w.Write([]byte("z"))
	if flags()&flagFenced == 0 {
		t.Fatalf("a write that found a waiter bit left flags %#x", flags())
	}
	w2 := mustWriter(t, region, 16)
	if flags()&flagFenced != 0 || w2.fence {
		t.Errorf("adopting writer: flags %#x, fence %v; want unfenced", flags(), w2.fence)
	}
}

// A waitHook keeps one cancel hook across the Waits that use one context,
// registers a new one (removing the old) when the context changes while no
// Wait relies on it, refuses while one does (that Wait registers its own),
// and removes it at close.
func TestWaitHookKeepsOne(t *testing.T) {
	var fired [2]atomic.Int32
	f := [2]func(){func() { fired[0].Add(1) }, func() { fired[1].Add(1) }}
	var nilHook *waitHook
	if nilHook.acquire(context.Background(), f[0]) {
		t.Fatal("a nil waitHook accepted a context")
	}
	nilHook.close()

	h := new(waitHook)
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	for range 3 { // three Waits in a row with ctxA: one hook
		if !h.acquire(ctxA, f[0]) {
			t.Fatal("acquire(ctxA) on an idle hook = false")
		}
		h.release()
	}
	if !h.acquire(ctxA, f[0]) {
		t.Fatal("acquire(ctxA) = false")
	}
	if h.acquire(ctxB, f[1]) {
		t.Fatal("acquire(ctxB) while a Wait relies on the ctxA hook = true, want false (it must register its own)")
	}
	h.release()
	if !h.acquire(ctxB, f[1]) { // idle now: the hook moves to ctxB
		t.Fatal("acquire(ctxB) on an idle hook = false")
	}
	h.release()
	cancelA() // the ctxA hook was removed: nothing fires
	cancelB() // the ctxB hook fires, once
	deadline := time.Now().Add(10 * time.Second)
	for fired[1].Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if a, b := fired[0].Load(), fired[1].Load(); a != 0 || b != 1 {
		t.Errorf("hooks fired: ctxA %d times, ctxB %d times; want 0 and 1", a, b)
	}

	ctxC, cancelC := context.WithCancel(context.Background())
	if !h.acquire(ctxC, f[0]) {
		t.Fatal("acquire(ctxC) = false")
	}
	h.release()
	h.close()
	cancelC()                         // removed at close: nothing fires
	time.Sleep(10 * time.Millisecond) // AfterFunc would run the hook on a goroutine of its own, at once
	if a := fired[0].Load(); a != 0 {
		t.Errorf("the hook fired %d times after close", a)
	}
}
