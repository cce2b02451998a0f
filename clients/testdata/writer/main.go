// Command writer produces seqshm segments for the foreign-client tests in
// clients/test.sh. It is a test tool, not a user command: it lives under
// testdata so that `go build ./...` and `go vet ./...` leave it alone, and
// it is built explicitly with `go build ./clients/testdata/writer`.
//
// Usage:
//
//	writer fixed NAME VALUE            publish VALUE, close cleanly (state 2)
//	writer stress NAME SECONDS         publish checksummed values at full speed
//	writer crash NAME VALUE            publish VALUE, begin the next write, SIGKILL itself
//	writer corrupt NAME KIND           write a broken segment file (see corruptKinds)
//
// Segments are made with shmfile.Create, so they live in $SEQSHM_DIR (or
// /dev/shm) and the writer holds the real writer lock while it runs.
// stress prints "writes N" on stdout when it stops.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

const (
	fixedCapacity  = 256
	stressCapacity = 4096
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: writer fixed|stress|crash|corrupt NAME ARG")
	}
	mode, name, arg := args[0], args[1], args[2]
	switch mode {
	case "fixed":
		return fixed(name, []byte(arg))
	case "stress":
		secs, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return err
		}
		return stress(name, time.Duration(secs*float64(time.Second)))
	case "crash":
		return crash(name, []byte(arg))
	case "corrupt":
		return corrupt(name, arg)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// create makes the segment name for values of up to capacity bytes.
func create(name string, capacity int) (*shmfile.Segment, *seqlock.Writer, error) {
	seg, err := shmfile.Create(name, seqlock.Size(capacity), nil)
	if err != nil {
		return nil, nil, err
	}
	w, err := seqlock.NewWriter(seg.Bytes(), &seqlock.WriterOptions{Capacity: capacity})
	if err != nil {
		return nil, nil, errors.Join(err, seg.Close())
	}
	return seg, w, nil
}

func fixed(name string, value []byte) error {
	seg, w, err := create(name, fixedCapacity)
	if err != nil {
		return err
	}
	_, err = w.Write(value)
	return errors.Join(err, w.Close(), seg.Close())
}

// fill makes a self-checking payload for write number seq, exactly as
// seqlock/stress_test.go does: a length that varies with seq, the seq
// itself (little-endian) in the first 8 bytes, pseudo-random bytes, and the
// CRC-32 (IEEE) of everything before it in the last 4 bytes.
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

func stress(name string, d time.Duration) error {
	seg, w, err := create(name, stressCapacity)
	if err != nil {
		return err
	}
	buf := make([]byte, stressCapacity)
	end := time.Now().Add(d)
	var seq uint64
	for seq = 1; ; seq++ {
		if _, err := w.Write(fill(buf, seq, stressCapacity)); err != nil {
			return errors.Join(err, w.Close(), seg.Close())
		}
		// Checking the clock every write would halve the write rate.
		if seq%1024 == 0 && time.Now().After(end) {
			break
		}
	}
	fmt.Printf("writes %d\n", seq)
	return errors.Join(w.Close(), seg.Close())
}

// crash publishes value as write 1, then does what a writer killed in the
// middle of write 2 leaves behind: the counter at 3 (odd) and half a value
// in slot 0. Then it kills itself, so the state stays "running" while the
// OS releases the writer lock. Readers must still return value as write 1.
func crash(name string, value []byte) error {
	seg, w, err := create(name, fixedCapacity)
	if err != nil {
		return err
	}
	if _, err := w.Write(value); err != nil {
		return err
	}
	b := seg.Bytes()
	binary.LittleEndian.PutUint64(b[128:], 3) // begin write 2 (offset of the counter, docs/layout.md)
	slot0 := int(binary.LittleEndian.Uint64(b[40:]))
	binary.LittleEndian.PutUint64(b[slot0:], 99999) // a length no reader may trust
	copy(b[slot0+64:], "GARBAGE-HALF-WRITTEN")
	return syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// corruptKinds are the broken segments corrupt can write.
var corruptKinds = map[string]func(b []byte) []byte{
	// The first 8 bytes are not "SEQSHM\0\0".
	"magic": func(b []byte) []byte { copy(b, "NOTSEQSH"); return b },
	// Layout version 2.
	"version": func(b []byte) []byte { binary.LittleEndian.PutUint64(b[8:], 2); return b },
	// The file holds less than the header's total size.
	"truncated": func(b []byte) []byte { return b[:4096] },
	// Smaller than a header.
	"tiny": func(b []byte) []byte { return b[:100] },
	// All zero: a writer that has not finished initialising.
	"notready": func(b []byte) []byte { clear(b); return b },
	// Slot 1 placed past the end of the segment.
	"slot": func(b []byte) []byte { binary.LittleEndian.PutUint64(b[48:], 1<<40); return b },
	// A valid header whose newest slot claims more bytes than the capacity.
	"length": func(b []byte) []byte {
		slot1 := binary.LittleEndian.Uint64(b[48:])
		binary.LittleEndian.PutUint64(b[slot1:], 1<<20)
		return b
	},
}

// corrupt writes a broken segment file: a valid segment holding "hello" as
// write 1, then damaged as kind says.
func corrupt(name, kind string) error {
	damage, ok := corruptKinds[kind]
	if !ok {
		return fmt.Errorf("unknown corruption %q", kind)
	}
	region := seqlock.MakeRegion(fixedCapacity)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: fixedCapacity, NoTimestamp: true})
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	b := damage(append([]byte(nil), region...))
	return os.WriteFile(filepath.Join(shmfile.Dir(), name), b, 0o600)
}
