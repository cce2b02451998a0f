package seqlock_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
)

type benchSize struct {
	name string
	n    int
}

var benchSizes = []benchSize{{"8B", 8}, {"64B", 64}, {"1KiB", 1 << 10}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}}

func BenchmarkWrite(b *testing.B) { benchWrite(b, benchSizes, false) }

// BenchmarkWriteStamped is BenchmarkWrite with a publish timestamp (one
// clock read per write).
func BenchmarkWriteStamped(b *testing.B) { benchWrite(b, benchSizes[:2], true) }

func benchWrite(b *testing.B, sizes []benchSize, stamp bool) {
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			w, _, _ := newPair(b, s.n, stamp)
			p := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				w.Write(p)
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			w, r, _ := newPair(b, s.n, false)
			w.Write(make([]byte, s.n))
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				r.Read(buf)
			}
		})
	}
}

// BenchmarkReadParallel: readers on every P at once, no writer. Readers
// never store to the region, so they scale.
func BenchmarkReadParallel(b *testing.B) {
	for _, s := range benchSizes[1:4] {
		b.Run(s.name, func(b *testing.B) {
			w, r, _ := newPair(b, s.n, false)
			w.Write(make([]byte, s.n))
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, s.n)
				for pb.Next() {
					r.Read(buf)
				}
			})
		})
	}
}

// BenchmarkReadUnderWrite: one reader while a writer goroutine publishes
// continuously (needs two CPUs to mean anything).
func BenchmarkReadUnderWrite(b *testing.B) {
	for _, s := range benchSizes[1:4] {
		b.Run(s.name, func(b *testing.B) {
			w, r, _ := newPair(b, s.n, false)
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				p := make([]byte, s.n)
				for !stop.Load() {
					w.Write(p)
				}
			})
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				r.Read(buf)
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}

type pose struct{ X, Y, Z, Roll, Pitch, Yaw float64 }

func BenchmarkTyped(b *testing.B) {
	region := seqlock.MakeRegion(48)
	w, _ := seqlock.NewTypedWriter[pose](region, &seqlock.WriterOptions{NoTimestamp: true})
	r, _ := seqlock.NewTypedReader[pose](region)
	v := pose{1, 2, 3, 4, 5, 6}
	b.Run("Write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Write(v)
		}
	})
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Read()
		}
	})
}
