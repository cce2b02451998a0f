package seqlock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/seqshm/seqshm/seqlock"
)

type imu struct {
	Accel, Gyro [3]float64
	Stamp       uint64
	Valid       bool
}

func TestTypedRoundTrip(t *testing.T) {
	region := seqlock.MakeRegion(64)
	w, err := seqlock.NewTypedWriter[imu](region, &seqlock.WriterOptions{NoTimestamp: true})
	if err != nil {
		t.Fatalf("NewTypedWriter[imu] = %v", err)
	}
	r, err := seqlock.NewTypedReader[imu](region)
	if err != nil {
		t.Fatalf("NewTypedReader[imu] = %v", err)
	}
	want := imu{Accel: [3]float64{0, 0, 9.81}, Gyro: [3]float64{0.1, 0.2, 0.3}, Stamp: 42, Valid: true}
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	got, _, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func TestTypedRejectsTypes(t *testing.T) {
	check := func(name string, err error, field string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Fingerprint[%s]() = %v, want an error naming %q", name, err, field)
		}
	}
	_, err := seqlock.Fingerprint[struct{ P *int }]()
	check("pointer", err, ".P")
	_, err = seqlock.Fingerprint[struct{ S []byte }]()
	check("slice", err, ".S")
	_, err = seqlock.Fingerprint[struct{ S string }]()
	check("string", err, ".S")
	_, err = seqlock.Fingerprint[struct{ M map[int]int }]()
	check("map", err, ".M")
	_, err = seqlock.Fingerprint[[2]struct{ I any }]()
	check("interface in array", err, "[].I")
	_, err = seqlock.Fingerprint[struct{ U uintptr }]()
	check("uintptr", err, ".U")
	_, err = seqlock.Fingerprint[struct{}]()
	check("empty", err, "size 0")
	if _, err := seqlock.NewTypedWriter[struct{ C chan int }](seqlock.MakeRegion(8), &seqlock.WriterOptions{NoTimestamp: true}); err == nil {
		t.Errorf("NewTypedWriter[struct{C chan int}] = nil error, want one")
	}
}

func TestFingerprintDistinguishesLayouts(t *testing.T) {
	type a struct{ X, Y float64 }
	type b struct{ X, Y float64 } // same layout and names: same fingerprint
	type c struct{ Y, X float64 } // names swapped
	type d struct{ X, Y float32 }
	fa, _ := seqlock.Fingerprint[a]()
	fb, _ := seqlock.Fingerprint[b]()
	fc, _ := seqlock.Fingerprint[c]()
	fd, _ := seqlock.Fingerprint[d]()
	if fa != fb {
		t.Errorf("Fingerprint of identical layouts = %#x, %#x, want equal", fa, fb)
	}
	if fa == fc || fa == fd || fc == fd || fa == 0 {
		t.Errorf("Fingerprints %#x %#x %#x should differ and be non-zero", fa, fc, fd)
	}
}

func TestTypedMismatch(t *testing.T) {
	region := seqlock.MakeRegion(64)
	if _, err := seqlock.NewTypedWriter[imu](region, &seqlock.WriterOptions{NoTimestamp: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := seqlock.NewTypedReader[[7]uint64](region); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("NewTypedReader[[7]uint64] on an imu region = %v, want ErrTypeMismatch", err)
	}
	// A raw reader may read any segment's bytes.
	if _, err := seqlock.NewReader(region); err != nil {
		t.Errorf("NewReader on a typed region = %v, want nil", err)
	}
	// A typed writer of another type may not adopt it.
	if _, err := seqlock.NewTypedWriter[[7]uint64](region, nil); !errors.Is(err, seqlock.ErrIncompatible) {
		t.Errorf("NewTypedWriter[[7]uint64] on an imu region = %v, want ErrIncompatible", err)
	}
}

func TestTypedShortValue(t *testing.T) {
	region := seqlock.MakeRegion(64)
	w, err := seqlock.NewTypedWriter[imu](region, &seqlock.WriterOptions{NoTimestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Writer().Write([]byte{1, 2, 3}) // through the byte Writer: too short
	r, _ := seqlock.NewTypedReader[imu](region)
	if _, m, err := r.Read(); !errors.Is(err, seqlock.ErrCorrupt) {
		t.Errorf("typed Read of a 3-byte value = %+v, %v, want ErrCorrupt", m, err)
	}
}
