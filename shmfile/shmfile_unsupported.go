//go:build aix || dragonfly || freebsd || js || netbsd || openbsd || plan9 || solaris || wasip1

package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
)

// This file lists, positively, every Go port that shmfile does not support
// (illumos implies solaris). All operations fail with an error wrapping
// errors.ErrUnsupported.

const segmentsAreFiles = false

type sysSegment struct{}

func unsupported(op, name string) error {
	return newError(op, name, "named shared memory is not supported on "+runtime.GOOS, errors.ErrUnsupported)
}

func defaultDir() string { return "" }

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	return nil, unsupported("create", name)
}

func openSegment(name string, minSize int, writable bool) (*Segment, error) {
	return nil, unsupported("open", name)
}

func removeSegment(name string) error { return unsupported("remove", name) }

func statSegment(name string) (Info, error) { return Info{}, unsupported("stat", name) }

func listSegments() ([]Info, error) {
	return nil, fmt.Errorf("shmfile: list: named shared memory is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (sysSegment) replaced() (bool, error) { return false, errors.ErrUnsupported }

func (sysSegment) info(s *Segment) (Info, error) { return Info{}, unsupported("stat", s.name) }

func (sysSegment) writerAlive(s *Segment) (bool, int, error) {
	return false, 0, unsupported("probe writer", s.name)
}

func (sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	return nil, unsupported("map range", s.name)
}

func (sysSegment) close(*Segment) error { return nil }
