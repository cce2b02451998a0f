//go:build unix

package reliability_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// TestCrossProcessNoTornReads: one process publishes checksummed values of
// varying length (12 bytes to 4 KiB) as fast as it can; several reader
// processes verify every value they accept. Not one may be torn, and the
// write numbers each reader sees may never go back.
//
// Default: a few seconds. SEQSHM_LONG=1: 10^8 reads in total.
func TestCrossProcessNoTornReads(t *testing.T) {
	segDir(t)
	name := uniqueName(t)
	const capacity = 4096
	readers := 3
	seconds, perReader := 3, int64(0)
	if long() {
		readers = 4
		seconds, perReader = 3600, 100_000_000/int64(readers)
	}
	w := startChild(t, "torn-writer", name, strconv.Itoa(capacity))
	if line := w.readLine(30 * time.Second); line != "ready" {
		t.Fatalf("writer said %q, want ready", line)
	}
	start := time.Now()
	rs := make([]*child, readers)
	for i := range rs {
		rs[i] = startChild(t, "torn-reader", name, strconv.Itoa(capacity), strconv.FormatInt(perReader, 10), strconv.Itoa(seconds))
	}
	var total map[string]int64 = map[string]int64{}
	for i, r := range rs {
		res := r.stop(time.Duration(seconds)*time.Second + 2*time.Minute)
		t.Logf("reader %d: %v", i, res)
		for k, v := range res {
			if k == "maxseq" {
				total[k] = max(total[k], v)
			} else {
				total[k] += v
			}
		}
		if perReader > 0 && res["reads"] < perReader {
			t.Errorf("reader %d: %d reads, want %d", i, res["reads"], perReader)
		}
	}
	elapsed := time.Since(start)
	wres := w.stop(time.Minute)
	t.Logf("%d readers, %v: writer published %d values (%.0f/s); readers accepted %d values (%.0f/s), %d torn, %d distinct write numbers seen, %d ErrLapped, %d errors",
		readers, elapsed.Round(time.Millisecond), wres["writes"], float64(wres["writes"])/elapsed.Seconds(),
		total["reads"], float64(total["reads"])/elapsed.Seconds(), total["torn"], total["changes"], total["lapped"], total["errors"])
	if total["torn"] != 0 {
		t.Errorf("%d torn values accepted, want 0", total["torn"])
	}
	if total["back"] != 0 {
		t.Errorf("write numbers went back %d times, want never", total["back"])
	}
	if total["errors"] != 0 {
		t.Errorf("%d reads failed (see the readers' stderr above), want 0", total["errors"])
	}
	// The test proves something only if readers and writer really
	// overlapped: many values read while many were written.
	if total["reads"] < 1000 || total["changes"] < 100 || wres["writes"] < 1000 {
		t.Errorf("too little overlap to prove anything: %d reads of %d distinct values, %d writes", total["reads"], total["changes"], wres["writes"])
	}
}

// TestNaiveReaderTears is the control experiment of the test above: a
// reader of the same writer that skips the protocol's checks (it copies the
// slot the counter names and accepts the copy, without loading the slot's
// sequence word before and after it, as the "write 0, then the value"
// demos seqshm replaces do) does accept torn values, and verify catches
// them. So the zero above is the protocol's doing, not a blind checker's.
func TestNaiveReaderTears(t *testing.T) {
	segDir(t)
	name := uniqueName(t)
	const capacity = 4096
	w := startChild(t, "torn-writer", name, strconv.Itoa(capacity))
	if line := w.readLine(30 * time.Second); line != "ready" {
		t.Fatalf("writer said %q, want ready", line)
	}
	var torn, reads int64
	for try := 0; try < 10 && torn == 0; try++ { // tears are rare under -race
		r := startChild(t, "naive-reader", name, "1")
		res := r.stop(time.Minute)
		torn += res["torn"]
		reads += res["reads"]
	}
	w.stop(time.Minute)
	t.Logf("naive reader: %d of %d values torn", torn, reads)
	// Most naive copies are intact (a tear needs the writer to lap the
	// copy): if most fail verify, the naive reader copies the wrong bytes
	// (a payload offset other than the layout's slot header of 64 bytes),
	// and its tears prove nothing.
	if torn > reads/2 {
		t.Fatalf("the naive reader found %d of %d values torn: it does not read the payload where the layout puts it (+%d in the slot)", torn, reads, slotHeaderSize)
	}
	if torn == 0 {
		t.Errorf("a reader without the protocol's check saw no torn value in %d reads: the stress test could not see one either", reads)
	}
}

// naiveReader: NAME SECONDS. Reads the segment without the protocol's
// validation: it loads the counter, copies the payload (after the 64-byte
// slot header) of the newest complete write's slot (slot m&(N-1), from the
// header's words), and accepts the copy.
// Prints how many copies are not the bytes of any one write.
func naiveReader(args []string) error {
	secs, _ := strconv.Atoi(args[1])
	seg, err := shmfile.OpenReader(args[0], 256)
	if err != nil {
		return err
	}
	defer seg.Close()
	b := seg.Bytes()
	le := binary.LittleEndian
	capacity := le.Uint64(b[offCapacity:])
	slot0, slotSize, mask := le.Uint64(b[offSlot0:]), le.Uint64(b[offSlotSize:]), le.Uint64(b[offSlotCount:])-1
	if end := slot0 + (mask+1)*slotSize; mask+1 < 2 || mask+1 > 64 || end > uint64(len(b)) || capacity > slotSize-slotHeaderSize {
		return fmt.Errorf("unexpected layout: %d slots of %d bytes at %d, capacity %d, %d bytes mapped", mask+1, slotSize, slot0, capacity, len(b))
	}
	buf := make([]byte, capacity)
	var reads, torn int64
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for i := 0; i%1024 != 0 || time.Now().Before(deadline); i++ {
		m := le.Uint64(b[offSeq:]) / 2 // naive: a plain load
		slot := b[slot0+(m&mask)*slotSize:]
		n := le.Uint64(slot[offSlotLen:])
		if m == 0 || n > capacity {
			continue
		}
		copy(buf, slot[slotHeaderSize:slotHeaderSize+n])
		reads++
		if !verify(buf[:n], le.Uint64(buf)) { // not one write's bytes
			torn++
		}
	}
	fmt.Printf("reads=%d torn=%d\n", reads, torn)
	return nil
}

// tornWriter: NAME CAPACITY. Publishes fill(seq) for seq = 1, 2, ... as
// fast as it can until stdin ends, then prints "writes=N".
func tornWriter(args []string) error {
	name := args[0]
	capacity, _ := strconv.Atoi(args[1])
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity, NoTimestamp: true})
	if err != nil {
		return err
	}
	defer pub.Close()
	stop := stopOnEOF()
	buf := make([]byte, capacity)
	seq := uint64(1)
	for ; ; seq++ {
		n, err := pub.Publish(fill(buf, seq, 12))
		if err != nil || n != seq {
			return fmt.Errorf("Publish(write %d) = %d, %v", seq, n, err)
		}
		if seq == 1 {
			fmt.Println("ready")
		}
		if seq%64 == 0 && stop.Load() {
			break
		}
	}
	fmt.Printf("writes=%d\n", seq)
	return nil
}

// tornReader: NAME CAPACITY READS SECONDS. Reads and verifies values until
// it has accepted READS of them (0: no limit) or SECONDS have passed, then
// prints its counts.
func tornReader(args []string) error {
	name := args[0]
	capacity, _ := strconv.Atoi(args[1])
	want, _ := strconv.ParseInt(args[2], 10, 64)
	secs, _ := strconv.Atoi(args[3])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := seqlock.OpenWait(ctx, name, nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	if sub.Capacity() != capacity {
		return fmt.Errorf("capacity %d, want %d", sub.Capacity(), capacity)
	}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	buf := make([]byte, capacity)
	var t readTally
	for i := 0; ; i++ {
		if want > 0 && t.reads >= want {
			break
		}
		if i%256 == 0 && time.Now().After(deadline) {
			break
		}
		m, err := sub.Read(buf)
		t.record(m, err, buf)
	}
	t.print()
	return nil
}
