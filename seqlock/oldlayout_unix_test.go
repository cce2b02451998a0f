//go:build linux || darwin

package seqlock

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/testproc"
)

// Segments made when the waiter area was aligned to 64 KiB on every OS (as
// it still is on Windows) open, read and wake as before: a reader takes
// the waiter area's offset from the header, never from its own rule.
func TestWaiterAreaAt64KiB(t *testing.T) {
	testproc.SegDir(t)
	align := waiterAlign
	waiterAlign = 64 << 10
	p, err := Create("old-layout", &Options{Capacity: 64})
	waiterAlign = align
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Publish([]byte("first")); err != nil {
		t.Fatal(err)
	}
	s, err := Open("old-layout", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.r.g.notify; got != 64<<10 {
		t.Fatalf("waiter area at %d, want the old layout's 65536", got)
	}
	buf := make([]byte, 64)
	if m, err := s.Read(buf); err != nil || string(buf[:m.Len]) != "first" {
		t.Fatalf("Read = %q, %v; want %q", buf[:m.Len], err, "first")
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Wait(context.Background(), 1)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it sleep; the test passes either way
	if _, err := p.Publish([]byte("second")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after a publish")
	}
	if s.r.waiters == nil {
		t.Error("the subscriber polled: it did not map the waiter area at 64 KiB")
	}
	if v, _, err := s.ReadValue(nil); err != nil || !bytes.Equal(v, []byte("second")) {
		t.Errorf("ReadValue = %q, %v; want %q", v, err, "second")
	}
}
