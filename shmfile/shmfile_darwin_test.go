package shmfile

import (
	"errors"
	"testing"
)

// flock does not tell the holder's pid.
const pidKnown = false

func TestMapWritableRangeUnsupported(t *testing.T) {
	segDir(t)
	name := segName(t)
	mustCreate(t, name, 4096, nil)
	r := mustOpen(t, name, 0, false)
	if _, err := r.MapWritableRange(0, 8); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MapWritableRange(0, 8) = %v, want errors.ErrUnsupported", err)
	}
}
