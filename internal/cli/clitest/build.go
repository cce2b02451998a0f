package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// Binaries maps a command's name ("publisher") to its built executable.
type Binaries map[string]string

// Main is TestMain for a package of end-to-end tests: it builds the
// commands of this module named by cmds (directories under cmd/) into a
// temporary directory, stores their paths in *bins, runs the tests and
// removes the directory. It returns the exit code for os.Exit.
func Main(m *testing.M, bins *Binaries, cmds ...string) int {
	dir, err := os.MkdirTemp("", "seqshm-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clitest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bins, err = Build(dir, cmds...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clitest:", err)
		return 1
	}
	return m.Run()
}

// Build runs one "go build" of the commands named by cmds into dir, with
// -race if this test binary was built with it, so that the race detector
// watches the tools too.
func Build(dir string, cmds ...string) (Binaries, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return Binaries{}, fmt.Errorf("the go command is needed to build the tools under test: %w", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled() {
		args = append(args, "-race")
	}
	bins := Binaries{}
	for _, c := range cmds {
		args = append(args, "github.com/seqshm/seqshm/cmd/"+c)
		exe := c
		if runtime.GOOS == "windows" {
			exe += ".exe"
		}
		bins[c] = filepath.Join(dir, exe)
	}
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %v: %v\n%s", args, err, out)
	}
	return bins, nil
}

// raceEnabled reports whether this binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
