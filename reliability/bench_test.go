//go:build unix

package reliability_test

import (
	"fmt"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
)

// BenchmarkReadFaultProtection measures what the fault protection of
// Subscriber.Read costs: Subscriber.Read is Reader.Read wrapped in
// debug.SetPanicOnFault and a deferred recover. Three readers of a value
// of the same size:
//
//	Reader-heap     seqlock.Reader on a MakeRegion region (Go heap)
//	Reader-mapped   Subscriber.Reader(): the Reader on the segment's
//	                read-only mapping, without the protection
//	Subscriber      Subscriber.Read on the same segment
//
// Subscriber against Reader-mapped is the cost of the protection alone;
// Reader-heap shows that the memory itself makes no difference.
func BenchmarkReadFaultProtection(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"4KiB", 4 << 10}} {
		value := make([]byte, size.n)
		buf := make([]byte, size.n)

		region := seqlock.MakeRegion(size.n)
		w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: size.n, NoTimestamp: true})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(value)
		heap, err := seqlock.NewReader(region)
		if err != nil {
			b.Fatal(err)
		}

		segDir(b)
		name := uniqueName(b)
		pub, err := seqlock.Create(name, &seqlock.Options{Capacity: size.n})
		if err != nil {
			b.Fatal(err)
		}
		pub.Publish(value)
		sub, err := seqlock.Open(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		mapped := sub.Reader() // the same mapping, without the protection

		read := map[string]func([]byte) (seqlock.Meta, error){
			"Reader-heap":   heap.Read,
			"Reader-mapped": mapped.Read,
			"Subscriber":    sub.Read,
		}
		for _, kind := range []string{"Reader-heap", "Reader-mapped", "Subscriber"} {
			b.Run(fmt.Sprintf("%s/%s", kind, size.name), func(b *testing.B) {
				r := read[kind]
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		sub.Close()
		pub.Close()
	}
}
