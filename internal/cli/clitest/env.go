package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/testproc"
)

// Timeout bounds every process a test runs or waits for: a guard against
// hangs, not a timing assertion.
const Timeout = 20 * time.Second

// An Env runs the tools for one test, in a segment directory of its own.
type Env struct {
	Bins Binaries
	Dir  string // SEQSHM_DIR of the processes
}

// New returns an Env with a fresh segment directory for t.
func New(t *testing.T, bins Binaries) *Env {
	t.Helper()
	return &Env{Bins: bins, Dir: t.TempDir()}
}

// Name returns a segment name unique to t (within the process).
func Name(t *testing.T) string {
	return strings.Trim(testproc.Sanitize(t.Name()), "._")
}

func (e *Env) command(ctx context.Context, tool string, args []string) *exec.Cmd {
	bin, ok := e.Bins[tool]
	if !ok {
		panic("clitest: no binary for " + tool)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	// A race-enabled binary sleeps a second at exit unless told not to.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), "SEQSHM_DIR="+e.Dir, "GORACE="+gorace)
	cmd.WaitDelay = time.Second
	return cmd
}

// A Result is how a process ended.
type Result struct {
	Code           int // exit code; -1 if killed by a signal
	Stdout, Stderr string
}

// Run runs tool with args and stdin (nil: empty) to its end.
func (e *Env) Run(t *testing.T, stdin string, tool string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := e.command(ctx, tool, args)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %q: %v", tool, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running after %v; stderr:\n%s", tool, args, Timeout, stderr.String())
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// MustRun is Run that fails the test unless tool exits 0, and returns its
// standard output.
func (e *Env) MustRun(t *testing.T, tool string, args ...string) string {
	t.Helper()
	r := e.Run(t, "", tool, args...)
	if r.Code != 0 {
		t.Fatalf("%s %q: exit %d, want 0; stderr:\n%s", tool, args, r.Code, r.Stderr)
	}
	return r.Stdout
}

// Eventually calls f every few milliseconds until it returns true, and fails
// the test if it has not after Timeout.
func Eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still not %s", Timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Status is what subscriber -info -json prints for a segment.
type Status struct {
	Name       string    `json:"name"`
	Capacity   int       `json:"capacity"`
	Seq        uint64    `json:"seq"`
	Len        int       `json:"len"`
	Time       time.Time `json:"time"`
	AgeSeconds float64   `json:"age_seconds"`
	Writer     string    `json:"writer"`
	PID        int       `json:"pid"`
	Mode       string    `json:"mode"`
	Size       int64     `json:"size"`
	Created    time.Time `json:"created"`
}

// Info runs subscriber -info -json name and returns what it printed, or
// ok false if it failed or printed something else.
func (e *Env) Info(t *testing.T, name string) (st Status, ok bool) {
	t.Helper()
	r := e.Run(t, "", "subscriber", "-info", "-json", name)
	return st, r.Code == 0 && json.Unmarshal([]byte(r.Stdout), &st) == nil
}
