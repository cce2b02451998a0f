//go:build linux || darwin

package seqlock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// TestRemoveRacesCreate: Remove and a take-over by Create race. Whatever
// the interleaving, a Publisher that Create returns must publish into the
// segment its name refers to: a subscriber opened afterwards sees its
// values. (Before the name was checked after locking, a publisher could be
// left writing into an unlinked file, 3 times in 4000 tries.)
func TestRemoveRacesCreate(t *testing.T) {
	segDir(t)
	rounds := 4000
	if testing.Short() {
		rounds = 500
	}
	name := "race"
	for i := range rounds {
		p, err := seqlock.Create(name, &seqlock.Options{Capacity: 64})
		if err != nil {
			t.Fatal(err)
		}
		p.Publish([]byte("first"))
		p.Close()
		var (
			wg   sync.WaitGroup
			pub  *seqlock.Publisher
			cerr error
		)
		wg.Add(2)
		go func() { defer wg.Done(); seqlock.Remove(name) }()
		go func() { defer wg.Done(); pub, cerr = seqlock.Create(name, &seqlock.Options{Capacity: 64}) }()
		wg.Wait()
		if cerr != nil {
			t.Fatalf("round %d: Create racing Remove = %v", i, cerr)
		}
		value := "round " + strconv.Itoa(i)
		if _, err := pub.Publish([]byte(value)); err != nil {
			t.Fatal(err)
		}
		s, err := seqlock.Open(name, nil)
		if err != nil {
			t.Fatalf("round %d: Open after the race: %v (the publisher's file has no name)", i, err)
		}
		got, _ := readAll(t, s)
		s.Close()
		pub.Close()
		if got != value {
			t.Fatalf("round %d: subscriber reads %q, want %q: the publisher writes into a file nobody can open", i, got, value)
		}
	}
}

// TestRemovedUnderLivePublisher: a file deleted under a live Publisher is
// noticed within RemovedCheckInterval (Publish fails with ErrRemoved,
// Removed is closed), and a Wait on it returns ErrRemoved.
func TestRemovedUnderLivePublisher(t *testing.T) {
	dir := segDir(t)
	p, err := seqlock.Create("gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish([]byte("v"))
	s, err := seqlock.Open("gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waited := make(chan error, 1)
	go func() {
		_, err := s.Wait(context.Background(), 1)
		waited <- err
	}()
	if err := os.Remove(filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Removed():
	case <-time.After(10 * seqlock.RemovedCheckInterval):
		t.Fatalf("Removed not closed %v after the file was deleted", 10*seqlock.RemovedCheckInterval)
	}
	if _, err := p.Publish([]byte("w")); !errors.Is(err, seqlock.ErrRemoved) {
		t.Errorf("Publish after the removal = %v, want ErrRemoved", err)
	}
	select {
	case err := <-waited:
		if !errors.Is(err, seqlock.ErrRemoved) {
			t.Errorf("Wait on the removed segment = %v, want ErrRemoved", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait on a removed segment did not return")
	}
}

// TestReadValueLimit: ReadValue grows its buffer from the value's length,
// and refuses a value beyond OpenOptions.MaxValue.
func TestReadValueLimit(t *testing.T) {
	segDir(t)
	p, err := seqlock.Create("big", &seqlock.Options{Capacity: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	value := make([]byte, 100<<10)
	for i := range value {
		value[i] = byte(i)
	}
	p.Publish(value)
	s, err := seqlock.Open("big", &seqlock.OpenOptions{MaxValue: 200 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, m, err := s.ReadValue(make([]byte, 0, 16))
	if err != nil || string(got) != string(value) || m.Len != len(value) {
		t.Errorf("ReadValue = %d bytes, %+v, %v; want the %d-byte value", len(got), m, err, len(value))
	}
	small, err := seqlock.Open("big", &seqlock.OpenOptions{MaxValue: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, _, err := small.ReadValue(nil); !errors.Is(err, seqlock.ErrLimit) {
		t.Errorf("ReadValue beyond MaxValue = %v, want ErrLimit", err)
	}
	if _, err := seqlock.Open("big", &seqlock.OpenOptions{MaxValue: -1}); !errors.Is(err, seqlock.ErrInvalid) {
		t.Errorf("Open with MaxValue -1 = %v, want ErrInvalid", err)
	}
}

// TestOpenOwner: OpenOptions.Owner refuses a segment of another owner.
func TestOpenOwner(t *testing.T) {
	segDir(t)
	p, err := seqlock.Create("owned", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	me := strconv.Itoa(os.Geteuid())
	if s, err := seqlock.Open("owned", &seqlock.OpenOptions{Owner: me}); err != nil {
		t.Errorf("Open with Owner %s (ours) = %v", me, err)
	} else {
		s.Close()
	}
	other := strconv.Itoa(os.Geteuid() + 1)
	_, err = seqlock.Open("owned", &seqlock.OpenOptions{Owner: other})
	if !errors.Is(err, seqlock.ErrNotTrusted) {
		t.Errorf("Open with Owner %s = %v, want ErrNotTrusted", other, err)
	}
	if _, err := seqlock.Open("owned", &seqlock.OpenOptions{Owner: "no-such-user-here"}); !errors.Is(err, seqlock.ErrInvalid) {
		t.Errorf("Open with an unknown Owner = %v, want ErrInvalid", err)
	}
}

// TestAdoptOnlyOwnMode: Create refuses to adopt a segment whose mode grants
// more than Options.Mode, and its error names the mode.
func TestAdoptOnlyOwnMode(t *testing.T) {
	segDir(t)
	p, err := seqlock.Create("wide", &seqlock.Options{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	_, err = seqlock.Create("wide", nil)
	if !errors.Is(err, seqlock.ErrNotTrusted) {
		t.Errorf("Create over a 0644 segment with the default mode = %v, want ErrNotTrusted", err)
	}
	if want := `shmfile: open "wide": segment mode 0644 grants more than the 0600 asked for`; fmt.Sprint(err) != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	p, err = seqlock.Create("wide", &seqlock.Options{Mode: 0o644})
	if err != nil {
		t.Fatalf("Create with Mode 0644 = %v", err)
	}
	p.Close()
}
