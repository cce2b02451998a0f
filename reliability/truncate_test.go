//go:build unix

package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// TestTruncatedWhileMapped: another program shrinks a segment's file while
// a Subscriber has it mapped. Touching the vanished pages faults (SIGBUS);
// every Subscriber method turns that into an error wrapping ErrTruncated
// (or a zero), and the process lives on. Cut to nothing, to the header page
// only (the counter still readable, the slots gone), and mid-slot.
func TestTruncatedWhileMapped(t *testing.T) {
	dir := segDir(t)
	const capacity = 64 << 10
	cuts := []struct {
		name string
		size func(total int64) int64
	}{
		{"to-zero", func(int64) int64 { return 0 }},
		{"to-header-page", func(int64) int64 { return int64(os.Getpagesize()) }},
		{"mid-slot-1", func(total int64) int64 { return total / 2 }},
	}
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			name := uniqueName(t)
			pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity})
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, capacity)
			pub.Publish(fill(buf, 1, capacity))
			pub.Publish(fill(buf, 2, capacity)) // slot 0, then the newest in slot 0
			sub, err := seqlock.Open(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			path := filepath.Join(dir, name)
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, c.size(fi.Size())); err != nil {
				t.Fatal(err)
			}
			// The newest value, write 2, sits in slot 0 (offset 256): it
			// survives a cut mid-slot 1, so there Read succeeds; after the
			// cut, a new counter (written through the file) makes the
			// reader look at slot 1, which is gone.
			m, err := sub.Read(buf)
			switch {
			case c.name == "mid-slot-1" && (err != nil || !verify(buf[:m.Len], m.Seq)):
				t.Errorf("Read of a value the cut spared = write %d, %v, want write 2, verified", m.Seq, err)
			case c.name != "mid-slot-1" && !errors.Is(err, seqlock.ErrTruncated):
				t.Errorf("Read = write %d, %v, want ErrTruncated", m.Seq, err)
			}
			if c.name != "to-zero" {
				f, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteAt([]byte{6, 0, 0, 0, 0, 0, 0, 0}, offSeq) // write 3 complete: slot 1
				f.Close()
				if m, err := sub.Read(buf); !errors.Is(err, seqlock.ErrTruncated) {
					t.Errorf("Read of a slot cut away = write %d, %v, want ErrTruncated", m.Seq, err)
				}
			} else {
				if _, err := sub.Stat(); !errors.Is(err, seqlock.ErrTruncated) {
					t.Errorf("Status = %v, want ErrTruncated", err)
				}
				if n := sub.Seq(); n != 0 {
					t.Errorf("Seq = %d, want 0", n)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := sub.Wait(ctx, 2); !errors.Is(err, seqlock.ErrTruncated) {
					t.Errorf("Wait = %v, want ErrTruncated", err)
				}
			}
			// Publisher.Close is fault-protected too: an error, no crash.
			if err := pub.Close(); c.name == "to-zero" && !errors.Is(err, seqlock.ErrTruncated) {
				t.Errorf("Publisher.Close = %v, want ErrTruncated", err)
			}
		})
	}
}

// TestSubscriberBinaryTruncated: subscriber -follow, sleeping in Wait on a
// segment that another program then truncates, exits with status 1 and a
// one-line message, not a crash.
func TestSubscriberBinaryTruncated(t *testing.T) {
	bin := binaries(t)
	dir := segDir(t)
	name := uniqueName(t)
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish([]byte("before the cut"))
	sub := startCmd(t, subscriberCmd(bin, "-follow", name))
	if line := sub.readLine(30 * time.Second); line != "before the cut" {
		t.Fatalf("subscriber -follow printed %q, want \"before the cut\"", line)
	}
	time.Sleep(50 * time.Millisecond) // let it go to sleep in Wait
	if err := os.Truncate(filepath.Join(dir, name), 0); err != nil {
		t.Fatal(err)
	}
	sub.wait(30 * time.Second)
	var ee interface{ ExitCode() int }
	if !errors.As(sub.err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("subscriber -follow on a truncated segment: %v, want exit status 1; stderr:\n%s", sub.err, sub.stderr.String())
	}
	stderr := sub.stderr.String()
	checkOneLine(t, "subscriber -follow", "subscriber", name, stderr)
	if !strings.Contains(stderr, "truncated") {
		t.Errorf("stderr %q does not say the segment was truncated", stderr)
	}
}

// TestPublisherTruncatedUnderIt: a publisher whose segment another
// program truncates should get an error from Publish (ErrTruncated), as
// Create, Close and every Subscriber method do, not die of SIGBUS with a
// Go stack dump (which is what the publisher binary prints too).
func TestPublisherTruncatedUnderIt(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	c := startChild(t, "truncated-publisher", name)
	if line := c.readLine(30 * time.Second); line != "ready" {
		t.Fatalf("publisher said %q, want ready", line)
	}
	if err := os.Truncate(filepath.Join(dir, name), 0); err != nil {
		t.Fatal(err)
	}
	res := c.stop(30 * time.Second) // fails the test if the child crashed
	if res["truncated"] != 1 {
		t.Errorf("Publish on a truncated segment: %v, want an error wrapping ErrTruncated", res)
	}
}

// truncatedPublisher: NAME. Publishes, prints "ready", waits for stdin to
// end (the parent truncates the segment meanwhile), publishes again and
// prints whether that failed with ErrTruncated.
func truncatedPublisher(args []string) error {
	pub, err := seqlock.Create(args[0], &seqlock.Options{Capacity: 64})
	if err != nil {
		return err
	}
	pub.Publish([]byte("before"))
	fmt.Println("ready")
	stop := stopOnEOF()
	for !stop.Load() {
		time.Sleep(time.Millisecond)
	}
	_, err = pub.Publish([]byte("after"))
	truncated := 0
	if errors.Is(err, seqlock.ErrTruncated) {
		truncated = 1
	}
	fmt.Printf("truncated=%d\n", truncated)
	pub.Close()
	return nil
}
