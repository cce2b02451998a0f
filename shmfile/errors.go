package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Errors returned by this package. Every error from an operation on a
// segment is an *Error naming the operation and the segment; its cause
// wraps one of these sentinels or a system error (an *fs.PathError), so
// callers test with errors.Is: errors.Is(err, fs.ErrNotExist) for a missing
// segment, errors.Is(err, fs.ErrExist) when Create finds the name taken,
// errors.Is(err, fs.ErrPermission) for an access failure, and
// errors.Is(err, errors.ErrUnsupported) on an operating system or for an
// operation that is not supported.
var (
	// ErrInvalidName means a segment name is not 1 to 200 characters of
	// [A-Za-z0-9._-] or starts with '.'.
	ErrInvalidName = errors.New("invalid segment name")

	// ErrBusy means another writer holds the segment's writer lock. The
	// cause is a *BusyError with the holder's process id where known.
	ErrBusy = errors.New("segment busy")

	// ErrTooSmall means the segment is smaller than the minimum size the
	// caller asked for (for example the size of a header).
	ErrTooSmall = errors.New("segment too small")

	// ErrNotSegment means the segment's path names something other than a
	// regular file: a symbolic link, a directory, a named pipe, a device or
	// a socket. Symbolic links are never followed.
	ErrNotSegment = errors.New("not a segment")

	// ErrNoSpace means the file system holding the segments has no room for
	// a new segment (a full tmpfs, or no inodes left). Errors wrapping it
	// also wrap the system's ENOSPC, so errors.Is(err, syscall.ENOSPC)
	// holds as well.
	ErrNoSpace = errors.New("no space for segment")

	// ErrNotTrusted means a segment or the segment directory could be
	// changed by someone other than this user and root: a segment of
	// another owner, or whose mode grants more than the writer asked for,
	// or a directory that others may write without the sticky bit. The
	// cause is a *TrustError that says which and why.
	ErrNotTrusted = errors.New("not trusted")

	// ErrRemoved means the segment's name no longer refers to the open
	// segment: someone removed it, or removed it and created another.
	ErrRemoved = errors.New("segment removed")

	// ErrClosed means a method was called on a closed Segment.
	ErrClosed = errors.New("segment closed")
)

// An Error records a failed operation on a named segment. Its message is
// "shmfile: OP "NAME": CAUSE".
type Error struct {
	Op   string // the operation ("" for CheckName): "create", "open", "remove", "stat", "list", "probe writer", "map range", "close"
	Name string // the segment; "" for list
	Err  error  // the cause, which wraps this package's sentinels and the system's errors
}

func (e *Error) Error() string {
	if e.Op == "" { // an invalid name: the cause says it all
		return "shmfile: " + e.Err.Error()
	}
	if e.Name == "" {
		return "shmfile: " + e.Op + ": " + e.Err.Error()
	}
	return "shmfile: " + e.Op + " " + strconv.Quote(e.Name) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// A BusyError is the cause of an *Error when another writer holds the
// segment's writer lock. It wraps ErrBusy.
type BusyError struct {
	// PID is the holder's process id in its own PID namespace, 0 where the
	// operating system does not say (macOS, Windows). A caller that knows
	// more (package seqlock reads it from the segment) may fill it in.
	PID int
	// ForeignPID reports that PID belongs to another PID namespace than
	// this process's (a container), so it means nothing here. Package
	// shmfile never sets it; package seqlock does from the segment.
	ForeignPID bool
}

func (e *BusyError) Error() string {
	switch {
	case e.PID == 0:
		return "segment busy: another writer holds it"
	case e.ForeignPID:
		return fmt.Sprintf("segment busy: writer pid %d (in another PID namespace) holds it", e.PID)
	}
	return fmt.Sprintf("segment busy: writer pid %d holds it", e.PID)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// A TrustError is the cause of an *Error when a segment or the segment
// directory fails the ownership checks (docs/reliability.md, "Hostile
// neighbours"). It wraps ErrNotTrusted.
type TrustError struct {
	Path string      // the file or directory
	Dir  bool        // Path is the segment directory
	UID  int         // its owner
	Mode fs.FileMode // its permission bits (and fs.ModeSticky for a sticky directory)
	Want fs.FileMode // for a segment's mode: the most a writer asked for
	Why  string      // what is wrong, for people
}

func (e *TrustError) Error() string { return e.Why }

func (e *TrustError) Unwrap() error { return ErrNotTrusted }

// cause is the usual cause of an *Error: a message for people and the
// errors it wraps (sentinels, *fs.PathError), which errors.Is and errors.As
// see through.
type cause struct {
	msg  string
	errs []error
}

func (c *cause) Error() string   { return c.msg }
func (c *cause) Unwrap() []error { return c.errs }

// newError returns an *Error for op on the segment name with message msg,
// wrapping errs.
func newError(op, name, msg string, errs ...error) error {
	return &Error{Op: op, Name: name, Err: &cause{msg: msg, errs: errs}}
}

// sysError returns an error for op on the segment name caused by the system
// error err (usually an *fs.PathError), with a message for the common
// causes.
func sysError(op, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newError(op, name, "no such segment", err)
	case errors.Is(err, fs.ErrExist):
		return newError(op, name, "segment already exists", err)
	}
	return newError(op, name, err.Error(), err)
}
