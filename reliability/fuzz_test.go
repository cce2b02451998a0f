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
	// The seeds are small segments (512 bytes, or 4 KiB + 128 with a
	// waiter area on the next page): every byte of a seed is one more
	// byte for the fuzzer to minimise in each new input it finds.
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
// area (notify 0), 512 bytes, holding value as write 1: a small seed that
// reaches every check of the decoder and the reader.
func smallSegment(t testing.TB, dir string, value string) []byte {
	b := validSegment(t, dir, 64, value)
	b = set64(b, offNotify, 0)
	b = set64(b, offTotalSize, 512)
	// Times, pid and flags vary from run to run (and -race changes the
	// flags): zero them, so that the seeds are reproducible.
	for _, off := range []int{offCreated, offWriterPID, offWriterStart, offFlags, offPIDNS, 256 + offSlotTime, 384 + offSlotTime} {
		b = set64(b, off, 0)
	}
	return b[:512]
}

// TestWriteFuzzSeeds writes the seed corpus of FuzzOpenSegment, in the
// "go test fuzz v1" format, when SEQSHM_WRITE_FUZZ_SEEDS=1; otherwise it
// checks that the corpus in the tree is what it would write.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := segDir(t)
	small := smallSegment(t, dir, "hello")
	// The same segment with a waiter area on the page after the slots.
	page := 4096
	waiter := make([]byte, page+128)
	copy(waiter, small)
	waiter = set64(waiter, offNotify, uint64(page))
	waiter = set64(waiter, offTotalSize, uint64(page+128))
	header := func(b []byte, off int, v uint64) []byte { return set64(b, off, v)[:256] }
	seeds := []struct {
		name        string
		data, later []byte
	}{
		{"valid", small, nil},
		{"valid-with-waiter-area", waiter, nil},
		{"zero-header", make([]byte, 512), nil},
		{"bad-magic", set64(small, offMagic, 0x4f47), nil},
		{"version-2", set64(small, offVersion, 2), nil},
		{"capacity-beyond-file", set64(small, offCapacity, 4096), nil},
		{"slot-1-beyond-file", set64(small, offSlot1, 1<<40), nil},
		{"header-size-lies", set64(small, offHeaderSize, 1<<20), nil},
		{"total-size-lies", set64(small, offTotalSize, 513), nil},
		{"slot-length-lies", set64(small, 384+offSlotLen, 65), nil},
		{"counter-odd", set64(small, offSeq, 3), nil},
		{"later-capacity-grows", small, header(small, offCapacity, 1<<30)},
		{"later-slots-move", small, header(small, offSlot1, 1<<40)},
		{"later-counter-jumps", small, set64(small, offSeq, 1<<62)[:offSeq+8]},
		{"later-slot-length-lies", small, set64(small, 384+offSlotLen, 1<<63)},
		{"later-random", small, bytes.Repeat([]byte{0xa5, 0x5a, 0xff, 0x00}, 128)},
	}
	corpus := filepath.Join("testdata", "fuzz", "FuzzOpenSegment")
	write := os.Getenv("SEQSHM_WRITE_FUZZ_SEEDS") == "1"
	if write {
		if err := os.MkdirAll(corpus, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seeds {
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
