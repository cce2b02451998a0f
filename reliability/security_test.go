//go:build unix

package reliability_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// holdWriter: NAME CAPACITY VALUE. Publishes VALUE, prints "ready", and
// holds the segment until stdin ends; then closes it.
func holdWriter(args []string) error {
	capacity, _ := strconv.Atoi(args[1])
	pub, err := seqlock.Create(args[0], &seqlock.Options{Capacity: capacity})
	if err != nil {
		return err
	}
	if _, err := pub.Publish([]byte(args[2])); err != nil {
		return err
	}
	fmt.Println("ready")
	stop := stopOnEOF()
	for !stop.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("closed=1")
	return pub.Close()
}

// startHolder starts a process that publishes value into name and keeps
// the segment, so that this process holds no writable mapping of it.
func startHolder(t *testing.T, name string, capacity int, value string) *child {
	t.Helper()
	c := startChild(t, "hold", name, strconv.Itoa(capacity), value)
	if line := c.readLine(30 * time.Second); line != "ready" {
		t.Fatalf("holder said %q, want ready", line)
	}
	return c
}

func TestDefaultModeOwnerOnly(t *testing.T) {
	dir := segDir(t)
	// The umask must neither widen nor narrow the mode asked for.
	for _, umask := range []int{0, 0o077} {
		old := syscall.Umask(umask)
		for _, mode := range []fs.FileMode{0, 0o640, 0o644} {
			name := uniqueName(t)
			pub, err := seqlock.Create(name, &seqlock.Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			want := mode
			if want == 0 {
				want = 0o600
			}
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.Mode() != want {
				t.Errorf("umask %#o: Create(Mode %#o): file mode %v, %v, want %v", umask, mode, fi.Mode(), err, want)
			}
			if st, err := seqlock.Stat(name); err != nil || st.Mode != want {
				t.Errorf("umask %#o: Stat(Mode %#o).Mode = %v, %v, want %v", umask, mode, st.Mode, err, want)
			}
			pub.Close()
		}
		syscall.Umask(old)
	}
}

// A mapping is one line of /proc/self/maps.
type mapping struct {
	start, end uint64
	perms      string
	offset     uint64
}

// mappingsOf returns this process's mappings of the file at path.
func mappingsOf(t *testing.T, path string) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("skipped: no /proc/self/maps: %v", err)
	}
	defer f.Close()
	var ms []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != path {
			continue
		}
		var m mapping
		se := strings.SplitN(fields[0], "-", 2)
		m.start, _ = strconv.ParseUint(se[0], 16, 64)
		m.end, _ = strconv.ParseUint(se[1], 16, 64)
		m.perms = fields[1]
		m.offset, _ = strconv.ParseUint(fields[2], 16, 64)
		ms = append(ms, m)
	}
	return ms
}

// TestSubscriberMapsReadOnly: a Subscriber's mapping of the segment is
// read-only and shared (r--s). Wait adds a writable mapping of the waiter
// page only (for the futex count); the values stay on the read-only one.
func TestSubscriberMapsReadOnly(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	startHolder(t, name, 4096, "read me")
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(real, name)
	fi, _ := os.Stat(path)
	sub, err := seqlock.Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Read(make([]byte, sub.Capacity())); err != nil {
		t.Fatal(err)
	}
	ms := mappingsOf(t, path)
	if len(ms) != 1 || ms[0].perms != "r--s" || ms[0].offset != 0 || ms[0].end-ms[0].start < uint64(fi.Size()) {
		t.Fatalf("mappings of the segment after Open and Read = %+v, want one r--s mapping of all %d bytes", ms, fi.Size())
	}
	data := ms[0]

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Wait(ctx, sub.Seq()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	notify := readUint64At(t, path, offNotify)
	page := uint64(os.Getpagesize())
	ms = mappingsOf(t, path)
	var writable int
	for _, m := range ms {
		switch {
		case m == data:
		case m.perms == "rw-s" && m.offset == notify && m.end-m.start == page:
			writable++
		default:
			t.Errorf("after Wait: unexpected mapping %+v of the segment", m)
		}
		if strings.Contains(m.perms, "w") && m.start < data.end && data.start < m.end {
			t.Errorf("after Wait: writable mapping %+v overlaps the data mapping %+v", m, data)
		}
	}
	if writable != 1 || !containsMapping(ms, data) {
		t.Errorf("mappings after Wait = %+v, want the r--s data mapping %+v and one rw-s page at the waiter area (offset %d)", ms, data, notify)
	}
	t.Logf("mappings of the segment: %+v (waiter area at offset %d)", ms, notify)
}

func containsMapping(ms []mapping, m mapping) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func readUint64At(t *testing.T, path string, off int64) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < off+8 {
		t.Fatalf("read %s: %d bytes, %v", path, len(b), err)
	}
	return get64(b, int(off))
}

// TestReaderCannotWrite: a store into a reader's mapping faults (the
// mapping is read-only; with SetPanicOnFault the fault is a panic we can
// catch), and a whole Subscriber session (Open, Read, Status, Wait, Close)
// leaves every byte of the segment as it was.
func TestReaderCannotWrite(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	holder := startHolder(t, name, 4096, "do not touch")
	path := filepath.Join(dir, name)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	seg, err := shmfile.OpenReader(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Header, counter, and the payload of the newest value (write 1), a
	// slot header (64 bytes) after the start of its slot.
	payload := slotOf(before, 1) + slotHeaderSize
	if got := string(before[payload : payload+len("do not touch")]); got != "do not touch" {
		t.Fatalf("the payload of write 1 at offset %d holds %q, want %q", payload, got, "do not touch")
	}
	for _, off := range []int{offMagic, offSeq, payload} {
		if err := storeFaults(seg.Bytes(), off); err != nil {
			t.Error(err)
		}
	}
	seg.Close()

	sub, err := seqlock.Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.Read(make([]byte, sub.Capacity()))
	sub.Stat()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	sub.Wait(ctx, sub.Seq())
	cancel()
	sub.Close()
	after, _ := os.ReadFile(path)
	// The one word a subscriber may store to is the waiter word (4 bytes
	// at the waiter-area offset, header field at byte 104), through its
	// separate writable mapping of that page, when it sleeps in Wait.
	notify := int(binary.LittleEndian.Uint64(before[104:]))
	if len(after) != len(before) {
		t.Fatalf("a reader changed the segment's size: %d to %d bytes", len(before), len(after))
	}
	for i := range before {
		if before[i] != after[i] && (i < notify || i >= notify+4) {
			t.Errorf("a reader changed the segment: first difference at byte %d (waiter word at %d)", i, notify)
			break
		}
	}
	if res := holder.stop(time.Minute); res["closed"] != 1 {
		t.Errorf("holder: %v", res)
	}
}

// storeFaults stores into b[off] and reports an error unless the store
// faulted.
func storeFaults(b []byte, off int) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if _, ok := r.(interface{ Addr() uintptr }); ok {
			err = nil // the store faulted
		} else if r != nil {
			err = fmt.Errorf("store into the read-only mapping at offset %d: recovered %v, want a memory fault", off, r)
		}
	}()
	b[off] ^= 0xff
	return fmt.Errorf("store into the read-only mapping at offset %d did not fault", off)
}

// TestNamesCannotEscape: a name is never a path. Names with separators,
// dot names and the like are refused (ErrInvalidName) by every entry point,
// and nothing is created outside (or inside) the segment directory. The
// subscriber binary calls them usage errors (exit status 2).
func TestNamesCannotEscape(t *testing.T) {
	dir := segDir(t)
	bad := []string{"../x", "a/b", "..", ".", "", "/etc/passwd", "./x", ".hidden", "x/../../y",
		"a\x00b", "a b", "a\\b", "é", strings.Repeat("n", shmfile.MaxNameLen+1)}
	for _, name := range bad {
		calls := map[string]error{}
		_, calls["seqlock.Create"] = seqlock.Create(name, nil)
		_, calls["seqlock.Open"] = seqlock.Open(name, nil)
		_, calls["seqlock.Stat"] = seqlock.Stat(name)
		calls["seqlock.Remove"] = seqlock.Remove(name)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, calls["seqlock.OpenWait"] = seqlock.OpenWait(ctx, name, nil)
		cancel()
		_, calls["seqlock.CreateTyped"] = seqlock.CreateTyped[int64](name, nil)
		_, calls["shmfile.Create"] = shmfile.Create(name, 4096, nil)
		_, calls["shmfile.OpenReader"] = shmfile.OpenReader(name, 0)
		_, calls["shmfile.OpenWriter"] = shmfile.OpenWriter(name, 0, nil)
		_, calls["shmfile.Stat"] = shmfile.Stat(name)
		calls["shmfile.Remove"] = shmfile.Remove(name)
		for call, err := range calls {
			if !errors.Is(err, shmfile.ErrInvalidName) {
				t.Errorf("%s(%q) = %v, want ErrInvalidName", call, name, err)
			}
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.Name() != filepath.Base(dir) {
				t.Errorf("%s holds %q after the refused names", d, e.Name())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
		t.Errorf("../x was created")
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("../x exists: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a (of a/b) exists: %v", err)
	}
	if _, err := os.Stat(filepath.Join("..", "cmd", "subscriber", "main.go")); err != nil {
		return
	}
	bin := binaries(t)
	for _, name := range []string{"../x", "a/b", "..", "/etc/passwd"} {
		cmd := subscriberCmd(bin, name)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || strings.Contains(string(out), "panic") {
			t.Errorf("subscriber %q: %v, want exit status 2 (usage); output:\n%s", name, err, out)
		}
	}
}

// TestPlantedSymlinkNotFollowed: a symbolic link planted at a segment's
// path (to a file the attacker wants overwritten, or read as a segment) is
// never followed: Open, Create and Remove fail with ErrNotSegment and the
// link's target is untouched, as is the link. A dangling link does not make
// Create create its target.
func TestPlantedSymlinkNotFollowed(t *testing.T) {
	dir := segDir(t)
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "precious")
	if err := os.WriteFile(victim, []byte(strings.Repeat("precious data\n", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t)
	if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	dangling := uniqueName(t)
	missing := filepath.Join(victimDir, "created-through-link")
	if err := os.Symlink(missing, filepath.Join(dir, dangling)); err != nil {
		t.Fatal(err)
	}
	before := snapshot(filepath.Join(dir, name))
	for _, n := range []string{name, dangling} {
		calls := map[string]error{}
		_, calls["seqlock.Open"] = seqlock.Open(n, nil)
		_, calls["seqlock.Create"] = seqlock.Create(n, &seqlock.Options{Capacity: 64})
		_, calls["seqlock.Stat"] = seqlock.Stat(n)
		calls["seqlock.Remove"] = seqlock.Remove(n)
		_, calls["shmfile.OpenReader"] = shmfile.OpenReader(n, 0)
		_, calls["shmfile.OpenWriter"] = shmfile.OpenWriter(n, 0, nil)
		calls["shmfile.Remove"] = shmfile.Remove(n)
		for call, err := range calls {
			if !errors.Is(err, shmfile.ErrNotSegment) {
				t.Errorf("%s(link %q) = %v, want ErrNotSegment", call, n, err)
			}
		}
		// Create of a fresh segment refuses the taken name (O_EXCL sees
		// the link) rather than following it.
		if _, err := shmfile.Create(n, 4096, nil); !errors.Is(err, fs.ErrExist) && !errors.Is(err, shmfile.ErrNotSegment) {
			t.Errorf("shmfile.Create(link %q) = %v, want ErrExist or ErrNotSegment", n, err)
		}
	}
	if after := snapshot(filepath.Join(dir, name)); after != before {
		t.Errorf("the link or its target changed")
	}
	if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, dangling)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the dangling link was removed or replaced: %v", err)
	}
}
