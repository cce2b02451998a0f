//go:build linux || darwin

package shmfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/internal/testproc"
)

// runHelper is the helper process's main. "hold" creates the segment, writes
// childMessage, says "ready" and holds the writer lock until stdin closes or
// it is killed. "maprange" opens a reader and tries MapWritableRange.
func runHelper(mode, name string) int {
	switch mode {
	case "hold":
		return holdSegment(name)
	case "maprange":
		s, err := OpenReader(name, 0)
		if err != nil {
			fmt.Println("error open:", err)
			return 1
		}
		defer s.Close()
		if _, err := s.MapWritableRange(0, 8); err != nil {
			fmt.Printf("error permission=%v: %v\n", errors.Is(err, fs.ErrPermission), err)
			return 0
		}
		fmt.Println("mapped")
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 2
}

// helper starts the test binary as a helper process in mode for the segment
// name and returns it and its stdout.
func helper(t *testing.T, mode, name string, cred *syscall.Credential) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	return helperBinary(t, os.Args[0], mode, name, cred)
}

func helperBinary(t *testing.T, bin, mode, name string, cred *syscall.Credential) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	var sys *syscall.SysProcAttr
	if cred != nil {
		sys = &syscall.SysProcAttr{Credential: cred}
	}
	return startHelper(t, bin, sys, mode, name)
}

// segDir points SEQSHM_DIR at a new temporary directory and returns it.
func segDir(t *testing.T) string { return testproc.SegDir(t) }

// mustCreate creates a segment and closes and removes it when the test ends.
func mustCreate(t *testing.T, name string, size int, opts *Options) *Segment {
	t.Helper()
	s, err := Create(name, size, opts)
	if err != nil {
		t.Fatalf("Create(%q, %d, %+v) = %v, want nil error", name, size, opts, err)
	}
	dir := Dir()
	t.Cleanup(func() {
		s.Close()
		os.Remove(filepath.Join(dir, name))
	})
	return s
}

func TestDirFromEnvironment(t *testing.T) {
	t.Setenv("SEQSHM_DIR", "/some/where")
	if got, want := Dir(), "/some/where"; got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

func TestCreateOpenReadWrite(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	w := mustCreate(t, name, 8192, nil)
	if got, want := len(w.Bytes()), 8192; got != want {
		t.Fatalf("len(Create(%q, 8192, nil).Bytes()) = %d, want %d", name, got, want)
	}
	if !w.Writable() || w.Name() != name {
		t.Errorf("Create(%q) = Writable %v Name %q, want true %q", name, w.Writable(), w.Name(), name)
	}
	if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("segment file %s: %v, %v; want a regular file", name, fi, err)
	}
	copy(w.Bytes()[100:], "payload")

	r := mustOpen(t, name, 8192, false)
	if r.Writable() {
		t.Errorf("OpenReader(%q).Writable() = true, want false", name)
	}
	if got, want := string(r.Bytes()[100:107]), "payload"; got != want {
		t.Errorf("reader sees %q, want %q", got, want)
	}
	copy(w.Bytes()[200:], "later")
	if got, want := string(r.Bytes()[200:205]), "later"; got != want {
		t.Errorf("reader sees %q after a later write, want %q", got, want)
	}
	info, err := r.Stat()
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	if info.Size != 8192 || info.Name != name || info.UID != os.Getuid() {
		t.Errorf("Info() = %+v, want size 8192, name %q, uid %d", info, name, os.Getuid())
	}

	// The writer lets go; a new writer sees the old bytes.
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	w2 := mustOpen(t, name, 0, true)
	if got, want := string(w2.Bytes()[100:107]), "payload"; got != want {
		t.Errorf("second writer sees %q, want %q", got, want)
	}
}

func TestCreateExisting(t *testing.T) {
	segDir(t)
	name := segName(t)
	mustCreate(t, name, 4096, nil)
	s, err := Create(name, 4096, nil)
	if err == nil {
		s.Close()
		t.Fatalf("second Create(%q) = nil error, want fs.ErrExist", name)
	}
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create(%q) = %v, want fs.ErrExist", name, err)
	}
	if want := `shmfile: create "` + name + `": segment already exists`; err.Error() != want {
		t.Errorf("second Create(%q) = %q, want %q", name, err, want)
	}
}

func TestMissingSegment(t *testing.T) {
	segDir(t)
	name := segName(t)
	tests := []struct {
		op   string
		call func() error
		want string
	}{
		{"OpenReader", func() error { _, err := OpenReader(name, 0); return err }, `shmfile: open "` + name + `": no such segment`},
		{"OpenWriter", func() error { _, err := OpenWriter(name, 0, nil); return err }, `shmfile: open "` + name + `": no such segment`},
		{"Remove", func() error { return Remove(name) }, `shmfile: remove "` + name + `": no such segment`},
		{"Stat", func() error { _, err := Stat(name); return err }, `shmfile: stat "` + name + `": no such segment`},
	}
	for _, tc := range tests {
		err := tc.call()
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s(%q) = %v, want fs.ErrNotExist", tc.op, name, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.op, name, err, tc.want)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Errorf("%s(%q) = %v, want an *fs.PathError in the chain", tc.op, name, err)
		}
	}
}

func TestCreateMissingDir(t *testing.T) {
	t.Setenv("SEQSHM_DIR", filepath.Join(t.TempDir(), "nonexistent"))
	name := segName(t)
	s, err := Create(name, 4096, nil)
	if err == nil {
		s.Close()
		t.Fatalf("Create(%q) in a missing directory = nil error", name)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Create(%q) in a missing directory = %v, want fs.ErrNotExist saying the directory is missing", name, err)
	}
}

// TestNotSegment plants things that are not regular files at a segment's
// path: none may be followed, opened for mapping, or removed.
func TestNotSegment(t *testing.T) {
	tests := []struct {
		kind  string
		plant func(t *testing.T, path string)
		want  string
	}{
		{"symlink", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "target")
			if err := os.WriteFile(target, make([]byte, 8192), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"dangling-symlink", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "nowhere"), path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a directory"},
		{"fifo", func(t *testing.T, path string) {
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			dir := segDir(t)
			name := segName(t)
			path := filepath.Join(dir, name)
			tc.plant(t, path)
			calls := []struct {
				op   string
				call func() error
			}{
				{"OpenReader", func() error { s, err := OpenReader(name, 0); closeIf(s); return err }},
				{"OpenWriter", func() error { s, err := OpenWriter(name, 0, nil); closeIf(s); return err }},
				{"Remove", func() error { return Remove(name) }},
				{"Stat", func() error { _, err := Stat(name); return err }},
			}
			for _, c := range calls {
				done := make(chan error, 1)
				go func() { done <- c.call() }()
				var err error
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s(%q) on a %s blocked", c.op, name, tc.kind)
				}
				if !errors.Is(err, ErrNotSegment) {
					t.Errorf("%s(%q) on a %s = %v, want ErrNotSegment", c.op, name, tc.kind, err)
					continue
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+name+`"`) {
					t.Errorf("%s(%q) on a %s = %q, want it to name the segment and say %q", c.op, name, tc.kind, err, tc.want)
				}
			}
			// Create must not follow a symlink either: O_EXCL sees the name taken.
			s, err := Create(name, 4096, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Create(%q) over a %s = nil error", name, tc.kind)
			}
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("Create(%q) over a %s = %v, want fs.ErrExist", name, tc.kind, err)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("the planted %s is gone: %v", tc.kind, err)
			}
		})
	}
}

func closeIf(s *Segment) {
	if s != nil {
		s.Close()
	}
}

func TestSymlinkTargetUntouched(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	target := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenWriter(name, 0, nil); err == nil {
		copy(s.Bytes(), "clobber!")
		s.Close()
		t.Errorf("OpenWriter(%q) through a symlink = nil error", name)
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != "precious" {
		t.Errorf("symlink target = %q, %v; want %q untouched", got, err, "precious")
	}
}

func TestTooSmall(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, open := range []struct {
		fn   string
		call func(string, int) (*Segment, error)
	}{{"OpenReader", OpenReader}, {"OpenWriter", openWriter}} {
		s, err := open.call(name, 128)
		if err == nil {
			s.Close()
			t.Errorf("%s(%q, 128) on 100 bytes = nil error, want ErrTooSmall", open.fn, name)
			continue
		}
		want := `shmfile: open "` + name + `": segment too small: 100 bytes, need at least 128`
		if !errors.Is(err, ErrTooSmall) || err.Error() != want {
			t.Errorf("%s(%q, 128) = %q, want ErrTooSmall %q", open.fn, name, err, want)
		}
		// The failed writer must not keep the lock.
		s = mustOpen(t, name, 100, open.fn == "OpenWriter")
		s.Close()
	}
}

// TestZeroSize: a zero-size file (made by another program) opens with
// empty Bytes when the caller accepts it; mmap of length 0 would fail.
func TestZeroSize(t *testing.T) {
	dir := segDir(t)
	name := segName(t)
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, name, 0, false)
	if got := len(s.Bytes()); got != 0 {
		t.Errorf("len(OpenReader(%q, 0).Bytes()) = %d, want 0", name, got)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

func TestBusyInProcess(t *testing.T) {
	segDir(t)
	name := segName(t)
	w := mustCreate(t, name, 4096, nil)
	s, err := OpenWriter(name, 0, nil)
	if err == nil {
		s.Close()
		t.Fatalf("OpenWriter(%q) while Create holds it = nil error, want ErrBusy", name)
	}
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("OpenWriter(%q) = %v, want ErrBusy", name, err)
	}
	t.Logf("busy error: %v", err)

	r := mustOpen(t, name, 0, false)
	alive, pid, err := r.WriterAlive()
	if err != nil || !alive {
		t.Fatalf("reader WriterAlive() = %v, %d, %v; want true", alive, pid, err)
	}
	if alive, pid, err := w.WriterAlive(); !alive || pid != os.Getpid() || err != nil {
		t.Errorf("writer WriterAlive() = %v, %d, %v; want true, %d, nil", alive, pid, err, os.Getpid())
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if alive, pid, err := r.WriterAlive(); alive || err != nil {
		t.Errorf("reader WriterAlive() after writer Close = %v, %d, %v; want false", alive, pid, err)
	}
	mustOpen(t, name, 0, true)
}

// TestBusyOtherProcess: a helper process creates the segment and holds the
// writer lock; this process gets ErrBusy and sees it alive; after SIGKILL
// the lock is free and the written bytes remain.
func TestBusyOtherProcess(t *testing.T) {
	segDir(t)
	name := segName(t)
	cmd, out, _ := helper(t, "hold", name, nil)
	t.Cleanup(func() { Remove(name) })
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v; want ready", line, err)
	}
	child := cmd.Process.Pid

	_, err := OpenWriter(name, 0, nil)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("OpenWriter(%q) while a child holds it = %v, want ErrBusy", name, err)
	}
	if pidKnown && !strings.Contains(err.Error(), fmt.Sprintf("writer pid %d", child)) {
		t.Errorf("OpenWriter(%q) = %q, want it to name writer pid %d", name, err, child)
	}
	r := mustOpen(t, name, 4096, false)
	if got := string(r.Bytes()[:len(childMessage)]); got != childMessage {
		t.Errorf("reader sees %q, want %q", got, childMessage)
	}
	alive, pid, err := r.WriterAlive()
	wantPid := 0
	if pidKnown {
		wantPid = child
	}
	if !alive || pid != wantPid || err != nil {
		t.Errorf("WriterAlive() = %v, %d, %v; want true, %d, nil", alive, pid, err, wantPid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if alive, pid, err := r.WriterAlive(); alive || pid != 0 || err != nil {
		t.Errorf("WriterAlive() after SIGKILL = %v, %d, %v; want false, 0, nil", alive, pid, err)
	}
	w := mustOpen(t, name, 4096, true)
	if got := string(w.Bytes()[:len(childMessage)]); got != childMessage {
		t.Errorf("new writer sees %q, want %q", got, childMessage)
	}
}

func TestRemoveWhileMapped(t *testing.T) {
	segDir(t)
	name := segName(t)
	w := mustCreate(t, name, 4096, nil)
	r := mustOpen(t, name, 0, false)
	copy(w.Bytes(), "old")
	if got, err := r.Replaced(); got || err != nil {
		t.Errorf("Replaced() of a live segment = %v, %v, want false, nil", got, err)
	}
	if err := Remove(name); err != nil {
		t.Fatalf("Remove(%q) = %v", name, err)
	}
	if got, err := r.Replaced(); !got || err != nil {
		t.Errorf("Replaced() after Remove = %v, %v, want true, nil", got, err)
	}
	if _, err := Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) after Remove = %v, want fs.ErrNotExist", name, err)
	}
	// Both mappings still work and still share the old object.
	copy(w.Bytes()[10:], "still")
	if got := string(r.Bytes()[10:15]); got != "still" {
		t.Errorf("reader of a removed segment sees %q, want %q", got, "still")
	}
	if _, err := w.Stat(); err != nil {
		t.Errorf("Info() of a removed segment = %v", err)
	}
	// A new Create makes a different object.
	w2 := mustCreate(t, name, 4096, nil)
	if got := string(w2.Bytes()[:3]); got == "old" {
		t.Errorf("new segment %q shows the old bytes %q", name, got)
	}
	copy(w2.Bytes(), "new")
	if got, err := r.Replaced(); !got || err != nil {
		t.Errorf("Replaced() after a new Create = %v, %v, want true, nil", got, err)
	}
	if got, err := w2.Replaced(); got || err != nil {
		t.Errorf("Replaced() of the new segment = %v, %v, want false, nil", got, err)
	}
	if got := string(r.Bytes()[:3]); got != "old" {
		t.Errorf("reader of the removed segment sees %q, want %q", got, "old")
	}
	if err := Remove(name); err != nil {
		t.Errorf("Remove(%q) = %v", name, err)
	}
}

func TestMode(t *testing.T) {
	old := unix.Umask(0o077)
	t.Cleanup(func() { unix.Umask(old) })
	segDir(t)
	tests := []struct {
		opts *Options
		want fs.FileMode
	}{
		{nil, 0o600},
		{&Options{}, 0o600},
		{&Options{Mode: 0o640}, 0o640},
		{&Options{Mode: 0o666}, 0o666},
		{&Options{Mode: 0o400}, 0o400},
	}
	for i, tc := range tests {
		name := fmt.Sprintf("%s-%d", segName(t), i)
		s := mustCreate(t, name, 4096, tc.opts)
		info, err := Stat(name)
		if err != nil || info.Mode != tc.want {
			t.Errorf("Stat(%q) after Create(%+v) = %v, %v; want mode %v", name, tc.opts, info.Mode, err, tc.want)
		}
		if info, err := s.Stat(); err != nil || info.Mode != tc.want {
			t.Errorf("Info() after Create(%+v) = %v, %v; want mode %v", tc.opts, info.Mode, err, tc.want)
		}
	}
}

func TestStatAndList(t *testing.T) {
	dir := segDir(t)
	base := segName(t)
	sizes := map[string]int{base + "-b": 8192, base + "-a": 4096, base + "-c": 12288}
	for name, size := range sizes {
		mustCreate(t, name, size, &Options{Mode: 0o640})
	}
	// Things List must skip.
	os.Mkdir(filepath.Join(dir, base+"-dir"), 0o700)
	os.Symlink(filepath.Join(dir, base+"-a"), filepath.Join(dir, base+"-link"))
	unix.Mkfifo(filepath.Join(dir, base+"-fifo"), 0o600)
	os.WriteFile(filepath.Join(dir, ".hidden"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "bad name"), nil, 0o600)

	got, err := List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var want []Info
	for _, n := range []string{base + "-a", base + "-b", base + "-c"} {
		want = append(want, Info{Name: n, Size: int64(sizes[n]), Mode: 0o640, UID: os.Getuid()})
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Info{}, "ModTime")); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
	for _, info := range got {
		if time.Since(info.ModTime) > time.Hour || info.ModTime.IsZero() {
			t.Errorf("List() ModTime of %q = %v, want about now", info.Name, info.ModTime)
		}
	}
	info, err := Stat(base + "-b")
	if err != nil {
		t.Fatalf("Stat(%q) = %v", base+"-b", err)
	}
	if diff := cmp.Diff(want[1], info, cmpopts.IgnoreFields(Info{}, "ModTime")); diff != "" {
		t.Errorf("Stat(%q) mismatch (-want +got):\n%s", base+"-b", diff)
	}
}

func TestListEmptyAndMissingDir(t *testing.T) {
	segDir(t)
	if got, err := List(); err != nil || len(got) != 0 {
		t.Errorf("List() in an empty directory = %v, %v; want empty, nil", got, err)
	}
	t.Setenv("SEQSHM_DIR", filepath.Join(t.TempDir(), "missing"))
	if _, err := List(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List() in a missing directory = %v, want fs.ErrNotExist", err)
	}
}

func TestCloseIdempotentAndClosed(t *testing.T) {
	segDir(t)
	name := segName(t)
	s := mustCreate(t, name, 4096, nil)
	for i := 0; i < 2; i++ {
		if err := s.Close(); err != nil {
			t.Errorf("Close() #%d = %v, want nil", i+1, err)
		}
	}
	if b := s.Bytes(); b != nil {
		t.Errorf("Bytes() after Close = %d bytes, want nil", len(b))
	}
	if _, err := s.Stat(); !errors.Is(err, ErrClosed) {
		t.Errorf("Info() after Close = %v, want ErrClosed", err)
	}
	if _, _, err := s.WriterAlive(); !errors.Is(err, ErrClosed) {
		t.Errorf("WriterAlive() after Close = %v, want ErrClosed", err)
	}
	if _, err := s.MapWritableRange(0, 8); !errors.Is(err, ErrClosed) {
		t.Errorf("MapWritableRange() after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentUse exercises the methods from several goroutines under
// the race detector.
func TestConcurrentUse(t *testing.T) {
	segDir(t)
	name := segName(t)
	w := mustCreate(t, name, 4096, nil)
	r := mustOpen(t, name, 0, false)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				_ = len(r.Bytes()) + len(w.Bytes())
				if _, _, err := r.WriterAlive(); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Stat(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
