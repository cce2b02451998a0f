package natskv

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by this package. Wrapped errors carry detail; test for
// them with errors.Is.
var (
	// ErrOwned: another exporter owns the key (see OwnedError).
	ErrOwned = errors.New("natskv: another exporter owns the key")
	// ErrEnvelope: a key's value is not a valid bridge envelope.
	ErrEnvelope = errors.New("natskv: not a seqshm-bridge envelope")
	// ErrInvalidKey: a key or bucket name NATS does not accept.
	ErrInvalidKey = errors.New("natskv: invalid key or bucket name")
	// ErrTooLarge: a remote value is larger than the local segment's
	// capacity.
	ErrTooLarge = errors.New("natskv: value larger than the segment's capacity")
)

// An OwnedError reports that another exporter owns a key: it wrote the key
// recently (a value or a heartbeat), or it won a compare-and-set against
// this exporter. It wraps ErrOwned.
type OwnedError struct {
	Bucket, Key string
	Owner       uint64        // the other exporter's id; 0 if the value is not an envelope
	Age         time.Duration // how long ago the key was last written; 0 if unknown
}

func (e *OwnedError) Error() string {
	s := fmt.Sprintf("natskv: another exporter owns key %q in bucket %q", e.Key, e.Bucket)
	if e.Owner != 0 {
		s += fmt.Sprintf(" (owner %016x", e.Owner)
		if e.Age > 0 {
			s += fmt.Sprintf(", last write %v ago", e.Age.Round(time.Millisecond))
		}
		s += ")"
	}
	return s
}

func (e *OwnedError) Unwrap() error { return ErrOwned }
