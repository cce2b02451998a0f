//go:build unix

package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// FuzzOpenSegment feeds arbitrary bytes to everything that parses segment
// bytes: the file data is a segment file's content, opened with
// seqlock.Open and read with Read, Status, Seq and Wait, and looked at by
// Stat and List; then later is written over the start of the file while
// it is mapped (a hostile writer changing a header already validated) and
// the Subscriber is used again. Nothing may panic, hang or read outside the
// mapping, and every error must wrap a documented sentinel.
//
// Seeds: testdata/fuzz/FuzzOpenSegment (regenerate with
// SEQSHM_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./reliability/)
// and the one added below. Run:
//
//	go test ./reliability/ -run '^$' -fuzz '^FuzzOpenSegment$' -fuzztime 30s
func FuzzOpenSegment(f *testing.F) {
	dir := f.TempDir()
	f.Setenv("SEQSHM_DIR", dir)
	// The seeds are small segments (512 bytes with two slots, or 4 KiB +
	// 128 with 8 slots and a waiter area on the next page): every byte of
	// a seed is one more byte for the fuzzer to minimise in each new
	// input it finds.
	b := smallSegment(f, dir, "seed")
	f.Add(b, set64(b[:offSeq+8], offSeq, 5))
	const name = "fuzzed"
	path := filepath.Join(dir, name)
	f.Fuzz(func(t *testing.T, data, later []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		sub, err := seqlock.Open(name, nil)
		if err != nil {
			if !isAny(err, seqlock.ErrNotSeqshm, seqlock.ErrVersion, seqlock.ErrCorrupt, seqlock.ErrNotReady, shmfile.ErrTooSmall) {
				t.Fatalf("Open = %v: not a documented error", err)
			}
			if _, serr := seqlock.Stat(name); !errors.Is(serr, errors.Unwrap(err)) && serr == nil {
				t.Fatalf("Open = %v but Stat succeeds", err)
			}
			return
		}
		defer sub.Close()
		if sub.Capacity() < 1 || sub.Capacity() > len(data) {
			t.Fatalf("Capacity() = %d for a %d-byte file", sub.Capacity(), len(data))
		}
		use(t, sub)
		if len(later) == 0 {
			return
		}
		fl, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fl.WriteAt(later[:min(len(later), len(data))], 0) // never grow the file
		fl.Close()
		if err != nil {
			t.Fatal(err)
		}
		use(t, sub)
	})
}

// use calls every reading method of sub and checks what they return.
func use(t *testing.T, sub *seqlock.Subscriber) {
	t.Helper()
	buf := make([]byte, sub.Capacity())
	for _, b := range [][]byte{buf, buf[:len(buf)/2], nil} {
		m, err := sub.Read(b)
		switch {
		case err == nil:
			if m.Len < 0 || m.Len > len(b) || m.Seq == 0 {
				t.Fatalf("Read(%d-byte buffer) = %+v, nil: impossible", len(b), m)
			}
		case errors.Is(err, seqlock.ErrShortBuffer):
			if m.Len <= len(b) || m.Len > sub.Capacity() {
				t.Fatalf("Read(%d-byte buffer) = %+v, ErrShortBuffer: impossible length", len(b), m)
			}
		case !isAny(err, seqlock.ErrNoValue, seqlock.ErrCorrupt, seqlock.ErrLapped):
			t.Fatalf("Read = %v: not a documented error", err)
		}
	}
	if _, err := sub.Stat(); err != nil && !isAny(err, seqlock.ErrCorrupt, seqlock.ErrLapped) {
		t.Fatalf("Status = %v: not a documented error", err)
	}
	sub.Seq()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Wait maps the waiter area, spins, sees the context done
	if _, err := sub.Wait(ctx, sub.Seq()); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want nil or context.Canceled", err)
	}
	if _, err := seqlock.List(); err != nil {
		t.Fatalf("List = %v", err)
	}
}

func isAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// smallSegment returns a valid segment of capacity 64 without a waiter
// area (notify 0) and with two slots, the fewest a segment may have: 512
// bytes (the header and two 128-byte slots: a 64-byte slot header, then
// the payload), holding value as write 1 in slot 1. A small seed that
// reaches every check of the decoder and the reader.
func smallSegment(t testing.TB, dir string, value string) []byte {
	b := stableSegment(t, dir, value)
	if get64(b, offSlot0) != 256 || get64(b, offSlotSize) != 128 {
		t.Fatalf("a segment of capacity 64 has slot 0 at %d and slots of %d bytes, want 256 and 128", get64(b, offSlot0), get64(b, offSlotSize))
	}
	// Slot i is at 256 + 128i whatever the count, so write 1 stays in
	// slot 1 with two slots.
	b = set64(b, offSlotCount, 2)
	b = set64(b, offNotify, 0)
	b = set64(b, offTotalSize, 512)
	// The value is a slot header (64 bytes) into its slot.
	if p := slotOf(b, 1) + slotHeaderSize; string(b[p:p+len(value)]) != value {
		t.Fatalf("slot 1 holds %q at +%d, want %q", b[p:p+len(value)], slotHeaderSize, value)
	}
	return b[:512]
}

// stableSegment returns a segment of capacity 64 laid out as the writer
// lays it out (8 slots, the waiter area on the page after them), holding
// value as write 1, with the words that vary from run to run zeroed.
func stableSegment(t testing.TB, dir string, value string) []byte {
	b := validSegment(t, dir, 64, value)
	// Times, pid and flags vary from run to run (and -race changes the
	// flags): zero them, so that the seeds are reproducible.
	for _, off := range []int{offCreated, offWriterPID, offWriterStart, offFlags, offPIDNS, slotOf(b, 1) + offSlotTime} {
		b = set64(b, off, 0)
	}
	return b
}

// TestWriteFuzzSeeds writes the seed corpus of FuzzOpenSegment, in the
// "go test fuzz v1" format, when SEQSHM_WRITE_FUZZ_SEEDS=1; otherwise it
// checks that the corpus in the tree is what it would write.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := segDir(t)
	small := smallSegment(t, dir, "hello")
	// The writer's own layout: 8 slots, and the waiter area on the page
	// after them.
	full := stableSegment(t, dir, "hello")
	if get64(full, offSlotCount) != 8 || get64(full, offNotify) == 0 {
		t.Fatalf("a segment of capacity 64 has %d slots and its waiter area at %d, want 8 and one", get64(full, offSlotCount), get64(full, offNotify))
	}
	newest := slotOf(small, 1) // write 1's slot, 384 in both
	header := func(b []byte, off int, v uint64) []byte { return set64(b, off, v)[:256] }
	corrupt, lapped := seqlock.ErrCorrupt, seqlock.ErrLapped
	// want is what Open, Read and Stat of data say (libraryError): each
	// seed reaches the check it is named for.
	seeds := []struct {
		name        string
		data, later []byte
		want        error
	}{
		{"valid", small, nil, nil},
		{"valid-with-waiter-area", full, nil, nil},
		{"zero-header", make([]byte, 512), nil, seqlock.ErrNotReady},
		{"bad-magic", set64(small, offMagic, 0x4f47), nil, seqlock.ErrNotSeqshm},
		{"version-1", versionOne(t, small, "hello"), nil, seqlock.ErrVersion},
		{"version-3", set64(small, offVersion, 3), nil, seqlock.ErrVersion},
		{"capacity-beyond-file", set64(small, offCapacity, 4096), nil, corrupt},
		{"slot-0-beyond-file", set64(small, offSlot0, 1<<40), nil, corrupt},
		{"slot-count-3", set64(small, offSlotCount, 3), nil, corrupt},
		{"slot-count-128", set64(small, offSlotCount, 128), nil, corrupt},
		{"slot-count-huge", set64(small, offSlotCount, 1<<63), nil, corrupt},
		// 8 slots of 128 bytes from 256: past the 512-byte file.
		{"slots-beyond-file", set64(small, offSlotCount, 8), nil, corrupt},
		{"header-size-lies", set64(small, offHeaderSize, 1<<20), nil, corrupt},
		{"total-size-lies", set64(small, offTotalSize, 513), nil, corrupt},
		{"slot-length-lies", set64(small, newest+offSlotLen, 65), nil, corrupt},
		// The newest slot's word below 2m (corrupt), above it (lapped).
		{"slot-word-behind", set64(small, newest+offSlotSeq, 1), nil, corrupt},
		{"slot-word-ahead", set64(small, newest+offSlotSeq, 5), nil, lapped},
		{"counter-odd", set64(small, offSeq, 3), nil, nil},
		{"later-capacity-grows", small, header(small, offCapacity, 1<<30), nil},
		{"later-slots-move", small, header(small, offSlot0, 1<<40), nil},
		{"later-slot-count-changes", small, header(small, offSlotCount, 64), nil},
		{"later-counter-jumps", small, set64(small, offSeq, 1<<62)[:offSeq+8], nil},
		{"later-slot-length-lies", small, set64(small, newest+offSlotLen, 1<<63), nil},
		{"later-slot-word-goes-back", small, set64(small, newest+offSlotSeq, 0), nil},
		{"later-random", small, bytes.Repeat([]byte{0xa5, 0x5a, 0xff, 0x00}, 128), nil},
	}
	corpus := filepath.Join("testdata", "fuzz", "FuzzOpenSegment")
	write := os.Getenv("SEQSHM_WRITE_FUZZ_SEEDS") == "1"
	if write {
		if err := os.MkdirAll(corpus, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seeds {
		name := "seed-" + s.name
		if err := os.WriteFile(filepath.Join(dir, name), s.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := libraryError(name); !errors.Is(err, s.want) {
			t.Errorf("seed %s: Open, Read, Status = %v, want %v", s.name, err, s.want)
		}
		os.Remove(filepath.Join(dir, name))
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", s.data, s.later)
		path := filepath.Join(corpus, s.name)
		if write {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != content {
			t.Errorf("seed %s is missing or stale (%v): regenerate with SEQSHM_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./reliability/", path, err)
		}
	}
}
