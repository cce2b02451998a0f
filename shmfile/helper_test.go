//go:build linux || darwin || windows

package shmfile

import (
	"fmt"
	"io"
	"os"
	"testing"
)

// The test binary doubles as a helper process: with $SHMFILE_HELPER set it
// runs runHelper (one per OS) instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SHMFILE_HELPER"); mode != "" {
		os.Exit(runHelper(mode, os.Getenv("SHMFILE_HELPER_NAME")))
	}
	os.Exit(m.Run())
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
