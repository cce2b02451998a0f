package seqlock_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seqshm/seqshm/seqlock"
)

func newPair(t testing.TB, capacity int, stamp bool) (*seqlock.Writer, *seqlock.Reader, []byte) {
	t.Helper()
	region := seqlock.MakeRegion(capacity)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: !stamp})
	if err != nil {
		t.Fatalf("NewWriter(capacity %d) = %v", capacity, err)
	}
	r, err := seqlock.NewReader(region)
	if err != nil {
		t.Fatalf("NewReader = %v", err)
	}
	return w, r, region
}

func TestWriteRead(t *testing.T) {
	const capacity = 200
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 199, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			w, r, _ := newPair(t, capacity, true)
			want := bytes.Repeat([]byte{byte(n)}, n)
			for i := range want {
				want[i] += byte(i)
			}
			// Twice, so that two different slots are used.
			for k := uint64(1); k <= 2; k++ {
				seq, err := w.Write(want)
				if err != nil || seq != k {
					t.Fatalf("Write(%d bytes) = %d, %v, want %d, nil", n, seq, err, k)
				}
				buf := make([]byte, capacity)
				m, err := r.Read(buf)
				if err != nil {
					t.Fatalf("Read = %v", err)
				}
				if m.Seq != k || m.Len != n || m.UnixNano == 0 {
					t.Errorf("Read meta = %+v, want Seq %d, Len %d, a publish time", m, k, n)
				}
				if diff := cmp.Diff(want, buf[:m.Len]); diff != "" {
					t.Errorf("Read value mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNoValueYet(t *testing.T) {
	_, r, _ := newPair(t, 16, false)
	if m, err := r.Read(make([]byte, 16)); !errors.Is(err, seqlock.ErrNoValue) {
		t.Errorf("Read before any write = %+v, %v, want ErrNoValue", m, err)
	}
	if got := r.Seq(); got != 0 {
		t.Errorf("Seq() = %d, want 0", got)
	}
}

func TestUnstampedHasNoTime(t *testing.T) {
	w, r, _ := newPair(t, 16, false)
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	m, err := r.Read(make([]byte, 16))
	if err != nil || m.UnixNano != 0 || !m.Time().IsZero() {
		t.Errorf("Read = %+v, %v, want no publish time", m, err)
	}
	if _, err := w.WriteAt([]byte("y"), time.Unix(0, 12345)); err != nil {
		t.Fatal(err)
	}
	if m, _ := r.Read(make([]byte, 16)); m.UnixNano != 12345 {
		t.Errorf("after WriteAt(12345) Read = %+v, want UnixNano 12345", m)
	}
}

func TestMisuse(t *testing.T) {
	w, r, region := newPair(t, 16, false)
	if _, err := w.Write(make([]byte, 17)); !errors.Is(err, seqlock.ErrTooLarge) {
		t.Errorf("Write(17 bytes into 16) = %v, want ErrTooLarge", err)
	}
	if _, err := w.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	m, err := r.Read(make([]byte, 4))
	if !errors.Is(err, seqlock.ErrShortBuffer) || m.Len != 10 {
		t.Errorf("Read(4-byte buffer) = %+v, %v, want Len 10, ErrShortBuffer", m, err)
	}
	// A second writer on the same region: adopting works, but then the two
	// detect each other instead of tearing values.
	w2, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: 16, NoTimestamp: true})
	if err != nil {
		t.Fatalf("second NewWriter = %v", err)
	}
	if _, err := w2.Write([]byte("second")); err != nil {
		t.Fatalf("second writer Write = %v", err)
	}
	if _, err := w.Write([]byte("first")); !errors.Is(err, seqlock.ErrConcurrentWrite) {
		t.Errorf("first writer Write after a second wrote = %v, want ErrConcurrentWrite", err)
	}
	buf := make([]byte, 16)
	if m, err := r.Read(buf); err != nil || string(buf[:m.Len]) != "second" {
		t.Errorf("Read = %q, %v, want \"second\"", buf[:m.Len], err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Write([]byte("late")); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestAdoptChecksCompatibility(t *testing.T) {
	_, _, region := newPair(t, 64, false)
	tests := []struct {
		name string
		opts seqlock.WriterOptions
		want error
	}{
		{"same", seqlock.WriterOptions{Capacity: 64}, nil},
		{"any capacity", seqlock.WriterOptions{}, nil},
		{"other capacity", seqlock.WriterOptions{Capacity: 65}, seqlock.ErrIncompatible},
		{"other type", seqlock.WriterOptions{Capacity: 64, Fingerprint: 7}, seqlock.ErrIncompatible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seqlock.NewWriter(region, &tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("NewWriter(%+v) = %v, want %v", tt.opts, err, tt.want)
			}
		})
	}
}

func TestNewWriterRejects(t *testing.T) {
	garbage := seqlock.MakeRegion(64)
	copy(garbage, "not a segment")
	tests := []struct {
		name   string
		region []byte
		opts   seqlock.WriterOptions
		want   error
	}{
		{"garbage", garbage, seqlock.WriterOptions{Capacity: 64}, seqlock.ErrNotSeqshm},
		{"misaligned", seqlock.MakeRegion(64)[1:], seqlock.WriterOptions{Capacity: 64}, seqlock.ErrMisaligned},
		{"tiny", seqlock.MakeRegion(64)[:100], seqlock.WriterOptions{Capacity: 64}, seqlock.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := seqlock.NewWriter(tt.region, &tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("NewWriter = %v, want %v", err, tt.want)
			}
		})
	}
	for _, c := range []int{0, -1} {
		if _, err := seqlock.NewWriter(seqlock.MakeRegion(8), &seqlock.WriterOptions{Capacity: c, NoTimestamp: true}); err == nil {
			t.Errorf("NewWriter(capacity %d) = nil error, want one", c)
		}
	}
	if _, err := seqlock.NewWriter(seqlock.MakeRegion(8), &seqlock.WriterOptions{Capacity: 1 << 20, NoTimestamp: true}); err == nil {
		t.Errorf("NewWriter(capacity 1 MiB in a region for 8 bytes) = nil error, want one")
	}
}

func TestReadAllocs(t *testing.T) {
	w, r, _ := newPair(t, 4096, false)
	p := make([]byte, 4096)
	buf := make([]byte, 4096)
	if a := testing.AllocsPerRun(100, func() { w.Write(p) }); a != 0 {
		t.Errorf("Write allocates %v times, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { r.Read(buf) }); a != 0 {
		t.Errorf("Read allocates %v times, want 0", a)
	}
	type pose struct{ X, Y, Z float64 }
	region := seqlock.MakeRegion(24)
	tw, err := seqlock.NewTypedWriter[pose](region, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := seqlock.NewTypedReader[pose](region)
	if err != nil {
		t.Fatal(err)
	}
	v := pose{1, 2, 3}
	if a := testing.AllocsPerRun(100, func() { tw.Write(v) }); a != 0 {
		t.Errorf("TypedWriter.Write allocates %v times, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { tr.Read() }); a != 0 {
		t.Errorf("TypedReader.Read allocates %v times, want 0", a)
	}
}

// TestEverySize round-trips every length from 0 to 300 bytes through
// regions of capacity 256 (assembly paths on amd64) and 300 (Go paths), and
// checks that Read writes nothing past the value in the caller's buffer.
func TestEverySize(t *testing.T) {
	for _, capacity := range []int{256, 300} {
		w, r, _ := newPair(t, capacity, false)
		for n := 0; n <= capacity; n++ {
			want := make([]byte, n)
			for i := range want {
				want[i] = byte(n*31 + i*7 + 1)
			}
			if _, err := w.Write(want); err != nil {
				t.Fatalf("capacity %d: Write(%d bytes) = %v", capacity, n, err)
			}
			buf := bytes.Repeat([]byte{0xAA}, n+32)
			m, err := r.Read(buf[:n])
			if err != nil || m.Len != n {
				t.Fatalf("capacity %d: Read into %d bytes = %+v, %v", capacity, n, m, err)
			}
			if !bytes.Equal(buf[:n], want) {
				t.Errorf("capacity %d: Read of %d bytes = %x, want %x", capacity, n, buf[:n], want)
			}
			if !bytes.Equal(buf[n:], bytes.Repeat([]byte{0xAA}, 32)) {
				t.Errorf("capacity %d: Read of %d bytes wrote past the value: %x", capacity, n, buf[n:])
			}
			if n > 0 {
				if m, err := r.Read(buf[:n-1]); !errors.Is(err, seqlock.ErrShortBuffer) || m.Len != n {
					t.Errorf("capacity %d: Read of %d bytes into %d = %+v, %v, want ErrShortBuffer", capacity, n, n-1, m, err)
				}
			}
		}
	}
}

// Two Writers on one region detect each other however many writes the
// second made first: each write checks the word of the slot it fills, so
// the first writer's next write, into a slot the second has written, is
// refused, and the second's values stay readable.
func TestSecondWriterDetected(t *testing.T) {
	for k := 1; k <= 10; k++ {
		region := seqlock.MakeRegion(16)
		w1, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: 16})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := w1.Write([]byte("one")); err != nil {
				t.Fatal(err)
			}
		}
		w2, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: 16})
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for i := range k {
			if last, err = w2.Write([]byte{'t', 'w', 'o', byte('0' + i)}); err != nil {
				t.Fatalf("k=%d: second writer's write %d = %v", k, i, err)
			}
		}
		if n, err := w1.Write([]byte("late")); !errors.Is(err, seqlock.ErrConcurrentWrite) {
			t.Errorf("k=%d: first writer after %d writes of the second = %d, %v, want ErrConcurrentWrite", k, k, n, err)
		}
		r, err := seqlock.NewReader(region)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		if m, err := r.Read(buf); err != nil || m.Seq != last || string(buf[:m.Len]) != string([]byte{'t', 'w', 'o', byte('0' + k - 1)}) {
			t.Errorf("k=%d: Read = %q (write %d), %v, want the second writer's last value (write %d)", k, buf[:m.Len], m.Seq, err, last)
		}
	}
}
