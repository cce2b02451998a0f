// Package testproc is how the tests of this module make helper processes,
// segment names and segment directories: one mechanism for every package.
//
// A test binary is its own helper process. TestMain calls Main with the
// roles the package's helpers play; a test starts one with Command, which
// re-executes the test binary with the role in the environment and the
// arguments on the command line. Name gives a segment name unique within
// the run, SegDir a fresh segment directory (SEQSHM_DIR) for a test and the
// processes it starts.
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// roleEnv names the role a re-executed test binary plays.
const roleEnv = "SEQSHM_TEST_ROLE"

// A Role is what a helper process does with its arguments; it returns the
// process's exit code.
type Role func(args []string) int

// Main runs the tests, or, in a process started by Command, the role asked
// for. TestMain calls os.Exit with its result.
func Main(m *testing.M, roles map[string]Role) int {
	name := os.Getenv(roleEnv)
	if name == "" {
		return m.Run()
	}
	role, ok := roles[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "testproc: unknown role %q\n", name)
		return 2
	}
	return role(os.Args[1:])
}

// Command returns the command that runs this test binary as a helper in
// role with args. Its environment is this process's (SEQSHM_DIR included)
// with the role added; the caller may add to it, and set its stdio.
func Command(role string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	return cmd
}

// Sanitize turns a test's name into the characters segment names allow.
func Sanitize(testName string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, testName)
}

var count atomic.Int64

// Name returns a segment name for t that no other test of this run, in any
// package's test binary, uses: the test's name, the pid and a counter.
func Name(t testing.TB) string {
	name := fmt.Sprintf("%s-%d-%d", strings.TrimLeft(Sanitize(t.Name()), "._"), os.Getpid(), count.Add(1))
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return strings.TrimLeft(name, ".")
}

// SegDir points SEQSHM_DIR at a fresh directory for t and the processes it
// starts, and removes it when t ends. Under wine, where os.RemoveAll fails
// while a file is mapped, the directory is emptied file by file.
func SegDir(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "windows" {
		d := t.TempDir()
		t.Setenv("SEQSHM_DIR", d)
		return d
	}
	d, err := os.MkdirTemp("", "seqshm-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEQSHM_DIR", d)
	t.Cleanup(func() {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			os.Remove(filepath.Join(d, e.Name()))
		}
		os.Remove(d)
	})
	return d
}
