package seqlock_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/seqlock"
)

// guarded returns a page of memory with an inaccessible page on each side:
// a byte read or written before its start or past its end faults, and the
// test dies with SIGSEGV instead of passing.
func guarded(t *testing.T) []byte {
	t.Helper()
	ps := os.Getpagesize()
	m, err := unix.Mmap(-1, 0, 3*ps, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	page := m[ps : 2*ps]
	if err := unix.Mprotect(page, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	return page
}

// TestCopyStaysInBounds writes and reads every length up to the capacity
// from and into buffers that start right after, or end right before, an
// inaccessible page (capacities 256, the largest slot of the amd64
// assembly, 17 and 300, which takes the Go paths), and checks that a read
// changes nothing in the caller's buffer past the value.
func TestCopyStaysInBounds(t *testing.T) {
	for _, capacity := range []int{17, 256, 300} {
		region := seqlock.MakeRegion(capacity)
		w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := seqlock.NewReader(region)
		if err != nil {
			t.Fatal(err)
		}
		src, dst := guarded(t), guarded(t)
		end := len(src)
		for n := 0; n <= capacity; n++ {
			for _, at := range []int{0, end - n} { // after the leading guard, before the trailing one
				p := src[at : at+n]
				for i := range p {
					p[i] = byte(n*7 + i + 1)
				}
				if _, err := w.Write(p); err != nil {
					t.Fatalf("capacity %d: Write of %d bytes at offset %d: %v", capacity, n, at, err)
				}
				for i := range dst {
					dst[i] = 0xAA
				}
				buf := dst[at : at+n]
				m, err := r.Read(buf)
				if err != nil || m.Len != n || !bytes.Equal(buf, p) {
					t.Fatalf("capacity %d: Read of %d bytes at offset %d = %+v, %v, %x; want %x", capacity, n, at, m, err, buf, p)
				}
				if at == 0 && !bytes.Equal(dst[n:n+32], bytes.Repeat([]byte{0xAA}, 32)) {
					t.Fatalf("capacity %d: Read of %d bytes wrote past the value: %x", capacity, n, dst[n:n+32])
				}
			}
		}
	}
}

// A closed Writer refuses to write even when a hostile process has stored
// the counter value it is left expecting.
func TestClosedWriterRefusesForgedCounter(t *testing.T) {
	for _, capacity := range []int{64, 4096} {
		region := seqlock.MakeRegion(capacity)
		w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: true})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("v"))
		w.Close()
		const offSeq = 128 // docs/layout.md
		for i := range 8 {
			region[offSeq+i] = 0xFF
		}
		if n, err := w.Write([]byte("after close")); !errors.Is(err, seqlock.ErrClosed) {
			t.Errorf("capacity %d: Write after Close with the counter at 2^64-1 = %d, %v; want ErrClosed", capacity, n, err)
		}
	}
}
