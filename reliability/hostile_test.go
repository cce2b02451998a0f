//go:build unix

package reliability_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// Header field offsets, layout version 2 (docs/layout.md).
const (
	offMagic       = 0
	offVersion     = 8
	offHeaderSize  = 16
	offCapacity    = 24
	offSlotSize    = 32
	offSlot0       = 40 // slot i is at slot0 + i*slot size
	offSlotCount   = 48 // N, a power of two in [2, 64]; write n goes into slot n&(N-1)
	offTotalSize   = 56
	offFingerprint = 64
	offCreated     = 72
	offWriterPID   = 88
	offWriterStart = 96
	offNotify      = 104
	offFlags       = 112
	offPIDNS       = 120
	// within a slot: its 64-byte header (bytes 24..63 reserved, zero),
	// then the payload at +64
	offSlotSeq     = 0 // 2n-1 while write n is in progress in the slot, 2n once complete
	offSlotLen     = 8
	offSlotTime    = 16
	slotHeaderSize = 64
)

// validSegment returns the bytes of a real segment of the given capacity
// holding value as write 1, made by seqlock and closed.
func validSegment(t testing.TB, dir string, capacity int, value string) []byte {
	t.Helper()
	name := uniqueName(t)
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish([]byte(value))
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := seqlock.Remove(name); err != nil {
		t.Fatal(err)
	}
	return b
}

func get64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// set64 returns a copy of b with the 8 bytes at off set to v.
func set64(b []byte, off int, v uint64) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint64(c[off:], v)
	return c
}

// A damage is a segment's path holding something it should not.
type damage struct {
	name string
	// make puts the damaged thing at path; valid holds a good segment's
	// bytes (capacity 64, "hello" as write 1).
	make func(t *testing.T, path string, valid []byte)
	want error
	// header: the header is bad, so that a publisher too must refuse the
	// segment and leave it as it is.
	header bool
}

func writeFile(b func(valid []byte) []byte) func(*testing.T, string, []byte) {
	return func(t *testing.T, path string, valid []byte) {
		if err := os.WriteFile(path, b(valid), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func field(off int, v func(valid []byte) uint64) func(*testing.T, string, []byte) {
	return writeFile(func(b []byte) []byte { return set64(b, off, v(b)) })
}

func constant(v uint64) func([]byte) uint64 { return func([]byte) uint64 { return v } }

func fileLen(b []byte) uint64 { return uint64(len(b)) }

// slotOf returns the offset of the slot that holds write n in the segment
// whose header is b: slot n&(N-1) of the N slots of slot size bytes from
// slot 0, all from the header's own words. b's header must be sound.
func slotOf(b []byte, n uint64) int {
	count := get64(b, offSlotCount)
	return int(get64(b, offSlot0) + (n&(count-1))*get64(b, offSlotSize))
}

// newestSlot is the offset of the slot holding write 1 (slot 1), the
// newest value of a segment from validSegment.
func newestSlot(b []byte) int { return slotOf(b, 1) }

// slotsEnd is the offset just past the last slot.
func slotsEnd(b []byte) uint64 {
	return get64(b, offSlot0) + get64(b, offSlotCount)*get64(b, offSlotSize)
}

// versionOne returns what an older seqshm (layout version 1) would have
// written for b, a segment from validSegment holding write 1, value v:
// version 1, word 48 the offset of slot 1 (there were two slots), and
// write 1 in slot 1 under a 64-byte slot header (length +0, time +8, write
// number +16; payload +64, as in version 2, whose 64-byte slot header
// holds the sequence word +0, length +8, time +16). Only for capacities
// whose slots are as large in both versions (up to 64 bytes: 128-byte
// slots).
func versionOne(t testing.TB, b []byte, v string) []byte {
	t.Helper()
	const v1SlotHeader = 64
	capacity, slotSize, slot0 := get64(b, offCapacity), get64(b, offSlotSize), get64(b, offSlot0)
	if (v1SlotHeader+capacity+7)/8*8 > slotSize || slot0+2*slotSize > uint64(len(b)) {
		t.Fatalf("versionOne: a capacity of %d needs larger slots in version 1 than the %d bytes of version 2", capacity, slotSize)
	}
	c := bytes.Clone(b)
	clear(c[slot0:slotsEnd(b)])
	binary.LittleEndian.PutUint64(c[offVersion:], 1)
	slot1 := slot0 + slotSize
	binary.LittleEndian.PutUint64(c[offSlotCount:], slot1) // v1: offset of slot 1
	binary.LittleEndian.PutUint64(c[slot1:], uint64(len(v)))
	binary.LittleEndian.PutUint64(c[slot1+16:], 1)
	copy(c[slot1+v1SlotHeader:], v)
	return c
}

func damages() []damage {
	corrupt := seqlock.ErrCorrupt
	random := func(seed uint64, n int) []byte {
		r := rand.New(rand.NewPCG(seed, seed))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	return []damage{
		{"bad-magic", writeFile(func(b []byte) []byte { c := bytes.Clone(b); copy(c, "NOTSEQSH"); return c }), seqlock.ErrNotSeqshm, true},
		{"magic-of-another-program", writeFile(func(b []byte) []byte { c := bytes.Clone(b); copy(c, "\x7fELF\x02\x01\x01\x00"); return c }), seqlock.ErrNotSeqshm, true},
		// A segment of layout version 1 (two slots validated against
		// the counter), as an older seqshm wrote it: refused, with a
		// message saying so (damageSays), not as corrupt (its word 48,
		// slot 1's offset, is no slot count), and left alone.
		{"version-1", func(t *testing.T, path string, valid []byte) {
			if err := os.WriteFile(path, versionOne(t, valid, "hello"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, seqlock.ErrVersion, true},
		{"version-3", field(offVersion, constant(3)), seqlock.ErrVersion, true},
		{"version-0", field(offVersion, constant(0)), seqlock.ErrVersion, true},
		{"version-huge", field(offVersion, constant(1<<63)), seqlock.ErrVersion, true},
		{"header-size-too-small", field(offHeaderSize, constant(16)), corrupt, true},
		{"header-size-zero", field(offHeaderSize, constant(0)), corrupt, true},
		{"header-size-past-slot-0", field(offHeaderSize, func(b []byte) uint64 { return get64(b, offSlot0) + 8 }), corrupt, true},
		{"header-size-beyond-file", field(offHeaderSize, func(b []byte) uint64 { return fileLen(b) + 1 }), corrupt, true},
		{"header-size-huge", field(offHeaderSize, constant(1<<63)), corrupt, true},
		{"capacity-zero", field(offCapacity, constant(0)), corrupt, true},
		{"capacity-beyond-slot", field(offCapacity, func(b []byte) uint64 { return get64(b, offSlotSize) }), corrupt, true},
		{"capacity-beyond-file", field(offCapacity, fileLen), corrupt, true},
		{"capacity-huge", field(offCapacity, constant(1<<62)), corrupt, true},
		{"capacity-max-uint64", field(offCapacity, constant(^uint64(0))), corrupt, true},
		{"slot-size-too-small", field(offSlotSize, constant(8)), corrupt, true},
		{"slot-size-odd", field(offSlotSize, func(b []byte) uint64 { return get64(b, offSlotSize) - 1 }), corrupt, true},
		{"slot-size-beyond-file", field(offSlotSize, func(b []byte) uint64 { return fileLen(b) + 8 }), corrupt, true},
		// Slot size times the slot count (8) is 2^64: 0 to a reader
		// that multiplies before bounding.
		{"slot-size-times-count-wraps", field(offSlotSize, constant(1<<61)), corrupt, true},
		// A slot 8 bytes smaller than its 64-byte header and the
		// capacity (120 for capacity 64: enough for a 32-byte header,
		// which a reader must not assume): each slot's payload runs into
		// the next slot's sequence word.
		{"slots-overlap", field(offSlotSize, func(b []byte) uint64 { return slotHeaderSize + get64(b, offCapacity) - 8 }), corrupt, true},
		// Slot size 0: every slot at slot 0's offset.
		{"slots-same", field(offSlotSize, constant(0)), corrupt, true},
		{"slot-0-in-header", field(offSlot0, constant(128)), corrupt, true},
		{"slot-0-beyond-file", field(offSlot0, fileLen), corrupt, true},
		{"slot-0-misaligned", field(offSlot0, func(b []byte) uint64 { return get64(b, offSlot0) + 4 }), corrupt, true},
		{"slot-0-huge", field(offSlot0, constant(1<<63)), corrupt, true},
		{"slot-0-wraps-around", field(offSlot0, constant(^uint64(0)-63)), corrupt, true},
		// Slot 0 inside the file, the last slot past its end.
		{"last-slot-beyond-file", field(offSlot0, func(b []byte) uint64 {
			return get64(b, offTotalSize) - get64(b, offSlotCount)*get64(b, offSlotSize) + get64(b, offSlotSize)
		}), corrupt, true},
		{"slot-count-0", field(offSlotCount, constant(0)), corrupt, true},
		{"slot-count-1", field(offSlotCount, constant(1)), corrupt, true},
		{"slot-count-3", field(offSlotCount, constant(3)), corrupt, true},
		{"slot-count-128", field(offSlotCount, constant(128)), corrupt, true},
		// 2^63 slots of 128 bytes: 2^70 bytes, 0 modulo 2^64.
		{"slot-count-huge", field(offSlotCount, constant(1<<63)), corrupt, true},
		{"slot-count-max-uint64", field(offSlotCount, constant(^uint64(0))), corrupt, true},
		// A valid count (64, the largest) whose slots pass the end of
		// the segment.
		{"slot-count-beyond-file", field(offSlotCount, constant(64)), corrupt, true},
		{"total-size-beyond-file", field(offTotalSize, func(b []byte) uint64 { return fileLen(b) + 4096 }), corrupt, true},
		{"total-size-huge", field(offTotalSize, constant(1<<63)), corrupt, true},
		{"total-size-below-slots", field(offTotalSize, constant(300)), corrupt, true},
		// Just short of the last slot's end (no waiter area, which
		// would be beyond it).
		{"total-size-cuts-last-slot", writeFile(func(b []byte) []byte {
			return set64(set64(b, offNotify, 0), offTotalSize, slotsEnd(b)-8)
		}), corrupt, true},
		{"waiter-area-beyond-file", field(offNotify, fileLen), corrupt, true},
		{"waiter-area-on-slot", field(offNotify, func(b []byte) uint64 { return get64(b, offSlot0) }), corrupt, true},
		// On the last slot, which a reader checking only the first
		// slots would miss.
		{"waiter-area-on-last-slot", field(offNotify, func(b []byte) uint64 { return slotsEnd(b) - get64(b, offSlotSize) }), corrupt, true},
		{"waiter-area-misaligned", field(offNotify, func(b []byte) uint64 { return get64(b, offNotify) + 1 }), corrupt, true},
		// The slots moved to the end of the segment, over the waiter
		// area (all of them inside the file).
		{"slots-on-waiter-area", field(offSlot0, func(b []byte) uint64 {
			return get64(b, offTotalSize) - get64(b, offSlotCount)*get64(b, offSlotSize)
		}), corrupt, true},
		{"file-cut-in-half", writeFile(func(b []byte) []byte { return b[:len(b)/2] }), corrupt, true},
		{"file-cut-after-header", writeFile(func(b []byte) []byte { return b[:256] }), corrupt, true},
		{"file-cut-in-last-slot", writeFile(func(b []byte) []byte { return b[:slotsEnd(b)-8] }), corrupt, true},
		{"shorter-than-header", writeFile(func(b []byte) []byte { return b[:100] }), shmfile.ErrTooSmall, true},
		{"empty-file", writeFile(func([]byte) []byte { return nil }), shmfile.ErrTooSmall, true},
		{"random-bytes", writeFile(func(b []byte) []byte { return random(1, len(b)) }), seqlock.ErrNotSeqshm, true},
		{"random-bytes-small", writeFile(func([]byte) []byte { return random(2, 300) }), seqlock.ErrNotSeqshm, true},
		{"random-after-version", writeFile(func(b []byte) []byte {
			c := random(3, len(b))
			copy(c, b[:16])
			return c
		}), corrupt, true},
		{"zero-header", field(offMagic, constant(0)), seqlock.ErrNotReady, false},
		// The header is sound but the newest slot (slot 1, write 1)
		// lies: Open succeeds, Read refuses.
		{"slot-length-beyond-capacity", writeFile(func(b []byte) []byte {
			return set64(b, newestSlot(b)+offSlotLen, get64(b, offCapacity)+1)
		}), corrupt, false},
		{"slot-length-huge", writeFile(func(b []byte) []byte { return set64(b, newestSlot(b)+offSlotLen, 1<<63) }), corrupt, false},
		// The slot's sequence word below 2m for the counter's m = 1: a
		// writer stores the slot word of write m before the counter
		// that says m is complete, so this is damage, not a lap.
		{"slot-word-never-written", writeFile(func(b []byte) []byte { return set64(b, newestSlot(b)+offSlotSeq, 0) }), corrupt, false},
		{"slot-word-in-progress", writeFile(func(b []byte) []byte { return set64(b, newestSlot(b)+offSlotSeq, 1) }), corrupt, false},
		// The counter says write 9 is complete, whose slot (9&7 = 1)
		// holds write 1: a whole lap behind.
		{"counter-a-lap-ahead-of-slot", field(offSeq, func(b []byte) uint64 { return 2 * (1 + get64(b, offSlotCount)) }), corrupt, false},
		{"counter-ahead-of-slots", field(offSeq, constant(2000)), corrupt, false},
		// The slot word above 2m, and it never changes: as if write 9
		// had begun in slot 1 and stopped, with the counter still at
		// write 1 (a correct writer stores the counter first). Every
		// attempt is lapped; Read gives up, it does not hang.
		{"slot-word-ahead-stuck", writeFile(func(b []byte) []byte {
			return set64(b, newestSlot(b)+offSlotSeq, 2*(1+get64(b, offSlotCount))-1)
		}), seqlock.ErrLapped, false},
		// Not regular files.
		{"symlink-to-valid-segment", func(t *testing.T, path string, valid []byte) {
			target := filepath.Join(t.TempDir(), "target")
			os.WriteFile(target, valid, 0o600)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, shmfile.ErrNotSegment, true},
		{"dangling-symlink", func(t *testing.T, path string, _ []byte) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "nothing"), path); err != nil {
				t.Fatal(err)
			}
		}, shmfile.ErrNotSegment, true},
		{"directory", func(t *testing.T, path string, _ []byte) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, shmfile.ErrNotSegment, true},
		{"fifo", func(t *testing.T, path string, _ []byte) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, shmfile.ErrNotSegment, true},
		{"socket", func(t *testing.T, path string, _ []byte) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Skipf("skipped: cannot make a socket: %v", err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			t.Cleanup(func() { l.Close() })
		}, shmfile.ErrNotSegment, true},
	}
}

// libraryError opens the named segment and reads it as a user would:
// Open, Read, Status. It returns the first error.
func libraryError(name string) error {
	s, err := seqlock.Open(name, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Read(make([]byte, s.Capacity())); err != nil {
		return err
	}
	_, err = s.Stat()
	return err
}

// snapshot describes what is at path, to show it was left alone.
func snapshot(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return err.Error()
	}
	s := fi.Mode().String()
	if fi.Mode().IsRegular() {
		b, _ := os.ReadFile(path)
		s += " " + string(b)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		s += " -> " + target + " " + snapshot(target)
	}
	return s
}

// damageSays is what the errors about some damages must say besides their
// sentinel: err in the library's error (and in the tools' stderr), stderr
// in the tools' stderr, with NAME standing for the segment's name.
var damageSays = map[string]struct {
	err    string
	stderr []string
}{
	"version-1": {"layout version 1, written by an older seqshm", []string{"hint: a segment of an older seqshm", "publisher -rm NAME"}},
	"version-3": {"layout version 3", nil},
}

// TestDamagedSegments: every kind of damaged or hostile segment gives the
// library user an error that errors.Is the right sentinel (from Open, Read
// or Status, and from Stat), and the subscriber binary exit status 1 with
// one line on stderr (and maybe hints), never a crash. A publisher
// refuses a segment whose header is bad and leaves it untouched. A segment
// of layout version 1 is refused as one an older seqshm wrote, with a hint
// to remove it (damageSays).
func TestDamagedSegments(t *testing.T) {
	dir := segDir(t)
	valid := validSegment(t, dir, 64, "hello")
	var bin string
	if _, err := os.Stat(filepath.Join("..", "cmd", "subscriber", "main.go")); err == nil {
		bin = binaries(t)
	} else {
		t.Logf("cmd/subscriber not written yet: checking the library only")
	}
	for _, d := range damages() {
		t.Run(d.name, func(t *testing.T) {
			name := "damaged-" + d.name
			path := filepath.Join(dir, name)
			d.make(t, path, valid)
			before := snapshot(path)

			says := damageSays[d.name]
			err := libraryError(name)
			t.Logf("Open, Read, Status: %v", err)
			if !errors.Is(err, d.want) {
				t.Errorf("Open, Read, Status = %v, want an error wrapping %v", err, d.want)
			} else if !strings.Contains(err.Error(), name) && !isAny(err, seqlock.ErrCorrupt, seqlock.ErrNotReady, seqlock.ErrLapped) {
				t.Errorf("error %q does not name the segment", err)
			} else if !strings.Contains(err.Error(), says.err) {
				t.Errorf("error %q does not say %q", err, says.err)
			}
			if _, err := seqlock.Stat(name); !errors.Is(err, d.want) {
				t.Errorf("Stat = %v, want an error wrapping %v", err, d.want)
			}
			if _, err := seqlock.List(); err != nil {
				t.Errorf("List with a damaged segment present = %v", err)
			}
			tool := func(bin string, args ...string) {
				t.Helper()
				stderr := checkFailure(t, bin, args, name)
				for _, s := range append([]string{says.err}, says.stderr...) {
					if !strings.Contains(stderr, strings.ReplaceAll(s, "NAME", name)) {
						t.Errorf("%s %s: stderr does not say %q:\n%s", filepath.Base(bin), strings.Join(args, " "), s, stderr)
					}
				}
			}
			if bin != "" {
				for _, args := range [][]string{{name}, {"-info", name}, {"-json", name}} {
					tool(filepath.Join(bin, "subscriber"), args...)
				}
			}
			if d.header {
				if _, err := seqlock.Create(name, nil); err == nil {
					t.Errorf("Create over it succeeded, want a refusal")
				} else if !strings.Contains(err.Error(), says.err) {
					t.Errorf("Create over it = %v, which does not say %q", err, says.err)
				}
				if bin != "" {
					tool(filepath.Join(bin, "publisher"), name, "overwrite")
				}
				if after := snapshot(path); after != before {
					t.Errorf("a refused publisher changed the segment's path")
				}
			}
		})
	}
}

// checkFailure runs a tool that must fail on the segment name: exit status
// 1, and on stderr one line "TOOL: NAME: ..." followed by "hint: " lines
// only, with no sign of a Go panic. It returns the stderr.
func checkFailure(t *testing.T, bin string, args []string, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "SEQSHM_DIR="+os.Getenv("SEQSHM_DIR"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	tool := filepath.Base(bin)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("%s %s: %v, want exit status 1; stderr:\n%s", tool, strings.Join(args, " "), err, stderr.String())
		return stderr.String()
	}
	checkOneLine(t, tool+" "+strings.Join(args, " "), tool, name, stderr.String())
	return stderr.String()
}

// checkOneLine checks a tool's report of a failure: one line naming the
// tool and the segment, then hints only ("hint: " lines; the hint for a
// segment of another layout version takes two), no Go panic.
func checkOneLine(t *testing.T, what, tool, name, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	switch {
	case strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic"):
		t.Errorf("%s: stderr shows a Go panic:\n%s", what, stderr)
	case !strings.HasSuffix(stderr, "\n"):
		t.Errorf("%s: stderr does not end its line:\n%s", what, stderr)
	case !strings.HasPrefix(lines[0], tool+": "+name+": "):
		t.Errorf("%s: stderr %q does not start with %q", what, lines[0], tool+": "+name+": ")
	}
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, "hint: ") {
			t.Errorf("%s: stderr is not one line (+ hints): %q is not a hint:\n%s", what, line, stderr)
			break
		}
	}
}

// subscriberCmd returns a command running the subscriber binary in bin
// with args, in this process's segment directory.
func subscriberCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "subscriber"), args...)
	cmd.Env = append(os.Environ(), "SEQSHM_DIR="+os.Getenv("SEQSHM_DIR"))
	return cmd
}

// TestTypeMismatch: a typed segment opened as another type gives
// ErrTypeMismatch, and a publisher of another type ErrIncompatible.
func TestTypeMismatch(t *testing.T) {
	segDir(t)
	type Pose struct{ X, Y, Yaw float64 }
	type Swapped struct{ Y, X, Yaw float64 } // same size, other field names
	name := uniqueName(t)
	pub, err := seqlock.CreateTyped[Pose](name, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish(Pose{1, 2, 3})
	if _, err := seqlock.OpenTyped[Swapped](name, nil); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("OpenTyped[Swapped] of a Pose segment = %v, want ErrTypeMismatch", err)
	}
	if _, err := seqlock.OpenTyped[[3]float64](name, nil); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("OpenTyped[[3]float64] of a Pose segment = %v, want ErrTypeMismatch", err)
	}
	pub.Close()
	if _, err := seqlock.CreateTyped[Swapped](name, nil); !errors.Is(err, seqlock.ErrIncompatible) {
		t.Errorf("CreateTyped[Swapped] over a Pose segment = %v, want ErrIncompatible", err)
	}
	raw := uniqueName(t)
	rp, err := seqlock.Create(raw, &seqlock.Options{Capacity: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	if _, err := seqlock.OpenTyped[Pose](raw, nil); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("OpenTyped[Pose] of a raw 24-byte segment = %v, want ErrTypeMismatch", err)
	}
}
