package seqlock

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/shmfile"
)

// Errors returned by this package. Errors from Publisher, Subscriber and
// the functions on named segments are an *Error (or package shmfile's
// *shmfile.Error, for a failure of the segment itself) that names the
// operation and the segment; Writer and Reader return these sentinels,
// wrapped with detail. Test for them with errors.Is.
var (
	// ErrNoValue: the segment exists but no write has completed yet.
	ErrNoValue = errors.New("no value published yet")
	// ErrNotReady: the segment's header is still zero; a writer is
	// creating it, or died before finishing.
	ErrNotReady = errors.New("segment not initialised yet")
	// ErrNotSeqshm: the bytes do not start with the seqshm magic.
	ErrNotSeqshm = errors.New("not a seqshm segment")
	// ErrVersion: the segment uses a layout version this package cannot read.
	ErrVersion = errors.New("unsupported layout version")
	// ErrCorrupt: a header field or a slot is inconsistent with the region.
	ErrCorrupt = errors.New("corrupt segment")
	// ErrTooLarge: a value is larger than the segment's capacity.
	ErrTooLarge = errors.New("value larger than capacity")
	// ErrLimit: a value is larger than the reader will allocate for it
	// (OpenOptions.MaxValue); see Subscriber.ReadValue.
	ErrLimit = errors.New("value larger than the reader's limit")
	// ErrShortBuffer: the caller's buffer is smaller than the value; the
	// returned Meta.Len says how large it must be.
	ErrShortBuffer = errors.New("buffer too small for value")
	// ErrLapped: the writer overtook the reader on every one of a bounded
	// number of attempts. Rare; the caller may simply read again.
	ErrLapped = errors.New("reader lapped by the writer too often")
	// ErrTypeMismatch: the segment holds values of another type.
	ErrTypeMismatch = errors.New("segment holds another type")
	// ErrIncompatible: an existing segment's capacity or type differs from
	// what the writer asked for.
	ErrIncompatible = errors.New("existing segment is incompatible")
	// ErrConcurrentWrite: the slot a writer was about to fill holds a
	// write it did not make, so another writer is at work on the same
	// region (or one Writer was used from two goroutines at once). The
	// value was not written.
	ErrConcurrentWrite = errors.New("another writer changed the segment")
	// ErrMisaligned: the region does not start on an 8-byte boundary.
	ErrMisaligned = errors.New("region not 8-byte aligned")
	// ErrTruncated: the segment file was truncated by someone while it
	// was mapped, and touching the missing pages faulted (SIGBUS).
	ErrTruncated = errors.New("segment truncated while mapped")
	// ErrClosed: the Writer, Reader, Publisher or Subscriber was closed.
	ErrClosed = errors.New("closed")
	// ErrInvalid: an argument is out of range (a capacity, a mode).
	ErrInvalid = errors.New("invalid argument")

	// ErrBusy: a live publisher holds the segment. It is shmfile.ErrBusy;
	// the error's cause is a *shmfile.BusyError with the holder's pid.
	ErrBusy = shmfile.ErrBusy
	// ErrRemoved: the segment's name no longer refers to the segment a
	// Publisher or Subscriber has open: it was removed, or removed and
	// created anew. It is shmfile.ErrRemoved.
	ErrRemoved = shmfile.ErrRemoved
	// ErrNotTrusted: a segment, or the segment directory, could be changed
	// by another user (see Options.Mode and OpenOptions.Owner). It is
	// shmfile.ErrNotTrusted; the error's cause is a *shmfile.TrustError.
	ErrNotTrusted = shmfile.ErrNotTrusted
)

// An IncompatibleError is the cause of ErrIncompatible: what an existing
// segment holds and what the writer asked for.
type IncompatibleError struct {
	Capacity, WantCapacity       int            // WantCapacity 0: any
	Fingerprint, WantFingerprint uint64         // type fingerprints
	Schema, WantSchema           *schema.Schema // nil: bytes
}

func (e *IncompatibleError) Error() string {
	switch {
	case !adoptable(e.Schema, e.WantSchema):
		return fmt.Sprintf("existing segment is incompatible: it holds %s, asked for %s", DescribeSchema(e.Schema), DescribeSchema(e.WantSchema))
	case e.Fingerprint != e.WantFingerprint:
		return fmt.Sprintf("existing segment is incompatible: type fingerprint %#x, asked for %#x", e.Fingerprint, e.WantFingerprint)
	}
	return fmt.Sprintf("existing segment is incompatible: capacity %d, asked for %d", e.Capacity, e.WantCapacity)
}

func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// SchemaDiffers reports whether the segment holds other values than asked
// for (rather than only another capacity).
func (e *IncompatibleError) SchemaDiffers() bool { return !adoptable(e.Schema, e.WantSchema) }

// DescribeSchema names what values described by s (nil: bytes) are, for
// messages: "bytes", "text values", "struct values {float64 x; ...}".
func DescribeSchema(s *schema.Schema) string {
	switch {
	case s == nil:
		return "bytes"
	case s.Kind() == schema.Struct:
		return "struct values {" + s.String() + "}"
	}
	return s.Kind().String() + " values"
}

// An Error records a failed operation on a named segment. Its message is
// `seqlock: OP "NAME": CAUSE`.
type Error struct {
	Op   string // "create", "open", "read", "publish", "wait", "stat", "remove"
	Name string // the segment
	Err  error  // the cause, wrapping this package's sentinels
}

func (e *Error) Error() string {
	return "seqlock: " + e.Op + " " + strconv.Quote(e.Name) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// opError wraps err as an *Error for op on the segment name, unless it is
// already one of this package's or shmfile's, which name their segment.
func opError(op, name string, err error) error {
	if err == nil {
		return nil // before the variables below, which escape to the heap
	}
	var (
		se *Error
		fe *shmfile.Error
	)
	if errors.As(err, &se) || errors.As(err, &fe) {
		return err
	}
	return &Error{Op: op, Name: name, Err: err}
}
