package seqlock

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWriteAfterLoads: a 64-byte write after summing eight words of
// the writer's own state, as a writer that computes its next value does.
// A fenced commit (XCHG) makes those loads wait for the write's stores to
// drain; a plain one lets them overlap (fence.go).
func BenchmarkWriteAfterLoads(b *testing.B) {
	w, err := NewWriter(MakeRegion(64), &WriterOptions{Capacity: 64, NoTimestamp: true})
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 64)
	var state [8]uint64
	for i := range state {
		state[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	var x uint64
	for b.Loop() {
		for _, v := range state {
			x += v
		}
		state[0], p[0] = x, byte(x)
		w.Write(p)
	}
}

// BenchmarkWriteSleeper: 64-byte writes while one waiter loops Wait, Read
// on another thread, sleeping whenever it has caught up; flat out, or with
// the writer spinning gap between writes (write-ns/op: the writes alone).
func BenchmarkWriteSleeper(b *testing.B) {
	for _, c := range []struct {
		name string
		gap  time.Duration
	}{{"flat", 0}, {"gap1us", time.Microsecond}, {"gap20us", 20 * time.Microsecond}} {
		b.Run(c.name, func(b *testing.B) {
			region := MakeRegion(64)
			w, err := NewWriter(region, &WriterOptions{Capacity: 64, NoTimestamp: true})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := NewReader(region)
			r.sleepOn(region[r.g.notify:], "bench")
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				runtime.LockOSThread()
				buf := make([]byte, 64)
				var last uint64
				for {
					s, err := r.Wait(ctx, last)
					if err != nil {
						return
					}
					r.Read(buf)
					last = s
				}
			})
			p := make([]byte, 64)
			w.Write(p)
			time.Sleep(10 * time.Millisecond)
			e0 := atomic.LoadUint32(w.waiters) >> 1
			var inWrite time.Duration
			for b.Loop() {
				if c.gap == 0 {
					w.Write(p)
					continue
				}
				t0 := time.Now()
				w.Write(p)
				t1 := time.Now()
				inWrite += t1.Sub(t0)
				for time.Since(t1) < c.gap {
				}
			}
			b.ReportMetric(float64(atomic.LoadUint32(w.waiters)>>1-e0)/float64(b.N), "wakes/op")
			if c.gap > 0 {
				b.ReportMetric(float64(inWrite.Nanoseconds())/float64(b.N), "write-ns/op")
			}
			cancel()
			wg.Wait()
		})
	}
}
