//go:build unix

package reliability_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/internal/testproc"
)

// roles are the helper processes, by name; each gets the remaining
// arguments. They write their results on stdout as "key=value" lines.
var roles = map[string]func(args []string) error{
	"torn-writer":         tornWriter,
	"torn-reader":         tornReader,
	"naive-reader":        naiveReader,
	"crash-writer":        crashWriter,
	"crash-reader":        crashReader,
	"load-writer":         loadWriter,
	"hold":                holdWriter,
	"truncated-publisher": truncatedPublisher,
}

// TestMain runs the tests, or a role in a helper process started by
// startChild (internal/testproc).
func TestMain(m *testing.M) {
	helpers := map[string]testproc.Role{}
	for name, role := range roles {
		helpers[name] = func(args []string) int { return runRole(name, role, args) }
	}
	code := testproc.Main(m, helpers)
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// runRole runs a helper role and turns its error into exit status 1.
func runRole(name string, role func([]string) error, args []string) int {
	if err := role(args); err != nil {
		fmt.Fprintf(os.Stderr, "reliability child %s: %v\n", name, err)
		return 1
	}
	return 0
}

// long reports whether the long runs were asked for (SEQSHM_LONG=1).
func long() bool { return os.Getenv("SEQSHM_LONG") == "1" }

// segDir points the segment directory at a fresh temporary directory, for
// this process and the children it starts.
func segDir(t testing.TB) string { return testproc.SegDir(t) }

// uniqueName returns a segment name no other test of this run uses.
func uniqueName(t testing.TB) string { return testproc.Name(t) }

// A child is a helper process: the test binary re-executed in a role.
type child struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // stdout lines, except "done N"
	done   chan struct{} // closed once the process has exited
	err    error         // the result of Wait, once done is closed
	stderr lockedBuffer
	// lastDone is the N of the last "done N" line the child printed.
	lastDone atomic.Uint64
}

// startChild starts the test binary in role with args. Its environment
// is this process's, with SEQSHM_DIR stated explicitly. The child is
// killed when the test ends, if it is still running.
func startChild(t testing.TB, role string, args ...string) *child {
	t.Helper()
	cmd := testproc.Command(role, args...)
	return startCmd(t, cmd)
}

// startCmd starts cmd with piped stdin and stdout and a captured stderr.
func startCmd(t testing.TB, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{t: t, cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "done "); ok {
				v, _ := strconv.ParseUint(n, 10, 64)
				c.lastDone.Store(v)
				continue
			}
			c.lines <- line
		}
		io.Copy(io.Discard, out)
		close(c.lines)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// readLine returns the child's next stdout line, failing the test if none
// comes within d.
func (c *child) readLine(d time.Duration) string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			<-c.done
			c.t.Fatalf("%s: exited (%v) before writing a line; stderr:\n%s", c.name(), c.err, c.stderr.String())
		}
		return line
	case <-time.After(d):
		c.t.Fatalf("%s: no line within %v; stderr:\n%s", c.name(), d, c.stderr.String())
	}
	return ""
}

// stop closes the child's stdin, which tells every role to finish, and
// waits up to d for it to exit successfully. It returns the child's last
// line not read yet, its result, parsed (nil if none).
func (c *child) stop(d time.Duration) map[string]int64 {
	c.t.Helper()
	c.stdin.Close()
	c.wait(d)
	if c.err != nil {
		c.t.Fatalf("%s: %v; stderr:\n%s", c.name(), c.err, c.stderr.String())
	}
	var last string
	for line := range c.lines {
		last = line
	}
	if last == "" {
		return nil // the child had said all it had to say
	}
	return parseResult(c.t, last)
}

// wait waits up to d for the child to exit, killing it if it does not.
func (c *child) wait(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		c.cmd.Process.Kill()
		<-c.done
		c.t.Fatalf("%s: still running after %v (killed); stderr:\n%s", c.name(), d, c.stderr.String())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *child) name() string {
	return fmt.Sprintf("%s (pid %d)", strings.Join(c.cmd.Args[1:], " "), c.cmd.Process.Pid)
}

// parseResult parses a line of space-separated key=value integers.
func parseResult(t testing.TB, line string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad result line %q", line)
		}
		m[k] = n
	}
	if len(m) == 0 {
		t.Fatalf("empty result line")
	}
	return m
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// stopOnEOF returns a flag that becomes true when stdin reaches its end
// (the parent closed it, or died).
func stopOnEOF() *atomic.Bool {
	var stop atomic.Bool
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	return &stop
}

var bins struct {
	once sync.Once
	dir  string // where the binaries are built; TestMain removes it
	err  error
}

// binaries builds cmd/publisher and cmd/subscriber into a temporary
// directory, once (with -race when this test binary has it), and returns
// the directory.
func binaries(t testing.TB) string {
	t.Helper()
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "seqshm-reliability-bin-"); bins.err == nil {
			_, bins.err = clitest.Build(bins.dir, "publisher", "subscriber")
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.dir
}
