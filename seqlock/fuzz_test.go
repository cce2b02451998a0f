package seqlock

import (
	"testing"
)

// FuzzReader feeds arbitrary bytes to the header decoder and, when it
// accepts them, reads from the region: nothing may panic or read outside.
func FuzzReader(f *testing.F) {
	for _, c := range []int{1, 64, 4096} {
		region := MakeRegion(c)
		w, err := NewWriter(region, &WriterOptions{Capacity: c, NoTimestamp: true})
		if err != nil {
			f.Fatal(err)
		}
		w.Write(make([]byte, c))
		f.Add(region)
		f.Add(region[:headerSize])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		region := alignedBytes(len(data), slotAlign)
		copy(region, data)
		r, err := NewReader(region)
		if err != nil {
			return
		}
		buf := make([]byte, r.Capacity())
		r.Read(buf)
		r.Read(buf[:len(buf)/2])
	})
}
