package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// Errors returned by this package. Every error from this package names the
// segment it concerns and wraps one of these sentinels or an *fs.PathError
// (or both), so callers test for them with errors.Is: for example
// errors.Is(err, fs.ErrNotExist) for a missing segment, errors.Is(err,
// fs.ErrExist) when Create finds the name taken, errors.Is(err,
// fs.ErrPermission) for an access failure, and errors.Is(err,
// errors.ErrUnsupported) on an operating system or for an operation that is
// not supported.
var (
	// ErrInvalidName means a segment name is not 1 to 200 characters of
	// [A-Za-z0-9._-] or starts with '.'.
	ErrInvalidName = errors.New("shmfile: invalid segment name")

	// ErrBusy means another writer holds the segment's writer lock. The
	// message names the holder's process id where the OS reports it.
	ErrBusy = errors.New("shmfile: segment busy")

	// ErrTooSmall means the segment is smaller than the minimum size the
	// caller asked for (for example the size of a header).
	ErrTooSmall = errors.New("shmfile: segment too small")

	// ErrNotSegment means the segment's path names something other than a
	// regular file: a symbolic link, a directory, a named pipe, a device or
	// a socket. Symbolic links are never followed.
	ErrNotSegment = errors.New("shmfile: not a segment")

	// ErrNoSpace means the file system holding the segments has no room for
	// a new segment (a full tmpfs). Errors wrapping it also wrap the
	// system's ENOSPC, so errors.Is(err, syscall.ENOSPC) holds as well.
	ErrNoSpace = errors.New("shmfile: no space for segment")

	// ErrClosed means a method was called on a closed Segment.
	ErrClosed = errors.New("shmfile: segment closed")
)

// MaxNameLen is the length limit of a segment name, in bytes.
const MaxNameLen = 200

// ValidName reports whether name may name a segment: 1 to 200 characters of
// [A-Za-z0-9._-], not starting with '.'. It returns nil or an error wrapping
// ErrInvalidName that quotes the name and says what is wrong with it. A
// valid name is never a path: it contains no separator and cannot be "." or
// "..".
func ValidName(name string) error {
	invalid := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)
	}
	switch {
	case name == "":
		return invalid("empty")
	case len(name) > MaxNameLen:
		return invalid("longer than " + strconv.Itoa(MaxNameLen) + " bytes")
	case name[0] == '.':
		return invalid("starts with '.'")
	}
	for i, c := range name {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return invalid(fmt.Sprintf("character %q at offset %d not in [A-Za-z0-9._-]", c, i))
		}
	}
	return nil
}

// Dir returns the directory that holds segments: $SEQSHM_DIR if it is set,
// else /dev/shm on Linux (where POSIX shm_open and boost.interprocess keep
// their objects) and a per-user directory on macOS (os.TempDir()/seqshm,
// created with mode 0700 when first needed). On Windows, where segments are
// named kernel objects and not files, Dir returns "".
func Dir() string {
	if !segmentsAreFiles {
		return ""
	}
	if d := os.Getenv("SEQSHM_DIR"); d != "" {
		return d
	}
	return defaultDir()
}

// Options are the options of Create. A nil *Options means the defaults.
type Options struct {
	// Mode is the permission of a new segment file, applied exactly with
	// fchmod after creation, so the process umask does not narrow it.
	// Zero means 0600. Only permission bits are allowed. Ignored on Windows,
	// where a mapping gets the default security of the creating process.
	Mode fs.FileMode
}

// Info describes a segment. The zero value describes nothing; fields the
// operating system does not report are zero (UID is -1).
type Info struct {
	Name    string      // segment name
	Size    int64       // size in bytes (on Windows, rounded up to whole pages when opened)
	Mode    fs.FileMode // permission bits; 0 on Windows
	ModTime time.Time   // last modification; zero on Windows
	UID     int         // owner's user id; -1 where unknown (Windows)
}

// Segment is a named shared-memory segment mapped into this process: read
// and write for a writer (Create, OpenWriter), read only for a reader
// (OpenReader). A writer Segment holds the segment's writer lock until
// Close or until the process exits.
//
// The methods of a Segment are safe for concurrent use by multiple
// goroutines, and so is access to the bytes of its mappings (as far as
// Segment is concerned: what the bytes mean and how access to them is
// ordered is the caller's business). Close must not run concurrently with
// any access to a slice returned by Bytes or MapWritableRange: once Close
// returns, those slices are unmapped and touching them faults.
type Segment struct {
	name     string
	writable bool

	mu     sync.Mutex
	closed bool
	data   []byte   // the whole mapping; nil for a zero-size segment
	extra  [][]byte // mappings made by MapWritableRange
	sys    sysSegment
}

// Create creates the segment name of size bytes, takes its writer lock and
// maps it read-write. The segment must not exist: if it does, the error
// wraps fs.ErrExist. On Linux the pages are reserved at once, so a full
// tmpfs is an error here (wrapping ErrNoSpace and syscall.ENOSPC), not a
// SIGBUS later; a partly made segment is removed before Create returns an
// error. size must be positive.
func Create(name string, size int, opts *Options) (*Segment, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, newError("create", name, "size "+strconv.Itoa(size)+" is not positive")
	}
	mode := fs.FileMode(0o600)
	if opts != nil && opts.Mode != 0 {
		if opts.Mode&^fs.ModePerm != 0 {
			return nil, newError("create", name, fmt.Sprintf("mode %v is not a permission mode", opts.Mode))
		}
		mode = opts.Mode
	}
	return createSegment(name, size, mode)
}

// OpenWriter opens the existing segment name, takes its writer lock and maps
// it read-write. If another writer holds the lock the error wraps ErrBusy
// (and names the holder's process id where known). The segment must be a
// regular file (else ErrNotSegment) of at least minSize bytes (else
// ErrTooSmall).
func OpenWriter(name string, minSize int) (*Segment, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	return openSegment(name, minSize, true)
}

// OpenReader opens the existing segment name and maps it read-only: a reader
// never has a writable mapping of the data, so a stray store faults instead
// of corrupting the segment. It takes no lock. The segment must be a regular
// file (else ErrNotSegment) of at least minSize bytes (else ErrTooSmall). A
// missing segment is an error wrapping fs.ErrNotExist, with the message
// `shmfile: open "NAME": no such segment`.
func OpenReader(name string, minSize int) (*Segment, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	return openSegment(name, minSize, false)
}

// Remove removes the segment name. Processes that have it mapped keep their
// mappings; a later Create with the same name makes a new, different
// segment. A missing segment is an error wrapping fs.ErrNotExist; something
// other than a regular file at the segment's path is left alone and is an
// error wrapping ErrNotSegment. On Windows, where a segment lives exactly as
// long as a handle to it is open, Remove returns an error wrapping
// errors.ErrUnsupported.
func Remove(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return removeSegment(name)
}

// List describes the segments in Dir(), sorted by name. Entries that are not
// regular files or whose names are not valid segment names are skipped
// silently. On Windows, where named mappings cannot be enumerated, List
// returns an error wrapping errors.ErrUnsupported.
func List() ([]Info, error) {
	return listSegments()
}

// Stat describes the segment name without mapping it. A missing segment is
// an error wrapping fs.ErrNotExist, anything but a regular file an error
// wrapping ErrNotSegment.
func Stat(name string) (Info, error) {
	if err := ValidName(name); err != nil {
		return Info{}, err
	}
	return statSegment(name)
}

// Name returns the segment's name.
func (s *Segment) Name() string { return s.name }

// Bytes returns the whole mapping: read-write for a writer, read-only for a
// reader (a store into a reader's bytes faults). It is empty for a
// zero-size segment. The slice is valid until Close.
func (s *Segment) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// Writable reports whether the segment was opened as a writer (Create or
// OpenWriter) and so holds the writer lock and a read-write mapping.
func (s *Segment) Writable() bool { return s.writable }

// Info describes the open segment from the object itself (fstat on Unix),
// so it still works after the segment was removed.
func (s *Segment) Info() (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Info{}, s.closedError("stat")
	}
	return s.sys.info(s)
}

// WriterAlive probes the segment's writer lock without disturbing a writer:
// alive reports whether some process holds it, and pid is the holder's
// process id, or 0 where the OS does not tell. On a writer Segment it
// reports this process. A reader uses it to tell "writer alive" from
// "writer gone" (exited or died; the OS released its lock either way).
func (s *Segment) WriterAlive() (alive bool, pid int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, 0, s.closedError("probe writer")
	}
	if s.writable {
		return true, os.Getpid(), nil
	}
	return s.sys.writerAlive(s)
}

// Replaced reports whether the segment's name no longer refers to the open
// object: it was removed, or removed and created anew (on Unix, the path
// now names another file or nothing). A subscriber that follows a segment
// uses it to notice that it should reopen. On Windows, where a name refers
// to the mapping as long as any handle is open, it is always false.
func (s *Segment) Replaced() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, s.closedError("stat")
	}
	return s.sys.replaced()
}

// MapWritableRange maps the window [off, off+length) of the same segment
// read-write, even from a reader Segment, and returns it. It exists for
// readers that must store into a small notification area (a futex word)
// while their mapping of the data stays read-only. off must be a multiple
// of os.Getpagesize() and the window must lie within the segment. The
// segment is reopened read-write by name and checked to be the same object
// as the open one (a segment removed or replaced meanwhile is an error);
// without write permission on it the error wraps fs.ErrPermission. The
// window is unmapped by Close. Supported on Linux only: elsewhere the error
// wraps errors.ErrUnsupported.
func (s *Segment) MapWritableRange(off, length int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, s.closedError("map range")
	}
	if ps := os.Getpagesize(); off < 0 || off%ps != 0 {
		return nil, newError("map range", s.name, fmt.Sprintf("offset %d is not a multiple of the page size %d", off, ps))
	}
	if length <= 0 || off+length < off || off+length > len(s.data) {
		return nil, newError("map range", s.name, fmt.Sprintf("window [%d, %d) is not within the segment's %d bytes", off, off+length, len(s.data)))
	}
	b, err := s.sys.mapRange(s, off, length)
	if err != nil {
		return nil, err
	}
	s.extra = append(s.extra, b)
	return b, nil
}

// Close unmaps every mapping of the segment, releases the writer lock if
// held and closes the segment's handles. It returns the failures joined
// with errors.Join. Closing a closed Segment does nothing and returns nil.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.sys.close(s)
	s.data, s.extra = nil, nil
	return err
}

func (s *Segment) closedError(op string) error {
	return &opError{op: op, name: s.name, msg: "segment closed", errs: []error{ErrClosed}}
}

// opError is the error type of this package: an operation on a named
// segment, a human-readable reason and the errors it wraps (sentinels,
// *fs.PathError), which errors.Is and errors.As see through Unwrap.
type opError struct {
	op, name string
	msg      string
	errs     []error
}

func (e *opError) Error() string {
	return "shmfile: " + e.op + " " + strconv.Quote(e.name) + ": " + e.msg
}

func (e *opError) Unwrap() []error { return e.errs }

// newError returns an error for op on the segment name with message msg,
// wrapping errs.
func newError(op, name, msg string, errs ...error) error {
	return &opError{op: op, name: name, msg: msg, errs: errs}
}

// sysError returns an error for op on the segment name caused by the system
// error err (usually an *fs.PathError), with a message for the common
// causes.
func sysError(op, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if op == "create" {
			return newError(op, name, "segment directory does not exist: "+err.Error(), err)
		}
		return newError(op, name, "no such segment", err)
	case errors.Is(err, fs.ErrExist):
		return newError(op, name, "segment already exists", err)
	}
	return newError(op, name, err.Error(), err)
}
