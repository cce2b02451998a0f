package shmfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"testing"
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
	return startHelper(t, exec.Command(os.Args[0], "-test.run=^$"), mode, name)
}

func mustCreate(t *testing.T, name string, size int) *Segment {
	t.Helper()
	s, err := Create(name, size, nil)
	if err != nil {
		t.Fatalf("Create(%q, %d, nil) = %v, want nil error", name, size, err)
	}
	t.Cleanup(func() { s.Close() })
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
	if got := len(r.Bytes()); got < 10000 || got%4096 != 0 {
		t.Errorf("len(OpenReader(%q).Bytes()) = %d, want 10000 rounded up to whole pages", name, got)
	}
	if r.Writable() {
		t.Errorf("OpenReader(%q).Writable() = true, want false", name)
	}

	s, err := OpenWriter(name, 0, nil)
	if !errors.Is(err, ErrBusy) {
		closeIf(s)
		t.Fatalf("OpenWriter(%q) while the first writer holds it = %v, want ErrBusy", name, err)
	}
	if alive, _, err := r.WriterAlive(); !alive || err != nil {
		t.Errorf("reader WriterAlive() = %v, %v; want true, nil", alive, err)
	}
	if alive, pid, err := w.WriterAlive(); !alive || pid != os.Getpid() || err != nil {
		t.Errorf("writer WriterAlive() = %v, %d, %v; want true, %d, nil", alive, pid, err, os.Getpid())
	}
	if info, err := Stat(name); err != nil || info.Size < 10000 || info.Name != name {
		t.Errorf("Stat(%q) = %+v, %v; want size >= 10000", name, info, err)
	}

	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if alive, _, err := r.WriterAlive(); alive || err != nil {
		t.Errorf("reader WriterAlive() after the writer's Close = %v, %v; want false, nil", alive, err)
	}
	// The reader's handle keeps the segment; a new writer sees the bytes.
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

	w := mustCreate(t, name, 4096)
	if s, err := OpenReader(name, 8192); !errors.Is(err, ErrTooSmall) {
		closeIf(s)
		t.Errorf("OpenReader(%q, 8192) of 4096 bytes = %v, want ErrTooSmall", name, err)
	}
	if _, err := w.MapWritableRange(0, 8); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MapWritableRange = %v, want errors.ErrUnsupported", err)
	}
	if err := Remove(name); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Remove(%q) = %v, want errors.ErrUnsupported", name, err)
	}
	if _, err := List(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("List() = %v, want errors.ErrUnsupported", err)
	}
	if got := Dir(); got != "" {
		t.Errorf("Dir() = %q, want \"\"", got)
	}

	// The segment vanishes with its last handle.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReader(name, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReader(%q) after the last handle closed = %v, want fs.ErrNotExist", name, err)
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
	})
}
