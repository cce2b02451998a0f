//go:build unix

package reliability_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
)

// Payloads check themselves: write number seq publishes a value whose
// length varies with seq, which starts with seq, continues with bytes
// derived from seq, and ends with a CRC-32C of everything before it. A
// value that mixes the bytes of two writes fails verify (the CRC detects
// any mixture; TestVerifyDetectsTears checks the splices a torn copy makes).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// mix is the splitmix64 finaliser: a cheap bijection that scrambles seq.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// fill writes the payload of write seq into buf and returns it: its
// length is in [minLen, len(buf)], chosen by seq. minLen is at least 12.
func fill(buf []byte, seq uint64, minLen int) []byte {
	n := minLen + int(mix(seq)%uint64(len(buf)-minLen+1))
	p := buf[:n]
	le := binary.LittleEndian
	le.PutUint64(p, seq)
	x := mix(seq ^ 0x9e3779b97f4a7c15)
	i := 8
	for ; i+8 <= n-4; i += 8 {
		x = x*6364136223846793005 + 1442695040888963407
		le.PutUint64(p[i:], x)
	}
	for ; i < n-4; i++ {
		p[i] = byte(x >> (8 * (i % 8)))
	}
	le.PutUint32(p[n-4:], crc32.Checksum(p[:n-4], castagnoli))
	return p
}

// verify reports whether p is the payload of write seq made by fill.
func verify(p []byte, seq uint64) bool {
	n := len(p)
	le := binary.LittleEndian
	return n >= 12 && le.Uint64(p) == seq && le.Uint32(p[n-4:]) == crc32.Checksum(p[:n-4], castagnoli)
}

// TestVerifyDetectsTears checks the checker: a value made of the start of
// one write and the end of another (what a torn copy of a slot is: writes
// n and n+N share one of the N slots; N is 4 or 8 for the writer) never
// verifies, wherever the cut is.
func TestVerifyDetectsTears(t *testing.T) {
	const capacity = 300
	a := fill(make([]byte, capacity), 7, 12)
	for _, other := range []uint64{7 - 4, 7 + 4, 7 + 8, 7 + 16, 1 << 40} {
		b := fill(make([]byte, capacity), other, 12)
		for _, n := range []int{len(a), len(b)} {
			for cut := 1; cut < n; cut++ {
				mixed := make([]byte, n)
				copy(mixed, a)
				copy(mixed[cut:], b[min(cut, len(b)):])
				for _, seq := range []uint64{7, other} {
					if string(mixed) == string(a) || string(mixed) == string(b) {
						continue
					}
					if verify(mixed, seq) {
						t.Fatalf("verify(write 7 cut at %d into write %d, %d bytes, seq %d) = true, want false", cut, other, n, seq)
					}
				}
			}
		}
	}
	if !verify(a, 7) {
		t.Errorf("verify(fill(7), 7) = false, want true")
	}
	a[len(a)/2] ^= 1
	if verify(a, 7) {
		t.Errorf("verify of a payload with a flipped bit = true, want false")
	}
}

// A readTally counts what a reader role saw, for its result line: complete
// values, torn ones, laps, reads before any value, errors, and how the
// write numbers moved.
type readTally struct {
	reads, torn, lapped, noValue, errs, back, changes int64
	last                                              uint64
}

// record counts one Read's result; buf holds the value it read.
func (t *readTally) record(m seqlock.Meta, err error, buf []byte) {
	switch {
	case err == nil:
	case errors.Is(err, seqlock.ErrNoValue):
		t.noValue++
		return
	case errors.Is(err, seqlock.ErrLapped):
		t.lapped++
		return
	default:
		if t.errs == 0 {
			fmt.Fprintln(os.Stderr, "Read:", err)
		}
		t.errs++
		return
	}
	t.reads++
	if !verify(buf[:m.Len], m.Seq) {
		if t.torn < 10 {
			fmt.Fprintf(os.Stderr, "torn value: write %d, %d bytes\n", m.Seq, m.Len)
		}
		t.torn++
	}
	switch {
	case m.Seq < t.last:
		t.back++
	case m.Seq > t.last:
		t.changes++
	}
	t.last = m.Seq
}

// print writes the result line that parseResult reads.
func (t *readTally) print() {
	fmt.Printf("reads=%d torn=%d lapped=%d novalue=%d errors=%d back=%d changes=%d maxseq=%d\n",
		t.reads, t.torn, t.lapped, t.noValue, t.errs, t.back, t.changes, t.last)
}
