//go:build !linux && !darwin && !windows

package shmfile

import (
	"errors"
	"io/fs"
	"runtime"
)

// This file is every Go port that shmfile does not support: all operations
// fail with an error wrapping errors.ErrUnsupported. A port gets support by
// implementing the contract in shmfile.go (the compiler names what is
// missing) and dropping its GOOS from this file's build constraint.

const segmentsAreFiles = false

type sysSegment struct{}

func unsupported(op, name string) error {
	return newError(op, name, "named shared memory is not supported on "+runtime.GOOS, errors.ErrUnsupported)
}

func defaultDir() string { return "" }

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	return nil, unsupported("create", name)
}

func openSegment(name string, minSize int, a *access) (*Segment, error) {
	return nil, unsupported("open", name)
}

func removeSegment(name string) error { return unsupported("remove", name) }

func statSegment(name string) (Info, error) { return Info{}, unsupported("stat", name) }

func listSegments() ([]Info, error) { return nil, unsupported("list", "") }

func (*sysSegment) replaced() (bool, error) { return false, errors.ErrUnsupported }

func (*sysSegment) stat(s *Segment) (Info, error) { return Info{}, unsupported("stat", s.name) }

func (*sysSegment) unlink(s *Segment) error { return unsupported("remove", s.name) }

func (*sysSegment) writerAlive(s *Segment) (bool, int, error) {
	return false, 0, unsupported("probe writer", s.name)
}

func (*sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	return nil, unsupported("map range", s.name)
}

func (*sysSegment) close(*Segment) error { return nil }
