//go:build !linux

package seqlock

import (
	"errors"
	"io/fs"
)

// Foreign waiter areas are System V shared memory on Linux only; elsewhere
// a subscriber that may not write the segment polls.

func openForeignArea(region []byte, g geometry, mode fs.FileMode) ([]byte, error) { return nil, nil }

func attachForeignArea(region []byte, g geometry, owner int) ([]byte, error) {
	return nil, errors.ErrUnsupported
}

func detachArea(area []byte) error { return nil }
