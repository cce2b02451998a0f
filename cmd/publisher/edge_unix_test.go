//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/seqshm/seqshm/internal/cli/clitest"
)

// TestSIGHUPClosesCleanly: SIGHUP (a closed terminal, a daemon reload) stops
// a publisher cleanly, like SIGINT and SIGTERM: state "closed", exit 0.
func TestSIGHUPClosesCleanly(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	pub := env.Start(t, "publisher", "-clock", "-interval", "1ms", name)
	clitest.Eventually(t, "clock ticking", func() bool { st, ok := env.Info(t, name); return ok && st.Seq > 3 })
	stopsCleanly(t, env, pub, name, syscall.SIGHUP)
}

// TestFailedFirstPublishLeavesNothing: a new segment whose first value
// fails (too large for the capacity, a time stamp that does not fit) is
// removed, so that a retry with another -capacity works.
func TestFailedFirstPublishLeavesNothing(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	for _, args := range [][]string{
		{"-capacity", "4", name, "too long for four bytes"},
		{"-clock", "-capacity", "8", name},
	} {
		if r := env.Run(t, "", "publisher", args...); r.Code != 1 || !strings.Contains(r.Stderr, "longer than the segment's capacity") {
			t.Errorf("publisher %q: exit %d, stderr %q; want 1, too long", args, r.Code, r.Stderr)
		}
		if _, err := os.Stat(filepath.Join(env.Dir, name)); !os.IsNotExist(err) {
			t.Errorf("publisher %q left a segment behind (%v)", args, err)
		}
	}
	env.MustRun(t, "publisher", "-capacity", "64", name, "too long for four bytes")
	// A line too long after a first line leaves the first value (and the
	// segment) in place.
	r := env.Run(t, "ok\n"+strings.Repeat("x", 100)+"\n", "publisher", "-capacity", "64", name+"2")
	if r.Code != 1 {
		t.Errorf("publisher with a long second line: exit %d", r.Code)
	}
	if got := env.MustRun(t, "subscriber", name+"2"); got != "ok\n" {
		t.Errorf("after a long second line: value %q, want ok", got)
	}
}

// TestCarriageReturn: only "\n" and "\r\n" end a line; a bare "\r" at the
// end of input is data, as the manual says.
func TestCarriageReturn(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	for _, tt := range []struct{ in, want string }{
		{"a\r\n", "a\n"},
		{"b\n", "b\n"},
		{"c\r", "c\r\n"},
		{"d\re\n", "d\re\n"},
	} {
		if r := env.Run(t, tt.in, "publisher", name); r.Code != 0 {
			t.Fatalf("publisher: %s", r.Stderr)
		}
		if got := env.MustRun(t, "subscriber", name); got != tt.want {
			t.Errorf("stdin %q: subscriber prints %q, want %q", tt.in, got, tt.want)
		}
	}
}

// tmpfsMagic is the f_type of a tmpfs (linux/magic.h).
const tmpfsMagic = 0x01021994

// TestCapacityLimits: -capacity takes the suffixes up to the maximum; more
// is a usage error naming the maximum.
func TestCapacityLimits(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	for _, c := range []string{"2TiB", "2T", "1025GiB"} {
		r := env.Run(t, "", "publisher", "-capacity", c, "x", "v")
		if r.Code != 2 || !strings.Contains(r.Stderr, "larger than the maximum, 1TiB") {
			t.Errorf("publisher -capacity %s: exit %d, stderr %q; want 2 naming 1TiB", c, r.Code, r.Stderr)
		}
	}
	// The maximum itself is taken: the segment is made, or (4 TiB of
	// slots on a smaller tmpfs, as here) refused for want of space, never
	// as a usage error. On a tmpfs: it refuses an allocation larger than
	// itself at once, where a disk file system (the test's temporary
	// directory) fills up before it fails, and other tests with it.
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		t.Skip("no tmpfs at /dev/shm to try the maximum capacity on")
	}
	dir, err := os.MkdirTemp("/dev/shm", "seqshm-capacity-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env.Dir = dir
	for _, c := range []string{"1TiB", "1T"} {
		r := env.Run(t, "", "publisher", "-capacity", c, "x", "v")
		if r.Code == 2 || (r.Code == 1 && !strings.Contains(r.Stderr, "no space left")) {
			t.Errorf("publisher -capacity %s: exit %d, stderr %q; want it accepted (exit 0, or 1 for no space)", c, r.Code, r.Stderr)
		}
		env.Run(t, "", "publisher", "-rm", "x")
	}
}
