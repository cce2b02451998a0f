package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/internal/cli/clitest"
)

// The tests run the real publisher and subscriber as separate processes.
var bins clitest.Binaries

func TestMain(m *testing.M) {
	os.Exit(clitest.Main(m, &bins, "publisher", "subscriber"))
}

func info(t *testing.T, env *clitest.Env, name string) clitest.Status {
	t.Helper()
	st, ok := env.Info(t, name)
	if !ok {
		t.Fatalf("subscriber -info -json %s failed", name)
	}
	return st
}

// startAlive starts "publisher NAME" reading stdin and waits until the
// segment shows it alive.
func startAlive(t *testing.T, env *clitest.Env, name string, args ...string) *clitest.Proc {
	t.Helper()
	p := env.Start(t, "publisher", append(args, name)...)
	clitest.Eventually(t, "publisher alive", func() bool {
		st, ok := env.Info(t, name)
		return ok && st.Writer == "alive" && st.PID == p.PID
	})
	return p
}

func TestPublishOnceThenRead(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	for i, v := range []string{"hello", "", "two words", "-dash"} {
		if out := env.MustRun(t, "publisher", name, v); out != "" {
			t.Errorf("publisher %s %q printed %q, want nothing", name, v, out)
		}
		if got, want := env.MustRun(t, "subscriber", name), v+"\n"; got != want {
			t.Errorf("subscriber %s = %q, want %q", name, got, want)
		}
		if st := info(t, env, name); st.Writer != "closed" || st.Seq != uint64(i+1) {
			t.Errorf("after publisher exited: writer %q seq %d, want closed %d", st.Writer, st.Seq, i+1)
		}
	}
}

func TestCapacity(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	env.MustRun(t, "publisher", "-capacity", "1KiB", name, "x")
	if st := info(t, env, name); st.Capacity != 1024 {
		t.Errorf("-capacity 1KiB: capacity %d, want 1024", st.Capacity)
	}
	// An existing segment keeps its capacity; another one is refused.
	env.MustRun(t, "publisher", name, "no -capacity: the existing one")
	r := env.Run(t, "", "publisher", "-capacity", "2048", name, "x")
	want := fmt.Sprintf("publisher: %s: segment exists with capacity 1024, not 2048\n", name)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) || !strings.Contains(r.Stderr, "hint: or remove it first (publisher -rm "+name+")") {
		t.Errorf("publisher -capacity 2048 on a 1024 segment: exit %d, stderr:\n%s\nwant exit 1 and %q with a hint", r.Code, r.Stderr, want)
	}
	// VALUE longer than the capacity.
	r = env.Run(t, "", "publisher", name, strings.Repeat("x", 1025))
	want = fmt.Sprintf("publisher: %s: VALUE (1025 bytes) is longer than the segment's capacity (1024 bytes)\nhint: ", name)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("publisher with a too-long VALUE: exit %d, stderr:\n%s\nwant exit 1 and %q", r.Code, r.Stderr, want)
	}
	env.MustRun(t, "publisher", "-rm", name)
	env.MustRun(t, "publisher", "-capacity", "2048", name, "x")
}

func TestLines(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	// The subscriber comes first and waits for the segment.
	sub := env.Start(t, "subscriber", "-follow", "-wait", "20s", name)
	pub := env.Start(t, "publisher", name)
	for _, l := range []string{"one", "two\r", "", "three"} {
		pub.Write(l + "\n")
		if got, want := sub.Line(), strings.TrimSuffix(l, "\r"); got != want {
			t.Errorf("subscriber -follow printed %q, want %q", got, want)
		}
	}
	pub.Write("last, without newline")
	pub.Stdin.Close()
	if code := pub.Wait(); code != 0 {
		t.Errorf("publisher at end of input: exit %d, want 0; stderr:\n%s", code, pub.Stderr())
	}
	if got, want := sub.Line(), "last, without newline"; got != want {
		t.Errorf("subscriber -follow printed %q, want %q", got, want)
	}
	if st := info(t, env, name); st.Writer != "closed" || st.Seq != 5 {
		t.Errorf("after end of input: writer %q seq %d, want closed 5", st.Writer, st.Seq)
	}
	if runtime.GOOS == "windows" {
		return
	}
	sub.Signal(syscall.SIGTERM)
	if code := sub.Wait(); code != 0 {
		t.Errorf("subscriber -follow after SIGTERM: exit %d, want 0; stderr:\n%s", code, sub.Stderr())
	}
}

func TestLineTooLong(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	r := env.Run(t, "fits\nexactly-sixteen!\n"+strings.Repeat("y", 17)+"\nnever\n", "publisher", "-capacity", "16", name)
	want := fmt.Sprintf("publisher: %s: line 3 is longer than the segment's capacity (16 bytes)\nhint: ", name)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("publisher with a 17-byte line: exit %d, stderr:\n%s\nwant exit 1 and %q", r.Code, r.Stderr, want)
	}
	if got := env.MustRun(t, "subscriber", name); got != "exactly-sixteen!\n" {
		t.Errorf("subscriber = %q, want the last line that fit", got)
	}
	if st := info(t, env, name); st.Writer != "closed" {
		t.Errorf("after the error: writer %q, want closed", st.Writer)
	}
}

func TestSecondPublisherRefused(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	first := startAlive(t, env, name)

	r := env.Run(t, "", "publisher", name, "x")
	want := fmt.Sprintf("publisher: %s: another publisher (pid %d) is running\nhint: stop it first (kill %d)", name, first.PID, first.PID)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("second publisher: exit %d, stderr:\n%s\nwant exit 1 and %q", r.Code, r.Stderr, want)
	}
	r = env.Run(t, "", "publisher", "-rm", name)
	want = fmt.Sprintf("publisher: %s: publisher (pid %d) is running; not removed\nhint: ", name, first.PID)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("publisher -rm with a live publisher: exit %d, stderr:\n%s\nwant exit 1 and %q", r.Code, r.Stderr, want)
	}

	first.Stdin.Close()
	if code := first.Wait(); code != 0 {
		t.Fatalf("first publisher: exit %d, want 0; stderr:\n%s", code, first.Stderr())
	}
	env.MustRun(t, "publisher", "-rm", name)
	if r := env.Run(t, "", "subscriber", name); r.Code != 1 || !strings.Contains(r.Stderr, "no such segment") {
		t.Errorf("subscriber after -rm: exit %d, stderr:\n%s\nwant exit 1, no such segment", r.Code, r.Stderr)
	}
}

func TestKilledPublisherTakenOver(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	pub := startAlive(t, env, name)
	pub.Write("before the crash\n")
	clitest.Eventually(t, "value published", func() bool { return info(t, env, name).Seq == 1 })
	pub.Signal(os.Kill)
	pub.Wait()

	st := info(t, env, name)
	if st.Writer != "died" || st.PID != pub.PID {
		t.Errorf("after SIGKILL: writer %q pid %d, want died %d", st.Writer, st.PID, pub.PID)
	}
	if got := env.MustRun(t, "subscriber", name); got != "before the crash\n" {
		t.Errorf("subscriber after SIGKILL = %q, want the last value", got)
	}
	r := env.Run(t, "", "publisher", "-rm", "-capacity", "1", name)
	if r.Code != 2 {
		t.Errorf("publisher -rm -capacity: exit %d, want 2", r.Code)
	}
	env.MustRun(t, "publisher", name, "after the takeover")
	if got := env.MustRun(t, "subscriber", name); got != "after the takeover\n" {
		t.Errorf("subscriber after the takeover = %q", got)
	}
	if st := info(t, env, name); st.Writer != "closed" || st.Seq != 2 {
		t.Errorf("after the takeover: writer %q seq %d, want closed 2", st.Writer, st.Seq)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)

	env.MustRun(t, "publisher", "-clock", "-count", "3", "-interval", "1ms", name)
	if st := info(t, env, name); st.Seq != 3 || st.Writer != "closed" {
		t.Errorf("publisher -clock -count 3: seq %d writer %q, want 3 closed", st.Seq, st.Writer)
	}

	pub := env.Start(t, "publisher", "-clock", "-interval", "1ms", name)
	var v struct {
		Value string    `json:"value"`
		Time  time.Time `json:"time"`
	}
	clitest.Eventually(t, "clock ticking", func() bool { return info(t, env, name).Seq > 10 })
	out := env.MustRun(t, "subscriber", "-json", name)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("subscriber -json: %v\n%s", err, out)
	}
	stamp, err := time.Parse(cli.TimeLayout, v.Value)
	if err != nil || len(v.Value) != len(time.Now().Format(cli.TimeLayout)) {
		t.Errorf("clock value %q: not RFC 3339 with 9 digits of nanoseconds: %v", v.Value, err)
	}
	if !stamp.Equal(v.Time) {
		t.Errorf("clock value %v, publish time %v: want equal", stamp, v.Time)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	stopsCleanly(t, env, pub, name, syscall.SIGTERM)
}

// stopsCleanly sends sig to the publisher pub of segment name and checks
// that it exits 0 and leaves the segment closed, not died.
func stopsCleanly(t *testing.T, env *clitest.Env, pub *clitest.Proc, name string, sig os.Signal) {
	t.Helper()
	pub.Signal(sig)
	if code := pub.Wait(); code != 0 {
		t.Errorf("publisher after %v: exit %d, want 0; stderr:\n%s", sig, code, pub.Stderr())
	}
	if st := info(t, env, name); st.Writer != "closed" {
		t.Errorf("after %v: writer %q, want closed", sig, st.Writer)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	foreign := filepath.Join(env.Dir, "foreign")
	if err := os.WriteFile(foreign, []byte(strings.Repeat("not a segment ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	env.MustRun(t, "publisher", name, "x")
	r := env.Run(t, "", "publisher", "-rm", "missing", name, "foreign")
	want := "publisher: missing: no such segment\nhint: list segments with: subscriber -list\n" +
		"publisher: foreign: not a seqshm segment (another program's shared memory?); not removed\n"
	if r.Code != 1 || r.Stderr != want {
		t.Errorf("publisher -rm missing %s foreign: exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", name, r.Code, r.Stderr, want)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("-rm touched a foreign file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(env.Dir, name)); err == nil {
		t.Errorf("-rm %s left the segment", name)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	r := env.Run(t, "", "publisher", "-h")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "usage: publisher") || !strings.Contains(r.Stdout, "Examples:") || r.Stderr != "" {
		t.Errorf("publisher -h: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and the manual on stdout", r.Code, r.Stdout, r.Stderr)
	}
	for _, tt := range []struct {
		args []string
		want string // first line of stderr
	}{
		{nil, "publisher: missing segment NAME"},
		{[]string{"-bogus", "n"}, "publisher: flag provided but not defined: -bogus"},
		{[]string{"-capacity", "0", "n", "v"}, `publisher: invalid value "0" for flag -capacity: invalid size "0": want a positive number of bytes, optionally with a suffix KiB, MiB, GiB or TiB`},
		{[]string{"-capacity", "1KB", "n", "v"}, `publisher: invalid value "1KB" for flag -capacity: invalid size "1KB"`},
		{[]string{"-mode", "0999", "n", "v"}, `publisher: invalid value "0999" for flag -mode: invalid mode "0999"`},
		{[]string{"-mode", "0400", "n", "v"}, `publisher: invalid value "0400" for flag -mode: invalid mode "0400": the owner needs read and write (0600)`},
		{[]string{"a/b", "v"}, `publisher: invalid segment name "a/b": character '/' at offset 1 not in [A-Za-z0-9._-]`},
		{[]string{".hidden", "v"}, `publisher: invalid segment name ".hidden": starts with '.'`},
		{[]string{"n", "v", "-capacity"}, `publisher: too many arguments after NAME VALUE: "-capacity" (flags go before NAME)`},
		{[]string{"-clock", "n", "v"}, `publisher: -clock publishes the time: no VALUE after NAME (got "v")`},
		{[]string{"-interval", "1s", "n", "v"}, "publisher: -interval goes with -clock"},
		{[]string{"-clock", "-interval", "0s", "n"}, "publisher: -interval 0s is not positive"},
		{[]string{"-rm"}, "publisher: -rm needs the NAME of a segment to remove"},
		{[]string{"-rm", "-clock", "n"}, "publisher: -rm does not go with -clock"},
		{[]string{"-rm", "-schema", "float64 x", "n"}, "publisher: -rm does not go with -schema"},
		{[]string{"-type", "xml", "n", "v"}, `publisher: -type "xml" is not text, json or bytes`},
		{[]string{"-schema", "float64 x", "-capacity", "64", "n", "v"}, "publisher: -schema sets the capacity"},
		{[]string{"-schema", "float64", "n", "v"}, "publisher: -schema: "},
		{[]string{"-schema", "@/nonexistent/x.msg", "n", "v"}, "publisher: -schema @/nonexistent/x.msg: no such file or directory"},
		{[]string{"-capacity", "2TiB", "n", "v"}, "publisher: -capacity 2TiB is larger than the maximum, 1TiB"},
	} {
		r := runInProcess(tt.args...)
		first, rest, _ := strings.Cut(r.Stderr, "\n")
		if r.Code != 2 || !strings.HasPrefix(first, tt.want) || r.Stdout != "" ||
			!strings.HasPrefix(rest, "usage: publisher") && !strings.HasPrefix(rest, "hint: ") {
			t.Errorf("publisher %q: exit %d, stderr:\n%s\nwant exit 2, %q and the synopsis or a hint", tt.args, r.Code, r.Stderr, tt.want)
		}
	}
}

// -mode on an existing segment is not applied; the publisher says so.
func TestModeOnExistingSegment(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	env.MustRun(t, "publisher", name, "first")
	r := env.Run(t, "", "publisher", "-mode", "0644", name, "second")
	if r.Code != 0 || !strings.Contains(r.Stderr, "segment exists with mode 0600; -mode 0644 not applied") ||
		!strings.Contains(r.Stderr, "hint: to change it, remove it first: publisher -rm "+name) {
		t.Errorf("publisher -mode 0644 on an existing 0600 segment: exit %d, stderr %q, want exit 0 and a warning with a hint", r.Code, r.Stderr)
	}
	if got := env.MustRun(t, "subscriber", name); got != "second\n" {
		t.Errorf("value = %q, want second", got)
	}
	// The same mode again, or none: no warning.
	if r := env.Run(t, "", "publisher", "-mode", "0600", name, "third"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("publisher -mode 0600 on a 0600 segment: exit %d, stderr %q, want no warning", r.Code, r.Stderr)
	}
}

// runInProcess runs the tool's run function in this process, as the binary
// would with args, and returns how it ended: usage and messages are tested
// this way, the subprocess tests keep signals and crashes.
func runInProcess(args ...string) clitest.Result {
	var stdout, stderr strings.Builder
	err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return clitest.Result{Code: cli.ExitCode(err), Stdout: stdout.String(), Stderr: stderr.String()}
}
