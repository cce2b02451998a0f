package shmfile

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// MaxNameLen is the length limit of a segment name, in bytes.
const MaxNameLen = 200

// ValidName reports whether name may name a segment: 1 to 200 characters of
// [A-Za-z0-9._-], not starting with '.'. A valid name is never a path: it
// contains no separator and cannot be "." or "..".
func ValidName(name string) bool { return CheckName(name) == nil }

// CheckName returns nil if name is valid (see ValidName), else an error
// wrapping ErrInvalidName that quotes the name and says what is wrong with
// it.
func CheckName(name string) error {
	invalid := func(why string) error {
		return &Error{Name: name, Err: fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)}
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
// their objects), a per-user directory on macOS (os.TempDir()/seqshm,
// created with mode 0700 when first needed) and %LOCALAPPDATA%\seqshm on
// Windows (created, for this user and SYSTEM only, when first needed). On
// systems without segment support it returns "".
func Dir() string {
	if !segmentsAreFiles {
		return ""
	}
	if d := os.Getenv("SEQSHM_DIR"); d != "" {
		return d
	}
	return defaultDir()
}

// Options are the options of Create and OpenWriter. A nil *Options means
// the defaults.
type Options struct {
	// Mode is the permission of a new segment file, applied exactly with
	// fchmod after creation, so the process umask does not narrow it.
	// Zero means 0600. Only permission bits are allowed. OpenWriter
	// refuses (ErrNotTrusted) a segment whose mode grants more than Mode.
	// On Windows Mode becomes a protected DACL of the file, the mapping and
	// the writer mutex: this user and SYSTEM always have full access, the
	// group read and write bits grant read and write to BUILTIN\Users, the
	// other bits to Everyone; execute bits are ignored.
	Mode fs.FileMode
	// Foreign lets OpenWriter open a segment that another user owns or
	// whose mode grants more than Mode. It is for removing such a segment
	// (Segment.Remove), never for writing into it: its owner can change it
	// under the writer.
	Foreign bool
}

// mode returns the permission bits o asks for, or an error.
func (o *Options) mode(op, name string) (fs.FileMode, error) {
	if o == nil || o.Mode == 0 {
		return 0o600, nil
	}
	if o.Mode&^fs.ModePerm != 0 {
		return 0, newError(op, name, fmt.Sprintf("mode %v is not a permission mode", o.Mode))
	}
	return o.Mode, nil
}

// Info describes a segment. The zero value describes nothing; fields the
// operating system does not report are zero (UID is -1).
//
// On Windows Mode is derived from the file's DACL (read and write bits of
// allow ACEs: this user or OWNER RIGHTS give owner bits, Everyone other
// bits, SYSTEM and Administrators none, any other SID group bits; a NULL
// DACL is 0666), and UID is always -1. A segment opened by its mapping name
// alone (no file at the name, see OpenReader) has only Name and Size, the
// size of its view rounded up to whole pages.
type Info struct {
	Name    string      // segment name
	Size    int64       // size in bytes
	Mode    fs.FileMode // permission bits
	ModTime time.Time   // last modification
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
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, newError("create", name, "size "+strconv.Itoa(size)+" is not positive")
	}
	mode, err := opts.mode("create", name)
	if err != nil {
		return nil, err
	}
	return createSegment(name, size, mode)
}

// OpenWriter opens the existing segment name, takes its writer lock and maps
// it read-write. If another writer holds the lock the error wraps ErrBusy
// (its cause is a *BusyError). The segment must be a regular file (else
// ErrNotSegment) of at least minSize bytes (else ErrTooSmall), owned by this
// process's effective user, with a mode that grants no more than opts.Mode
// (else ErrNotTrusted, unless opts.Foreign). Once it holds the lock,
// OpenWriter checks that the name still refers to the file it locked, so a
// segment removed meanwhile is never adopted: the error then wraps
// fs.ErrNotExist.
func OpenWriter(name string, minSize int, opts *Options) (*Segment, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	mode, err := opts.mode("open", name)
	if err != nil {
		return nil, err
	}
	return openSegment(name, minSize, &access{write: true, mode: mode, foreign: opts != nil && opts.Foreign})
}

// access says how openSegment opens a segment: read-only, or as its writer
// (taking the lock) with the trust checks of OpenWriter.
type access struct {
	write   bool
	mode    fs.FileMode // the most a writer accepts
	foreign bool        // skip the owner and mode checks
}

// OpenReader opens the existing segment name and maps it read-only: a reader
// never has a writable mapping of the data, so a stray store faults instead
// of corrupting the segment. It takes no lock. The segment must be a regular
// file (else ErrNotSegment) of at least minSize bytes (else ErrTooSmall). A
// missing segment is an error wrapping fs.ErrNotExist, with the message
// `shmfile: open "NAME": no such segment`. On Windows, where there is no
// file at the name, OpenReader opens the writer's named mapping
// Local\seqshm.NAME if one exists (a writer of another user, or with
// another SEQSHM_DIR, in this session).
func OpenReader(name string, minSize int) (*Segment, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return openSegment(name, minSize, &access{})
}

// Remove removes the segment name without taking its writer lock (see
// Segment.Remove for the careful way). Processes that have it mapped keep
// their mappings; a later Create with the same name makes a new, different
// segment. A missing segment is an error wrapping fs.ErrNotExist; something
// other than a regular file at the segment's path is left alone and is an
// error wrapping ErrNotSegment. On Windows Remove refuses while a writer
// holds the segment's lock (an error wrapping ErrBusy), and renames a file
// that some process still maps to .removed-NAME-PID-N in the same directory
// (Windows refuses to delete a mapped file); such a file is deleted, once
// nobody maps it, by the next Create or Remove in the directory or by the
// Close of the writer whose file it was.
func Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	return removeSegment(name)
}

// List describes the segments in Dir(), sorted by name. Entries that are not
// regular files or whose names are not valid segment names (such as the
// .removed- files of Windows) are skipped silently.
func List() ([]Info, error) {
	return listSegments()
}

// Stat describes the segment name without mapping it. A missing segment is
// an error wrapping fs.ErrNotExist, anything but a regular file an error
// wrapping ErrNotSegment.
func Stat(name string) (Info, error) {
	if err := CheckName(name); err != nil {
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

// Stat describes the open segment from the object itself (fstat on Unix),
// so it still works after the segment was removed.
func (s *Segment) Stat() (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Info{}, s.closedError("stat")
	}
	return s.sys.stat(s)
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
// object: it was removed, or removed and created anew (the path now names
// another file or nothing: on Unix compared by device and inode, on Windows
// by volume serial number and file index). A subscriber that follows a
// segment uses it to notice that it should reopen. A Windows segment opened
// by its mapping name alone (see OpenReader) is never Replaced.
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
// of os.Getpagesize(), on Windows of the 64 KiB allocation granularity, and
// the window must lie within the segment. For a reader Segment the
// segment is reopened read-write by name and checked to be the same object
// as the open one (a segment removed or replaced meanwhile is an error);
// without write permission on it the error wraps fs.ErrPermission. A writer
// Segment maps through its own handle. The window is unmapped by Close.
// Supported on Linux and Windows: elsewhere the error wraps
// errors.ErrUnsupported.
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

// Remove removes the segment's name if it still refers to this segment. It
// needs the writer lock (a Segment from Create or OpenWriter): a segment
// that another process removed and created anew is left alone, and the
// error wraps ErrRemoved. Mappings stay valid until Close.
func (s *Segment) Remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closedError("remove")
	}
	if !s.writable {
		return newError("remove", s.name, "a segment opened for reading cannot be removed through it")
	}
	return s.sys.unlink(s)
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
	return &Error{Op: op, Name: s.name, Err: ErrClosed}
}

// retries bounds how often a create or an open starts again because the
// name stopped referring to the file it opened (a Remove or a take-over in
// between).
const retries = 100

// retry calls once until it returns a segment or an error it does not ask
// to retry (again false), at most retries times more.
func retry(once func() (_ *Segment, again bool, _ error)) (*Segment, error) {
	for i := 0; ; i++ {
		s, again, err := once()
		if s != nil || !again || i == retries {
			return s, err
		}
	}
}

// The contract of each operating system's file (shmfile_linux.go and
// shmfile_unix.go, shmfile_darwin.go, shmfile_windows.go,
// shmfile_unsupported.go): a port that lacks one of these does not compile.
var (
	_ func(name string, size int, mode fs.FileMode) (*Segment, error) = createSegment
	_ func(name string, minSize int, a *access) (*Segment, error)     = openSegment
	_ func(name string) error                                         = removeSegment
	_ func(name string) (Info, error)                                 = statSegment
	_ func() ([]Info, error)                                          = listSegments
	_ func() string                                                   = defaultDir
	_ osSegment                                                       = (*sysSegment)(nil)
)

// osSegment is what each operating system's sysSegment does for an open
// Segment; the Segment's mutex is held around every call.
type osSegment interface {
	stat(s *Segment) (Info, error)
	writerAlive(s *Segment) (alive bool, pid int, err error)
	replaced() (bool, error)
	mapRange(s *Segment, off, length int) ([]byte, error)
	unlink(s *Segment) error
	close(s *Segment) error
}
