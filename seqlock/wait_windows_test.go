package seqlock

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/windows"
)

// TestWaitEventsMadeAhead: a writer's wake is one SetEvent on an event it
// made ahead, for the first epochs, across the wrap of the epoch and after
// the word jumped, and the events a waiter finds are the writer's. (createAhead once made none:
// every wake then opened, set and closed the event, on the wake-up's path.)
func TestWaitEventsMadeAhead(t *testing.T) {
	for _, start := range []uint32{0, epochMask - batch/2} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			word := start << 1
			name := fmt.Sprintf("ahead-%d-%d", os.Getpid(), start)
			if err := openWaitObjects(&word, name, true); err != nil {
				t.Fatal(err)
			}
			defer closeWaitObjects(&word)
			v, _ := waitRegistry.Load(&word)
			o := v.(*waitObjects)
			for i := 0; i < 3*batch; i++ {
				e := atomic.LoadUint32(&word) >> 1
				o.mu.Lock()
				missing := -1
				for d := uint32(0); d <= 2 && missing < 0; d++ {
					if o.ahead[(e+d)&epochMask] == 0 {
						missing = int((e + d) & epochMask)
					}
				}
				n := len(o.ahead)
				o.mu.Unlock()
				if missing >= 0 {
					t.Fatalf("wake %d: no event made ahead for epoch %d (current %d)", i, missing, e)
				}
				if n > batch {
					t.Fatalf("wake %d: %d events ahead, want at most %d", i, n, batch)
				}
				// A waiter of epoch e opens the writer's event; the
				// wake sets it.
				w, err := windows.OpenEvent(windows.SYNCHRONIZE, false, o.eventName(e))
				if err != nil {
					t.Fatalf("wake %d: open event of epoch %d: %v", i, e, err)
				}
				if r, _ := windows.WaitForSingleObject(w, 0); r != uint32(windows.WAIT_TIMEOUT) {
					t.Fatalf("wake %d: event of epoch %d set before the wake (%#x)", i, e, r)
				}
				atomic.OrUint32(&word, waiterBit) // a waiter may sleep
				if !wakeWord(&word) {
					t.Fatalf("wake %d: wakeWord found no waiter bit", i)
				}
				if r, _ := windows.WaitForSingleObject(w, 0); r != windows.WAIT_OBJECT_0 {
					t.Fatalf("wake %d: event of epoch %d not set by the wake (%#x)", i, e, r)
				}
				windows.CloseHandle(w)
				if i == batch {
					// The word jumps (a waiter of this user may
					// write it): the next wake starts again there.
					atomic.AddUint32(&word, 200<<1|waiterBit)
					wakeWord(&word)
				}
			}
		})
	}
}
