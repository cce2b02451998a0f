package shmfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The writer's pid is encoded in its OFD lock range.
const pidKnown = true

func TestDirDefault(t *testing.T) {
	t.Setenv("SEQSHM_DIR", "")
	if got, want := Dir(), "/dev/shm"; got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

// TestDevShm makes a real segment in /dev/shm, where shm_open finds it.
func TestDevShm(t *testing.T) {
	t.Setenv("SEQSHM_DIR", "")
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		t.Skipf("no /dev/shm on this system: %v", err)
	}
	name := segName(t)
	w := mustCreate(t, name, 4096, nil)
	copy(w.Bytes(), "devshm")
	got, err := os.ReadFile("/dev/shm/" + name)
	if err != nil || string(got[:6]) != "devshm" {
		t.Errorf("/dev/shm/%s = %q, %v; want it to start with %q", name, got[:6], err, "devshm")
	}
	if err := Remove(name); err != nil {
		t.Errorf("Remove(%q) = %v", name, err)
	}
}

// mapsPerms returns the permissions column of the /proc/self/maps lines of
// path.
func mapsPerms(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer f.Close()
	var perms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[5] == path {
			perms = append(perms, fields[1])
		}
	}
	return perms
}

func TestReaderMappingIsReadOnly(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	path := filepath.Join(dir, name)
	w := mustCreate(t, name, 4096, nil)
	if got, want := mapsPerms(t, path), []string{"rw-s"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/proc/self/maps for the writer = %v, want %v", got, want)
	}
	w.Close()
	r := mustOpen(t, name, 0, false)
	if got, want := mapsPerms(t, path), []string{"r--s"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/proc/self/maps for the reader = %v, want %v", got, want)
	}
	r.Close()
	if got := mapsPerms(t, path); len(got) != 0 {
		t.Errorf("/proc/self/maps after Close = %v, want no mapping", got)
	}
}

// TestProbeFromReadOnlyFD checks the premise of WriterAlive: F_OFD_GETLK
// works on a descriptor opened O_RDONLY, and reports the pid by length.
func TestProbeFromReadOnlyFD(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	mustCreate(t, name, 4096, nil)
	fd, err := unix.Open(filepath.Join(dir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	alive, pid, err := probeWriter(fd)
	if !alive || pid != os.Getpid() || err != nil {
		t.Errorf("probeWriter(O_RDONLY fd) = %v, %d, %v; want true, %d, nil", alive, pid, err, os.Getpid())
	}
}

// TestNoSpace fills a 64 KiB tmpfs: Create must fail at once with ENOSPC,
// say so, and leave nothing behind.
func TestNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs (no CAP_SYS_ADMIN here?): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	t.Setenv("SEQSHM_DIR", dir)
	name := segName(t)
	s, err := Create(name, 1<<20, nil)
	if err == nil {
		s.Close()
		Remove(name)
		t.Fatalf("Create(%q, 1 MiB) on a 64 KiB tmpfs = nil error, want ENOSPC", name)
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrNoSpace) {
		t.Errorf("Create(%q, 1 MiB) = %v, want syscall.ENOSPC and ErrNoSpace", name, err)
	}
	want := fmt.Sprintf(`shmfile: create %q: no space left in %s for %d bytes`, name, dir, 1<<20)
	if err.Error() != want {
		t.Errorf("Create(%q, 1 MiB) = %q, want %q", name, err, want)
	}
	if _, err := Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) after a failed Create = %v, want fs.ErrNotExist (half-made file removed)", name, err)
	}
	// A segment that fits still works there.
	s = mustCreate(t, name, 16<<10, nil)
	s.Close()
}

func TestMapWritableRange(t *testing.T) {
	segDir(t)
	name := segName(t)
	ps := os.Getpagesize()
	w := mustCreate(t, name, 4*ps, nil)
	r := mustOpen(t, name, 0, false)

	win, err := r.MapWritableRange(ps, 64)
	if err != nil {
		t.Fatalf("MapWritableRange(%d, 64) = %v", ps, err)
	}
	if len(win) != 64 {
		t.Fatalf("len(MapWritableRange(%d, 64)) = %d, want 64", ps, len(win))
	}
	copy(win, "from reader")
	if got := string(w.Bytes()[ps : ps+11]); got != "from reader" {
		t.Errorf("writer sees %q at the window, want %q", got, "from reader")
	}
	copy(w.Bytes()[ps+32:], "from writer")
	if got := string(win[32:43]); got != "from writer" {
		t.Errorf("window sees %q, want %q", got, "from writer")
	}
	// The data mapping stays read-only; the window is rw.
	// The reader's data mapping stays read-only beside the window.
	if perms := mapsPerms(t, filepath.Join(Dir(), name)); strings.Count(strings.Join(perms, " "), "r--s") != 1 {
		t.Errorf("/proc/self/maps for the segment = %v, want exactly one r--s mapping (the reader's data)", perms)
	}
	if wwin, err := w.MapWritableRange(0, ps); err != nil || len(wwin) != ps {
		t.Errorf("writer MapWritableRange(0, %d) = %d bytes, %v", ps, len(wwin), err)
	}

	bad := []struct {
		off, length int
		want        string
	}{
		{1, 8, "not a multiple of the page size"},
		{-ps, 8, "not a multiple of the page size"},
		{0, 0, "not within the segment"},
		{3 * ps, 2 * ps, "not within the segment"},
		{8 * ps, 8, "not within the segment"},
	}
	for _, tc := range bad {
		if _, err := r.MapWritableRange(tc.off, tc.length); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MapWritableRange(%d, %d) = %v, want an error saying %q", tc.off, tc.length, err, tc.want)
		}
	}

	if err := r.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := mapsPerms(t, filepath.Join(Dir(), name)); len(got) != 2 {
		t.Errorf("mappings left after the reader's Close = %v, want the writer's 2", got)
	}
}

func TestMapWritableRangeReplaced(t *testing.T) {
	segDir(t)
	name := segName(t)
	w := mustCreate(t, name, 4096, nil)
	r := mustOpen(t, name, 0, false)
	w.Close()
	if err := Remove(name); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MapWritableRange(0, 8); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MapWritableRange after Remove = %v, want fs.ErrNotExist", err)
	}
	mustCreate(t, name, 4096, nil)
	_, err := r.MapWritableRange(0, 8)
	if err == nil || !strings.Contains(err.Error(), "different object") {
		t.Errorf("MapWritableRange after the name was re-created = %v, want a different-object error", err)
	}
}

// TestMapWritableRangePermission runs a reader as user nobody on a segment
// it may read but not write: MapWritableRange must fail with
// fs.ErrPermission. Root bypasses permission checks, so the reader is a
// helper process with dropped privileges.
func TestMapWritableRangePermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges to uid 65534 needs root")
	}
	// The helper must reach the test binary and the segment directory.
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(root, "shmfile.test")
	copyFile(t, os.Args[0], bin, 0o755)
	dir := filepath.Join(root, "segments")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEQSHM_DIR", dir)
	name := segName(t)
	mustCreate(t, name, 4096, &Options{Mode: 0o444})

	_, out, _ := helperBinary(t, bin, "maprange", name, &syscall.Credential{Uid: 65534, Gid: 65534})
	line, err := out.ReadString('\n')
	if err != nil && line == "" {
		t.Skipf("helper as uid 65534 said nothing (%v): cannot run it here", err)
	}
	if !strings.HasPrefix(line, "error permission=true: ") || !strings.Contains(line, `shmfile: map range "`+name+`"`) {
		t.Errorf("MapWritableRange as uid 65534 on a 0444 segment: helper said %q, want an fs.ErrPermission error", line)
	}

	// The same as root succeeds (root bypasses the mode).
	r := mustOpen(t, name, 0, false)
	if _, err := r.MapWritableRange(0, 8); err != nil {
		t.Errorf("MapWritableRange as root = %v, want nil", err)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
