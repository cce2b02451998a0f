//go:build unix

package reliability_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// offSeq is the byte offset of the sequence counter in a segment (layout
// version 2, docs/layout.md): 2n-1 while write n is in progress, 2n once it
// is complete.
const offSeq = 128

// within runs f, failing the test if it has not returned after d: no
// reader call may hang because a writer died.
func within[T any](t testing.TB, d time.Duration, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s still running after %v: it hangs", what, d)
	}
	var zero T
	return zero
}

// TestCrashTorture kills a publisher of 16 MiB values (one write takes
// milliseconds) with SIGKILL at random instants, again and again, many of
// them in the middle of a write, while another process reads and verifies
// values throughout. After every kill:
//   - Stat says the writer died, and reading never hangs;
//   - the value read verifies and is the newest complete write, counter/2,
//     which is the last write the killed publisher announced (or the one it
//     completed just before it could announce it);
//   - the next publisher (a new process, seqlock.Create) takes over, and its
//     first write number is the interrupted one if the kill was mid-write
//     (counter/2 + 1 in every case).
//
// Default: 30 kills. SEQSHM_LONG=1: 300.
func TestCrashTorture(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	capacity := 16 << 20
	if raceEnabled {
		capacity = 2 << 20 // a write under -race takes ~40 ms even so
	}
	kills := 30
	if long() {
		kills = 300
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	buf := make([]byte, capacity)

	var writeTime time.Duration // how long one write takes, measured below
	// midWrite counts kills that left the counter odd and that interrupted
	// a write of the killed process itself (not one it inherited).
	var midWrite, early, takeovers, resumed int
	var reader *child
	expectFirst := uint64(1)
	var prev uint64 // the counter after the previous kill
	for i := 0; i < kills; i++ {
		w := startChild(t, "crash-writer", name, strconv.Itoa(capacity))
		var firstAnnounced uint64 // from its "first N" line, once read
		// One kill in five lands at a random instant of the new
		// publisher's start (exec, runtime start, take-over); the others
		// while it publishes.
		isEarly := i > 0 && rng.IntN(5) == 0
		if isEarly {
			early++
			time.Sleep(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
		} else {
			line := w.readLine(time.Minute)
			f := strings.Fields(line) // "first N NS": first write number, its duration
			if len(f) != 3 || f[0] != "first" {
				t.Fatalf("writer said %q, want \"first N NS\"", line)
			}
			first, _ := strconv.ParseUint(f[1], 10, 64)
			firstAnnounced = first
			if first != expectFirst {
				t.Errorf("kill %d: new publisher's first write is %d, want %d (counter/2+1 of the killed one's counter)", i, first, expectFirst)
			}
			if i > 0 {
				takeovers++
				if prev%2 == 1 && first == (prev+1)/2 {
					resumed++ // completed the interrupted write number
				}
			}
			if writeTime == 0 {
				ns, _ := strconv.ParseInt(f[2], 10, 64)
				writeTime = time.Duration(ns)
				t.Logf("one write of ~%d MiB takes %v", capacity>>20, writeTime)
			}
			if reader == nil {
				reader = startChild(t, "crash-reader", name, strconv.Itoa(capacity))
			}
			time.Sleep(time.Duration(rng.Int64N(int64(3*writeTime + time.Millisecond))))
		}
		w.kill()
		c := headerWord(t, filepath.Join(dir, name), offSeq) // the counter
		// A publisher that completed a write left the counter even
		// or moved it on; one killed during start-up may have begun
		// its first write (then the counter moved) or not.
		if c%2 == 1 && (!isEarly || c != prev) {
			midWrite++
		}
		last := c / 2
		// The "first N" line announces write N too: a publisher killed
		// between its two lines has announced N but no "done".
		announced := max(w.lastDone.Load(), firstAnnounced)
		if !isEarly && (announced > last || last-announced > 1) {
			t.Errorf("kill %d: counter %d (write %d complete), but the killed publisher announced write %d", i, c, last, announced)
		}

		st := within(t, 10*time.Second, "Stat", func() error {
			st, err := seqlock.Stat(name)
			if err != nil || st.Writer != seqlock.WriterDied || st.Seq != last {
				return fmt.Errorf("Stat = %+v, %v, want writer died, write %d", st, err, last)
			}
			return nil
		})
		if st != nil {
			t.Errorf("kill %d: %v", i, st)
		}
		if err := within(t, 10*time.Second, "Open, Read, Wait", func() error {
			sub, err := seqlock.Open(name, nil)
			if err != nil {
				return err
			}
			defer sub.Close()
			m, err := sub.Read(buf)
			if err != nil || m.Seq != last || !verify(buf[:m.Len], m.Seq) {
				return fmt.Errorf("Read = write %d (%d bytes, verifies: %v), %v; want write %d, verified",
					m.Seq, m.Len, err == nil && verify(buf[:m.Len], m.Seq), err, last)
			}
			// Nobody publishes: Wait must give up when its context does.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if n, err := sub.Wait(ctx, last); !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("Wait(after %d) with a dead writer = %d, %v, want DeadlineExceeded", last, n, err)
			}
			return nil
		}); err != nil {
			t.Errorf("kill %d (counter %d): %v", i, c, err)
		}
		expectFirst = last + 1
		prev = c
	}
	if reader == nil {
		t.Fatal("no publisher ever got to publish")
	}

	// A publisher in this process takes over last.
	pub, err := seqlock.Create(name, nil)
	if err != nil {
		t.Fatalf("Create after the last kill = %v", err)
	}
	bodies := newCrashBodies(capacity, headerWord(t, filepath.Join(dir, name), offSlotCount))
	n, err := pub.Publish(bodies.payload(expectFirst))
	if err != nil || n != expectFirst {
		t.Errorf("Publish after the last kill = %d, %v, want write %d", n, err, expectFirst)
	}
	fmt.Fprintf(reader.stdin, "until %d\n", expectFirst) // read on until it sees it
	res := reader.stop(time.Minute)
	pub.Close()
	t.Logf("%d kills: %d mid-write (counter odd), %d during start-up; %d take-overs, %d of them completing an interrupted write number; the reading process accepted %d values (%d distinct), %d torn, %d ErrLapped, %d errors",
		kills, midWrite, early, takeovers, resumed, res["reads"], res["changes"], res["torn"], res["lapped"], res["errors"])
	if res["torn"] != 0 || res["errors"] != 0 || res["back"] != 0 {
		t.Errorf("reading process: %d torn, %d errors, %d times back, want none", res["torn"], res["errors"], res["back"])
	}
	if res["maxseq"] != int64(expectFirst) {
		t.Errorf("reading process saw up to write %d, want %d (the final publisher's)", res["maxseq"], expectFirst)
	}
	if midWrite == 0 {
		t.Errorf("no kill landed mid-write in %d kills: the test did not test that", kills)
	}
}

// crashBodies makes the large payloads of the crash test cheaply, so that
// a publisher spends most of its time inside Publish: three bodies of
// random bytes, made once; write seq uses body (seq/N)%3, N the segment's
// slot count, with seq in its first 8 bytes and a CRC-32C of its first n-4
// bytes in bytes n-4..n, for a length n near the capacity chosen by seq. A
// slot holds writes n, n+N, n+2N, ... (slot n&(N-1)), of which each uses
// another body than the one before it, so a copy mixing two successive
// writes of a slot fails verify, as one mixing fill payloads does.
type crashBodies struct {
	body  [3][]byte
	slots uint64
	saved []byte // the 4 body bytes the last payload's CRC covers up
	at    []byte
}

// newCrashBodies makes the bodies for a segment of the given capacity and
// slot count.
func newCrashBodies(capacity int, slots uint64) *crashBodies {
	c := &crashBodies{saved: make([]byte, 4), slots: slots}
	for i := range c.body {
		c.body[i] = make([]byte, capacity)
		x := mix(uint64(i) + 1)
		for j := 0; j+8 <= capacity; j += 8 {
			x = x*6364136223846793005 + 1442695040888963407
			binary.LittleEndian.PutUint64(c.body[i][j:], x)
		}
	}
	return c
}

// payload returns the value of write seq; call restore once it is
// published and before the next payload.
func (c *crashBodies) payload(seq uint64) []byte {
	b := c.body[(seq/c.slots)%3]
	minLen := len(b) - len(b)/16
	n := minLen + int(mix(seq)%uint64(len(b)-minLen+1))
	binary.LittleEndian.PutUint64(b, seq)
	c.at = b[n-4 : n]
	copy(c.saved, c.at)
	binary.LittleEndian.PutUint32(c.at, crc32.Checksum(b[:n-4], castagnoli))
	return b[:n]
}

func (c *crashBodies) restore() { copy(c.at, c.saved) }

// crashWriter: NAME CAPACITY. Takes over (or creates) the segment and
// publishes large values (crashBodies) until killed, printing "first N NS" after its
// first write (N its number, NS its duration) and "done N" after each.
func crashWriter(args []string) error {
	name := args[0]
	capacity, _ := strconv.Atoi(args[1])
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity})
	if err != nil {
		return err
	}
	// The slot count, from the header's word 48 (docs/layout.md).
	slots, err := fileWord(filepath.Join(os.Getenv("SEQSHM_DIR"), name), offSlotCount)
	if err != nil || slots < 2 {
		return fmt.Errorf("slot count %d (%v)", slots, err)
	}
	bodies := newCrashBodies(capacity, slots)
	for i := 0; ; i++ {
		seq := pub.Seq() + 1
		p := bodies.payload(seq)
		start := time.Now()
		n, err := pub.Publish(p)
		d := time.Since(start)
		bodies.restore()
		if err != nil || n != seq {
			return fmt.Errorf("Publish(write %d) = %d, %v", seq, n, err)
		}
		if i == 0 {
			fmt.Printf("first %d %d\n", n, d.Nanoseconds())
		}
		fmt.Printf("done %d\n", n)
	}
}

// crashReader: NAME CAPACITY. Reads and verifies values, through the
// kills and take-overs, until stdin ends (and it has seen the write named
// by an "until N" line); then prints its counts. Each Wait is bounded.
func crashReader(args []string) error {
	name := args[0]
	capacity, _ := strconv.Atoi(args[1])
	sub, err := seqlock.Open(name, nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	// stdin: "until N" (once stdin ends, read on until write N is seen,
	// for up to 30 s), then its end.
	var stop atomic.Bool
	var until atomic.Uint64
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "until "); ok {
				v, _ := strconv.ParseUint(n, 10, 64)
				until.Store(v)
			}
		}
		stop.Store(true)
	}()
	buf := make([]byte, capacity)
	var t readTally
	var stopAt time.Time
	for {
		if stop.Load() {
			if stopAt.IsZero() {
				stopAt = time.Now()
			}
			if t.last >= until.Load() || time.Since(stopAt) > 30*time.Second {
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, werr := sub.Wait(ctx, t.last)
		cancel()
		if werr != nil && !errors.Is(werr, context.DeadlineExceeded) {
			fmt.Fprintln(os.Stderr, "Wait:", werr)
			t.errs++
		}
		m, err := sub.Read(buf)
		t.record(m, err, buf)
	}
	t.print()
	return nil
}
