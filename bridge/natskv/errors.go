package natskv

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Errors returned by this package. Failures of an operation come as an
// *Error (or an *OwnedError) naming the operation, bucket and key; test
// for these sentinels, and for the NATS client's own, with errors.Is.
var (
	// ErrOwned: another exporter owns the key (see OwnedError).
	ErrOwned = errors.New("another exporter owns the key")
	// ErrEnvelope: a key's value is not a valid bridge envelope.
	ErrEnvelope = errors.New("not a seqshm-bridge envelope")
	// ErrInvalidKey: a key, key pattern or bucket name NATS does not
	// accept, or a key that maps to no valid segment name.
	ErrInvalidKey = errors.New("invalid key or bucket name")
	// ErrTooLarge: a remote value is larger than the local segment's
	// capacity.
	ErrTooLarge = errors.New("value larger than the segment's capacity")
	// ErrSchemaMismatch: the local segment an import would publish into
	// exists with another kind or schema than the key's values.
	ErrSchemaMismatch = errors.New("local segment holds another kind or schema")
	// ErrNoJetStream: the server (or the account) has no JetStream: its
	// API does not answer.
	ErrNoJetStream = errors.New("JetStream is not enabled on the server or for the account")
	// ErrPermission: the server refused the user a subject the bridge
	// needs (a permissions violation).
	ErrPermission = errors.New("permission denied by the server")
	// ErrBucketGone: the bucket disappeared under a running bridge (a
	// server that lost its store, or an operator's nats kv del). The
	// bridge creates (export) or reopens (import) it by itself; this is
	// what it logs.
	ErrBucketGone = errors.New("bucket is gone")
)

// An Error records a failed operation of the bridge. Its message is
// `natskv: OP bucket "B" key "K": CAUSE`, leaving out what is empty.
// It is not safe to modify concurrently with its use.
type Error struct {
	Op     string // "connect", "open bucket", "create key", "write", "watch", "import", ...
	Bucket string // the bucket; "" if none is concerned
	Key    string // the key or key pattern; "" if none is concerned
	Err    error  // the cause, which wraps this package's and NATS's sentinels
}

func (e *Error) Error() string {
	s := "natskv: " + e.Op
	if e.Bucket != "" {
		s += " bucket " + strconv.Quote(e.Bucket)
	}
	if e.Key != "" {
		s += " key " + strconv.Quote(e.Key)
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

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
