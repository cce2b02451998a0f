package seqlock

import "errors"

// Errors returned by this package. Wrapped errors carry detail; test for
// them with errors.Is.
var (
	// ErrNoValue: the segment exists but no write has completed yet.
	ErrNoValue = errors.New("seqlock: no value published yet")
	// ErrNotReady: the segment's header is still zero; a writer is
	// creating it, or died before finishing.
	ErrNotReady = errors.New("seqlock: segment not initialised yet")
	// ErrNotSeqshm: the bytes do not start with the seqshm magic.
	ErrNotSeqshm = errors.New("seqlock: not a seqshm segment")
	// ErrVersion: the segment uses a layout version this package cannot read.
	ErrVersion = errors.New("seqlock: unsupported layout version")
	// ErrCorrupt: a header field or a slot is inconsistent with the region.
	ErrCorrupt = errors.New("seqlock: corrupt segment")
	// ErrTooLarge: a value is larger than the segment's capacity.
	ErrTooLarge = errors.New("seqlock: value larger than capacity")
	// ErrShortBuffer: the caller's buffer is smaller than the value; the
	// returned Meta.Len says how large it must be.
	ErrShortBuffer = errors.New("seqlock: buffer too small for value")
	// ErrLapped: the writer overtook the reader on every one of a bounded
	// number of attempts. Rare; the caller may simply read again.
	ErrLapped = errors.New("seqlock: reader lapped by the writer too often")
	// ErrTypeMismatch: the segment holds values of another type.
	ErrTypeMismatch = errors.New("seqlock: segment holds another type")
	// ErrIncompatible: an existing segment's capacity or type differs from
	// what the writer asked for.
	ErrIncompatible = errors.New("seqlock: existing segment is incompatible")
	// ErrConcurrentWrite: the counter moved under a writer, so another
	// writer is at work on the same region (or one Writer was used from two
	// goroutines at once). The value was not written.
	ErrConcurrentWrite = errors.New("seqlock: another writer changed the segment")
	// ErrMisaligned: the region does not start on an 8-byte boundary.
	ErrMisaligned = errors.New("seqlock: region not 8-byte aligned")
	// ErrTruncated: the segment file was truncated by someone while it
	// was mapped, and touching the missing pages faulted (SIGBUS).
	ErrTruncated = errors.New("seqlock: segment truncated while mapped")
	// ErrClosed: the Writer, Reader, Publisher or Subscriber was closed.
	ErrClosed = errors.New("seqlock: closed")
)
