package seqlock_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// fill makes a self-checking payload for write number seq: a length that
// varies with seq, the seq itself, pseudo-random bytes, and a CRC-32 of
// everything before it in the last 4 bytes.
func fill(buf []byte, seq uint64, capacity int) []byte {
	n := 12 + int(seq*7919%uint64(capacity-11))
	p := buf[:n]
	binary.LittleEndian.PutUint64(p, seq)
	x := uint32(seq) | 1
	for i := 8; i < n-4; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	binary.LittleEndian.PutUint32(p[n-4:], crc32.ChecksumIEEE(p[:n-4]))
	return p
}

// verify reports whether p is a payload made by fill for write seq.
func verify(p []byte, seq uint64) bool {
	n := len(p)
	return n >= 12 && binary.LittleEndian.Uint64(p) == seq &&
		binary.LittleEndian.Uint32(p[n-4:]) == crc32.ChecksumIEEE(p[:n-4])
}

// TestStressNoTornReads runs for a small capacity (the assembly paths on
// amd64) and a large one (runtime.memmove).
func TestStressNoTornReads(t *testing.T) {
	for _, capacity := range []int{256, 4096} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) { stress(t, capacity) })
	}
}

func stress(t *testing.T, capacity int) {
	d := time.Second
	if testing.Short() {
		d = 200 * time.Millisecond
	}
	w, r, _ := newPair(t, capacity, false)
	var stop atomic.Bool
	var writes atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, capacity)
		for seq := uint64(1); !stop.Load(); seq++ {
			if _, err := w.Write(fill(buf, seq, capacity)); err != nil {
				t.Errorf("Write(%d) = %v", seq, err)
				return
			}
			writes.Store(seq)
		}
	}()
	const readers = 3
	var accepted, torn, lapped atomic.Uint64
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, capacity)
			last := uint64(0)
			for !stop.Load() {
				m, err := r.Read(buf)
				switch {
				case errors.Is(err, seqlock.ErrNoValue):
					continue
				case errors.Is(err, seqlock.ErrLapped):
					lapped.Add(1)
					continue
				case err != nil:
					t.Errorf("Read = %v", err)
					return
				}
				if !verify(buf[:m.Len], m.Seq) {
					torn.Add(1)
				}
				if m.Seq < last {
					t.Errorf("Read went back from write %d to %d", last, m.Seq)
				}
				last = m.Seq
				accepted.Add(1)
			}
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes, %d reads accepted, %d torn, %d lapped-out reads", writes.Load(), accepted.Load(), torn.Load(), lapped.Load())
	if torn.Load() != 0 {
		t.Errorf("%d torn values accepted, want 0", torn.Load())
	}
	if accepted.Load() == 0 || writes.Load() == 0 {
		t.Errorf("no progress: %d writes, %d reads", writes.Load(), accepted.Load())
	}
}
