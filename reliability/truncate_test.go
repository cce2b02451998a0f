//go:build unix

package reliability_test

import (
	"context"
	"encoding/binary"
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
// only (the counter still readable, the slots gone), and in the middle of
// the slot after the newest value's (that value spared, the next one cut).
func TestTruncatedWhileMapped(t *testing.T) {
	dir := segDir(t)
	const capacity = 64 << 10
	// The slots are found from the header's words (slotOf, and the slot
	// size), read from the file before the cut.
	slot := func(h []byte, n uint64) int64 { return int64(slotOf(h, n)) }
	slotSize := func(h []byte) int64 { return int64(get64(h, offSlotSize)) }
	cuts := []struct {
		name string
		size func(h []byte) int64
	}{
		{"to-zero", func([]byte) int64 { return 0 }},
		{"to-header-page", func([]byte) int64 { return int64(os.Getpagesize()) }},
		// Write 3's slot keeps its header (and its first page) and
		// loses the rest of its payload.
		{"mid-next-slot", func(h []byte) int64 { return slot(h, 3) + slotSize(h)/2 }},
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
			pub.Publish(fill(buf, 2, capacity)) // slots 1 and 2; the newest in slot 2
			sub, err := seqlock.Open(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			path := filepath.Join(dir, name)
			h, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := get64(h, offSlotCount); n < 4 {
				t.Fatalf("%d slots: want at least 4, for write 3 to have a slot of its own after write 2's", n)
			}
			size := c.size(h)
			if c.name == "mid-next-slot" && size < slot(h, 2)+slotSize(h) {
				t.Fatalf("the cut at %d is not after write 2's slot (%d..%d)", size, slot(h, 2), slot(h, 2)+slotSize(h))
			}
			if err := os.Truncate(path, size); err != nil {
				t.Fatal(err)
			}
			// The newest value, write 2, survives a cut in the slot
			// after it, so there Read succeeds; elsewhere its slot is
			// gone.
			m, err := sub.Read(buf)
			switch {
			case c.name == "mid-next-slot" && (err != nil || !verify(buf[:m.Len], m.Seq)):
				t.Errorf("Read of a value the cut spared = write %d, %v, want write 2, verified", m.Seq, err)
			case c.name != "mid-next-slot" && !errors.Is(err, seqlock.ErrTruncated):
				t.Errorf("Read = write %d, %v, want ErrTruncated", m.Seq, err)
			}
			if c.name != "to-zero" {
				// Write 3, complete, as a writer would leave it
				// (written through the file): its slot's word, its
				// length (the whole capacity), then the counter. The
				// reader looks at write 3's slot, which the cut took
				// (on the header page: all of it; in mid-next-slot:
				// the second half of the payload).
				s3 := slot(h, 3)
				if s3+offSlotLen+8 <= size {
					writeWord(t, path, s3+offSlotSeq, 6)
					writeWord(t, path, s3+offSlotLen, capacity)
				}
				writeWord(t, path, offSeq, 6)
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

// headerWord reads the little-endian word at off from the segment file at
// path, as a program that knows only the layout would.
func headerWord(t testing.TB, path string, off int64) uint64 {
	t.Helper()
	v, err := fileWord(path, off)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fileWord is headerWord for the helper processes, which have no test to
// fail.
func fileWord(path string, off int64) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// writeWord writes v as the little-endian word at off of the file at path.
func writeWord(t testing.TB, path string, off int64, v uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
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
