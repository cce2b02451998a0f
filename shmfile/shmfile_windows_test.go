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
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

const parentMessage = "hello from parent"

// runHelper is the helper process's main. "hold" creates the segment,
// writes childMessage, says "ready" and holds the writer lock until stdin
// closes or it is killed. "read" opens the segment as a reader and reports
// what it sees, whether OpenWriter is busy and whether the writer is alive.
func runHelper(mode, name string) int {
	switch mode {
	case "hold":
		return holdSegment(name)
	case "read":
		r, err := OpenReader(name, 4096)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		defer r.Close()
		_, werr := OpenWriter(name, 0, nil)
		alive, _, err := r.WriterAlive()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("saw=%q busy=%v alive=%v\n", r.Bytes()[:len(parentMessage)], errors.Is(werr, ErrBusy), alive)
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 2
}

func helper(t *testing.T, mode, name string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	return startHelper(t, os.Args[0], nil, mode, name)
}

func mustCreate(t *testing.T, name string, size int) *Segment {
	t.Helper()
	s, err := Create(name, size, nil)
	if err != nil {
		t.Fatalf("Create(%q, %d, nil) = %v, want nil error", name, size, err)
	}
	t.Cleanup(func() {
		s.Close()
		Remove(name)
	})
	return s
}

func TestWindowsSegment(t *testing.T) {
	name := segName(t)
	w := mustCreate(t, name, 10000)
	if got := len(w.Bytes()); got != 10000 {
		t.Errorf("len(Create(%q, 10000).Bytes()) = %d, want 10000", name, got)
	}
	copy(w.Bytes(), parentMessage)

	if s, err := Create(name, 10000, nil); !errors.Is(err, fs.ErrExist) {
		closeIf(s)
		t.Errorf("second Create(%q) = %v, want fs.ErrExist", name, err)
	}

	r := mustOpen(t, name, 10000, false)
	if got := string(r.Bytes()[:len(parentMessage)]); got != parentMessage {
		t.Errorf("reader sees %q, want %q", got, parentMessage)
	}
	if got := len(r.Bytes()); got != 10000 {
		t.Errorf("len(OpenReader(%q).Bytes()) = %d, want 10000", name, got)
	}
	if r.Writable() {
		t.Errorf("OpenReader(%q).Writable() = true, want false", name)
	}

	s, err := OpenWriter(name, 0, nil)
	var busy *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &busy) {
		closeIf(s)
		t.Fatalf("OpenWriter(%q) while the first writer holds it = %v, want ErrBusy with a *BusyError", name, err)
	}
	if err := Remove(name); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove(%q) while a writer holds it = %v, want ErrBusy", name, err)
	}
	if alive, _, err := r.WriterAlive(); !alive || err != nil {
		t.Errorf("reader WriterAlive() = %v, %v; want true, nil", alive, err)
	}
	if alive, pid, err := w.WriterAlive(); !alive || pid != os.Getpid() || err != nil {
		t.Errorf("writer WriterAlive() = %v, %d, %v; want true, %d, nil", alive, pid, err, os.Getpid())
	}
	if info, err := Stat(name); err != nil || info.Size != 10000 || info.Name != name || info.Mode != 0o600 || info.UID != -1 {
		t.Errorf("Stat(%q) = %+v, %v; want size 10000, mode 0600, UID -1", name, info, err)
	}

	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if alive, _, err := r.WriterAlive(); alive || err != nil {
		t.Errorf("reader WriterAlive() after the writer's Close = %v, %v; want false, nil", alive, err)
	}
	w2 := mustOpen(t, name, 0, true)
	if got := string(w2.Bytes()[:len(parentMessage)]); got != parentMessage {
		t.Errorf("second writer sees %q, want %q", got, parentMessage)
	}
	if err := w2.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := w2.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	// The file keeps the value with no handle open anywhere.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := mustOpen(t, name, 0, false)
	if got := string(r2.Bytes()[:len(parentMessage)]); got != parentMessage {
		t.Errorf("reader after every handle closed sees %q, want %q", got, parentMessage)
	}
}

// onWine reports whether the tests run under wine, whose ntdll has
// wine_get_version.
func onWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

func closeIf(s *Segment) {
	if s != nil {
		s.Close()
	}
}

func TestWindowsErrors(t *testing.T) {
	name := segName(t)
	_, err := OpenReader(name, 0)
	if want := `shmfile: open "` + name + `": no such segment`; !errors.Is(err, fs.ErrNotExist) || err == nil || err.Error() != want {
		t.Errorf("OpenReader(%q) of a missing segment = %v, want fs.ErrNotExist %q", name, err, want)
	}
	if _, err := OpenWriter(name, 0, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenWriter(%q) of a missing segment = %v, want fs.ErrNotExist", name, err)
	}
	if _, err := Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) of a missing segment = %v, want fs.ErrNotExist", name, err)
	}
	if err := Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(%q) of a missing segment = %v, want fs.ErrNotExist", name, err)
	}

	w := mustCreate(t, name, 4096)
	if s, err := OpenReader(name, 8192); !errors.Is(err, ErrTooSmall) {
		closeIf(s)
		t.Errorf("OpenReader(%q, 8192) of 4096 bytes = %v, want ErrTooSmall", name, err)
	}
	want := Dir()
	if d := os.Getenv("SEQSHM_DIR"); d == "" {
		want = filepath.Join(os.Getenv("LOCALAPPDATA"), "seqshm")
	}
	if got := Dir(); got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
	infos, err := List()
	if err != nil || !slices.ContainsFunc(infos, func(i Info) bool { return i.Name == name && i.Size == 4096 }) {
		t.Errorf("List() = %+v, %v; want it to hold %q of 4096 bytes", infos, err, name)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Stat(name); err != nil {
		t.Errorf("Stat(%q) after the writer closed = %v, want the file kept", name, err)
	}
	if err := Remove(name); err != nil {
		t.Fatalf("Remove(%q) = %v", name, err)
	}
	if _, err := OpenReader(name, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReader(%q) after Remove = %v, want fs.ErrNotExist", name, err)
	}
	if err := os.Mkdir(filepath.Join(Dir(), name), 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(Dir(), name))
	if _, err := OpenReader(name, 0); !errors.Is(err, ErrNotSegment) {
		t.Errorf("OpenReader(%q) of a directory = %v, want ErrNotSegment", name, err)
	}
}

// TestWindowsReplaced removes a segment under a reader and creates it anew.
func TestWindowsReplaced(t *testing.T) {
	name := segName(t)
	w := mustCreate(t, name, 4096)
	r := mustOpen(t, name, 0, false)
	if rep, err := r.Replaced(); rep || err != nil {
		t.Errorf("Replaced() = %v, %v; want false, nil", rep, err)
	}
	if err := w.Remove(); err != nil {
		t.Fatalf("Segment.Remove() = %v", err)
	}
	if rep, err := r.Replaced(); !rep || err != nil {
		t.Errorf("Replaced() after Remove = %v, %v; want true, nil", rep, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Without POSIX delete semantics (wine) the name is free only once
	// every handle is closed.
	r.Close()
	w2 := mustCreate(t, name, 4096)
	r2 := mustOpen(t, name, 0, false)
	if err := w2.Remove(); err != nil {
		t.Fatal(err)
	}
	r2.Close()
	w2.Close()
	w3 := mustCreate(t, name, 4096)
	if err := w2.Remove(); err == nil {
		t.Errorf("Remove() of a closed segment = nil, want an error")
	}
	if rep, err := w3.Replaced(); rep || err != nil {
		t.Errorf("new segment's Replaced() = %v, %v; want false, nil", rep, err)
	}
}

// TestWindowsMode checks the DACL that Options.Mode maps to, as Stat reads
// it back, and OpenWriter's trust check.
func TestWindowsMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644, 0o660, 0o604, 0o666} {
		t.Run(fmt.Sprintf("%04o", uint32(mode)), func(t *testing.T) {
			name := segName(t)
			s, err := Create(name, 4096, &Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Close(); Remove(name) }()
			info, err := s.Stat()
			switch {
			case err != nil:
				t.Errorf("Stat() = %v", err)
			case onWine():
				// wine keeps no DACL: it turns one into Unix permission
				// bits (masked by the umask) and derives a DACL back
				// from them. Only the owner bits are sure to survive.
				if info.Mode&0o600 != 0o600 || info.Mode&^mode != 0 {
					t.Errorf("Stat() of a segment created with mode %04o = mode %04o, want the owner bits and no more than asked", mode, info.Mode)
				}
			case info.Mode != mode:
				t.Errorf("Stat() of a segment created with mode %04o = %+v; want that mode", mode, info)
			}
			s.Close()
			if info.Mode != 0o600 {
				if w, err := OpenWriter(name, 0, nil); !errors.Is(err, ErrNotTrusted) {
					closeIf(w)
					t.Errorf("OpenWriter(%q, 0600) of a %04o segment = %v, want ErrNotTrusted", name, info.Mode, err)
				}
			}
			w, err := OpenWriter(name, 0, &Options{Mode: mode})
			if err != nil {
				t.Fatalf("OpenWriter(%q, %04o) = %v", name, mode, err)
			}
			w.Close()
		})
	}
}

// TestWindowsDACL checks the DACL each mode maps to and the mode derived
// back from it, in memory (wine does not keep DACLs on files).
func TestWindowsDACL(t *testing.T) {
	user, _, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	for mode := fs.FileMode(0); mode <= 0o777; mode++ {
		sec, err := securityFor(mode | 0o600)
		if err != nil {
			t.Fatalf("securityFor(%04o) = %v", mode|0o600, err)
		}
		got, err := modeOf(sec.file, user)
		if want := (mode | 0o600) & 0o666; got != want || err != nil {
			t.Errorf("modeOf(securityFor(%04o).file) = %04o, %v; want %04o", mode|0o600, got, err, want)
		}
	}
	sec, _ := securityFor(0o604)
	if got := sec.file.String(); strings.Contains(got, ";;;BU)") || !strings.Contains(got, ";;;WD)") || !strings.Contains(got, "D:P(") {
		t.Errorf("0604's DACL %s: want a protected DACL granting Everyone and not BUILTIN\\Users", got)
	}
	sec, _ = securityFor(0o600)
	if got := sec.file.String(); strings.Contains(got, ";;;BU)") || strings.Contains(got, ";;;WD)") {
		t.Errorf("0600's DACL %s grants others something", got)
	}
}

// TestWindowsNamedMapping reads a writer's segment the way the classic
// examples do: OpenFileMapping of Local\seqshm.NAME and MapViewOfFile.
func TestWindowsNamedMapping(t *testing.T) {
	name := segName(t)
	w := mustCreate(t, name, 4096)
	copy(w.Bytes(), parentMessage)
	h, err := openFileMapping(windows.FILE_MAP_READ, `Local\seqshm.`+name)
	if err != nil {
		t.Fatalf("OpenFileMapping(Local\\seqshm.%s) = %v", name, err)
	}
	defer windows.CloseHandle(h)
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.UnmapViewOfFile(addr)
	if got := string(viewBytes(addr, len(parentMessage))); got != parentMessage {
		t.Errorf("the named mapping holds %q, want %q", got, parentMessage)
	}
}

// TestWindowsMapWritableRange maps a window of a reader's segment
// read-write and stores through it.
func TestWindowsMapWritableRange(t *testing.T) {
	name := segName(t)
	w := mustCreate(t, name, 3*allocationGranularity)
	r := mustOpen(t, name, 0, false)
	if _, err := r.MapWritableRange(4096, 8); err == nil {
		t.Errorf("MapWritableRange(4096, 8) = nil error, want one (not a multiple of 64 KiB)")
	}
	b, err := r.MapWritableRange(allocationGranularity, 128)
	if err != nil {
		t.Fatalf("MapWritableRange(64 KiB, 128) = %v", err)
	}
	copy(b, "waiter")
	if got := string(w.Bytes()[allocationGranularity : allocationGranularity+6]); got != "waiter" {
		t.Errorf("the writer sees %q at 64 KiB, want %q", got, "waiter")
	}
	wb, err := w.MapWritableRange(2*allocationGranularity, 8)
	if err != nil {
		t.Fatalf("writer MapWritableRange = %v", err)
	}
	copy(wb, "x")
	if got := r.Bytes()[2*allocationGranularity]; got != 'x' {
		t.Errorf("reader sees %q, want 'x'", got)
	}
}

// TestWindowsTwoProcesses shares a segment and its writer lock between this
// process and a helper process, both ways round, and kills a writer.
func TestWindowsTwoProcesses(t *testing.T) {
	t.Run("parent-writes", func(t *testing.T) {
		name := segName(t)
		w := mustCreate(t, name, 4096)
		copy(w.Bytes(), parentMessage)
		_, out, _ := helper(t, "read", name)
		line, err := out.ReadString('\n')
		if want := fmt.Sprintf("saw=%q busy=true alive=true\n", parentMessage); line != want {
			t.Errorf("reader process said %q, %v; want %q", line, err, want)
		}
	})
	t.Run("child-writes-and-dies", func(t *testing.T) {
		name := segName(t)
		cmd, out, _ := helper(t, "hold", name)
		if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("helper said %q, %v; want ready", line, err)
		}
		r := mustOpen(t, name, 4096, false)
		if got := string(r.Bytes()[:len(childMessage)]); got != childMessage {
			t.Errorf("reader sees %q, want %q", got, childMessage)
		}
		if s, err := OpenWriter(name, 0, nil); !errors.Is(err, ErrBusy) {
			closeIf(s)
			t.Errorf("OpenWriter(%q) while the child holds it = %v, want ErrBusy", name, err)
		}
		if alive, _, err := r.WriterAlive(); !alive || err != nil {
			t.Errorf("WriterAlive() = %v, %v; want true, nil", alive, err)
		}
		// TerminateProcess: the mutex is abandoned, our handle keeps the
		// mapping.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if alive, _, err := r.WriterAlive(); alive || err != nil {
			t.Errorf("WriterAlive() after killing the writer = %v, %v; want false, nil", alive, err)
		}
		w := mustOpen(t, name, 4096, true)
		if got := string(w.Bytes()[:len(childMessage)]); got != childMessage {
			t.Errorf("new writer sees %q, want %q", got, childMessage)
		}
		w.Close()
		r.Close()
		if err := Remove(name); err != nil {
			t.Errorf("Remove(%q) = %v", name, err)
		}
	})
}
