package seqlock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// TestErrorsHaveOnePrefix: an error of the named layer names its package,
// operation and segment once ("seqlock: create \"x\": …" or "shmfile: open
// \"x\": …"), whatever layer it comes from, and exposes its fields.
func TestErrorsHaveOnePrefix(t *testing.T) {
	segDir(t)
	p, err := seqlock.Create("one", &seqlock.Options{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, busy := seqlock.Create("one", nil)
	_, missing := seqlock.Open("missing", nil)
	_, invalid := seqlock.Open("a/b", nil)
	_, tooLarge := seqlock.Create("big", &seqlock.Options{Capacity: seqlock.MaxCapacity + 1})
	p2, _ := seqlock.Create("two", &seqlock.Options{Capacity: 64})
	p2.Close()
	_, incompatible := seqlock.Create("two", &seqlock.Options{Capacity: 65})
	_, owner := seqlock.Open("one", &seqlock.OpenOptions{Owner: "no-such-user-here"})
	for _, err := range []error{busy, missing, invalid, tooLarge, incompatible, owner} {
		if err == nil {
			t.Fatal("an operation that must fail did not")
		}
		msg := err.Error()
		if n := strings.Count(msg, "seqlock: ") + strings.Count(msg, "shmfile: "); n != 1 {
			t.Errorf("error %q carries %d package prefixes, want 1", msg, n)
		}
		var se *seqlock.Error
		var fe *shmfile.Error
		if !errors.As(err, &se) && !errors.As(err, &fe) {
			t.Errorf("error %q is neither a *seqlock.Error nor a *shmfile.Error", msg)
		}
	}
	var be *shmfile.BusyError
	if !errors.As(busy, &be) || be.PID == 0 || !errors.Is(busy, seqlock.ErrBusy) {
		t.Errorf("busy error %v: want a *shmfile.BusyError with the holder's pid, wrapping ErrBusy", busy)
	}
}
