package seqlock_test

import (
	"fmt"
	"os"
	"testing"
	"unsafe"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// BenchmarkSchemaRead compares reading a struct segment made with
// Options.Schema (a schema.Parse'd description, read as bytes) with the
// typed Read of a segment made with CreateTyped of the same Go struct
// (imuSample, 56 bytes): through the Subscriber (fault-protected) and
// through its Reader (the hot-loop path). docs/benchmarks.md has the
// numbers.
func BenchmarkSchemaRead(b *testing.B) {
	sc, err := schema.For[imuSample]()
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := schema.Parse(sc.String())
	if err != nil || !parsed.Equal(sc) {
		b.Fatalf("schema.Parse(%q) = %v, %v; want the struct's schema", sc.String(), parsed, err)
	}
	prefix := fmt.Sprintf("bench-schema-%d", os.Getpid())
	pub, err := seqlock.Create(prefix+"-parsed", &seqlock.Options{Schema: parsed, NoTimestamp: true})
	if err != nil {
		b.Fatal(err)
	}
	defer seqlock.Remove(prefix + "-parsed")
	defer pub.Close()
	tpub, err := seqlock.CreateTyped[imuSample](prefix+"-typed", &seqlock.Options{NoTimestamp: true})
	if err != nil {
		b.Fatal(err)
	}
	defer seqlock.Remove(prefix + "-typed")
	defer tpub.Close()
	v := imuSample{Accel: [3]float64{0.01, -0.02, 9.81}, Temp: 21.5, Status: 3}
	if _, err := tpub.Publish(v); err != nil {
		b.Fatal(err)
	}
	if _, err := pub.Publish(make([]byte, sc.Size())); err != nil {
		b.Fatal(err)
	}
	sub, err := seqlock.Open(prefix+"-parsed", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	tsub, err := seqlock.OpenTyped[imuSample](prefix+"-typed", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tsub.Close()
	buf := make([]byte, sc.Size())
	var sink imuSample
	b.Run("Subscriber/schema", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sub.Read(buf)
		}
	})
	b.Run("Subscriber/typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _, _ = tsub.Read()
		}
	})
	r, tr := sub.Reader(), tsub.Reader()
	b.Run("Reader/schema", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Read(buf)
		}
	})
	b.Run("Reader/typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _, _ = tr.Read()
		}
	})
	_ = sink
}

type (
	words6 struct{ A [6]uint64 }
	words7 struct{ A [7]uint64 }
	words8 struct{ A [8]uint64 }
)

// BenchmarkTypedReadSize: TypedReader.Read beside Reader.Read of the same
// bytes, for 48-, 56- and 64-byte structs on regions in ordinary memory:
// how much of the typed Read's cost is the value's size.
func BenchmarkTypedReadSize(b *testing.B) {
	b.Run("48B", benchTypedRead[words6])
	b.Run("56B", benchTypedRead[words7])
	b.Run("64B", benchTypedRead[words8])
}

func benchTypedRead[T any](b *testing.B) {
	var zero T
	region := seqlock.MakeRegion(int(unsafe.Sizeof(zero)))
	w, err := seqlock.NewTypedWriter[T](region, &seqlock.WriterOptions{NoTimestamp: true})
	if err != nil {
		b.Fatal(err)
	}
	w.Write(zero)
	tr, err := seqlock.NewTypedReader[T](region)
	if err != nil {
		b.Fatal(err)
	}
	r := tr.Reader()
	buf := make([]byte, unsafe.Sizeof(zero))
	var sink T
	b.Run("bytes", func(b *testing.B) {
		for b.Loop() {
			r.Read(buf)
		}
	})
	b.Run("typed", func(b *testing.B) {
		for b.Loop() {
			sink, _, _ = tr.Read()
		}
	})
	_ = sink
}
