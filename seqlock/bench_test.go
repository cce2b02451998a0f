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

func benchPair(b *testing.B, n int, stamp bool) (*seqlock.Writer, *seqlock.Reader) {
	region := seqlock.MakeRegion(n)
	w, err := seqlock.NewWriter(region, seqlock.WriterOptions{Capacity: n, Timestamp: stamp})
	if err != nil {
		b.Fatal(err)
	}
	r, err := seqlock.NewReader(region)
	if err != nil {
		b.Fatal(err)
	}
	return w, r
}

func BenchmarkWrite(b *testing.B) { benchWrite(b, benchSizes, false) }

// BenchmarkWriteStamped is BenchmarkWrite with a publish timestamp (one
// clock read per write).
func BenchmarkWriteStamped(b *testing.B) { benchWrite(b, benchSizes[:2], true) }

func benchWrite(b *testing.B, sizes []benchSize, stamp bool) {
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			w, _ := benchPair(b, s.n, stamp)
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
			w, r := benchPair(b, s.n, false)
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
			w, r := benchPair(b, s.n, false)
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
			w, r := benchPair(b, s.n, false)
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
	w, _ := seqlock.NewTypedWriter[pose](region, false)
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

// Reference points measured in the same run: a mutex-guarded copy and an
// atomic.Pointer swap, the two in-process alternatives.
func BenchmarkBaseline(b *testing.B) {
	for _, s := range benchSizes[1:4] {
		b.Run("RWMutexRead/"+s.name, func(b *testing.B) {
			var mu sync.RWMutex
			src := make([]byte, s.n)
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			for b.Loop() {
				mu.RLock()
				copy(buf, src)
				mu.RUnlock()
			}
		})
		b.Run("AtomicPointerRead/"+s.name, func(b *testing.B) {
			var p atomic.Pointer[[]byte]
			src := make([]byte, s.n)
			p.Store(&src)
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			for b.Loop() {
				copy(buf, *p.Load())
			}
		})
		b.Run("memmove/"+s.name, func(b *testing.B) {
			src := make([]byte, s.n)
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			for b.Loop() {
				copy(buf, src)
			}
		})
	}
}
