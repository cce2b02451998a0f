package seqlock_test

import (
	"fmt"

	"github.com/seqshm/seqshm/seqlock"
)

// The protocol runs on any byte region; here, one in this process.
func ExampleWriter() {
	region := seqlock.MakeRegion(64)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: 64, NoTimestamp: true})
	if err != nil {
		panic(err)
	}
	r, err := seqlock.NewReader(region)
	if err != nil {
		panic(err)
	}
	w.Write([]byte("first"))
	w.Write([]byte("second")) // readers see the newest complete value

	buf := make([]byte, r.Capacity())
	m, err := r.Read(buf)
	fmt.Printf("%s (write %d), %v\n", buf[:m.Len], m.Seq, err)
	// Output: second (write 2), <nil>
}

// Typed values: a pointer-free struct is copied as bytes, and the reader
// checks that the writer used the same layout.
func ExampleTypedWriter() {
	type Pose struct{ X, Y, Yaw float64 }
	region := seqlock.MakeRegion(24)
	w, _ := seqlock.NewTypedWriter[Pose](region, &seqlock.WriterOptions{NoTimestamp: true})
	r, _ := seqlock.NewTypedReader[Pose](region)

	w.Write(Pose{X: 1.5, Y: -2, Yaw: 0.25})
	p, m, _ := r.Read()
	fmt.Printf("%+v write %d\n", p, m.Seq)

	_, err := seqlock.NewTypedReader[[3]float32](region)
	fmt.Println(err != nil)
	// Output:
	// {X:1.5 Y:-2 Yaw:0.25} write 1
	// true
}
