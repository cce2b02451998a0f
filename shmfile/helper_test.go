//go:build linux || darwin || windows

package shmfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/seqshm/seqshm/internal/testproc"
)

// The test binary doubles as a helper process (internal/testproc): the role
// "shmfile MODE NAME" runs runHelper (one per OS).
func TestMain(m *testing.M) {
	os.Exit(testproc.Main(m, map[string]testproc.Role{
		"shmfile": func(args []string) int { return runHelper(args[0], args[1]) },
	}))
}

const childMessage = "hello from child"

// holdSegment is the helper mode "hold" on every OS: create the segment
// (mode 0644 where modes apply), write childMessage, say "ready" and hold
// the writer lock until stdin closes or the process is killed.
func holdSegment(name string) int {
	s, err := Create(name, 4096, &Options{Mode: 0o644})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	copy(s.Bytes(), childMessage)
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// startHelper starts bin (the test binary, or a copy of it) as a helper
// process in mode on segment name, with its stdin and stdout piped and
// attributes sys (nil: none); the test's end kills it.
func startHelper(t *testing.T, bin string, sys *syscall.SysProcAttr, mode, name string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	cmd := testproc.Command("shmfile", mode, name)
	cmd.Path, cmd.Args[0], cmd.SysProcAttr = bin, bin, sys
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper process: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewReader(stdout), stdin
}

// openWriter is OpenWriter accepting the mode 0644 the helper's segments
// have.
func openWriter(name string, minSize int) (*Segment, error) {
	return OpenWriter(name, minSize, &Options{Mode: 0o644})
}

// mustOpen opens a reader or a writer Segment, closed when the test ends.
func mustOpen(t *testing.T, name string, minSize int, writer bool) *Segment {
	t.Helper()
	open, fn := OpenReader, "OpenReader"
	if writer {
		open, fn = openWriter, "OpenWriter"
	}
	s, err := open(name, minSize)
	if err != nil {
		t.Fatalf("%s(%q, %d) = %v, want nil error", fn, name, minSize, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
