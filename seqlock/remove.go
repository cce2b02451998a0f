package seqlock

import (
	"errors"
	"fmt"

	"github.com/seqshm/seqshm/shmfile"
)

// Remove deletes the named segment. Subscribers that have it open keep
// their mapping. It holds the segment's writer lock while it checks and
// deletes, so it refuses (ErrBusy) while a publisher is alive and no
// publisher can start meanwhile; and it deletes the name only if the name
// still refers to the segment it locked. It refuses files that are not
// seqshm segments (ErrNotSeqshm), so that it cannot delete another
// program's shared memory by mistake; a segment that is damaged, claims
// any capacity, or whose creator died before writing its header, can be
// removed. Another user's segment can be removed where the directory
// allows it (by root, in /dev/shm).
func Remove(name string) error {
	seg, err := shmfile.OpenWriter(name, 0, &shmfile.Options{Foreign: true})
	if err != nil {
		return withPID(name, err)
	}
	defer seg.Close()
	_, err = faultSafe(func() (struct{}, error) { return struct{}{}, removable(seg.Bytes()) })
	if err != nil {
		return &Error{Op: "remove", Name: name, Err: err}
	}
	return seg.Remove()
}

// removable says whether b looks like a seqshm segment, possibly damaged
// or half-made, rather than another program's file.
func removable(b []byte) error {
	if len(b) < headerSize {
		if !allZero(b) {
			return fmt.Errorf("%w: %d bytes, not all zero", ErrNotSeqshm, len(b))
		}
		return nil // a creator died before sizing or writing it
	}
	_, err := decodeHeader(b)
	switch {
	case err == nil, errors.Is(err, ErrNotReady), errors.Is(err, ErrCorrupt), errors.Is(err, ErrVersion):
		return nil
	}
	return err
}
