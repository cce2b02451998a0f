//go:build linux || darwin

package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// segmentsAreFiles: a segment is a file in Dir().
const segmentsAreFiles = true

// sysSegment is the Unix state of an open segment: the descriptor that
// keeps the segment (and, for a writer, its lock), the descriptor of the
// segment directory it was opened in (every later look at its name is
// relative to it, so a rename of a path component cannot redirect one),
// and the identity of the file.
type sysSegment struct {
	fd    int
	dirfd int
	path  string // Dir()/NAME as it was when opened, for messages
	dev   uint64
	ino   uint64
}

// openFlags go with every open of a segment file: never follow a symbolic
// link, never leak the descriptor into a child, never block on a FIFO and
// never acquire a controlling terminal, should the path name one.
const openFlags = unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

func openat(dirfd int, path, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// lstatat describes what name in dirfd is, without following a link.
func lstatat(dirfd int, path, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return st, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return st, nil
}

// segmentDir is the segment directory, opened and checked.
type segmentDir struct {
	fd   int
	path string
}

// openDir opens the segment directory once, without following a symbolic
// link at its last component, and checks that it can be trusted: nobody
// but its owner may write it, unless it is sticky (as /dev/shm, where only
// a file's owner may remove or rename it). A writer also needs the
// directory to be its own or root's: its owner could otherwise replace any
// segment in it. Readers accept any owner; they can check the owner of the
// segment itself (seqlock.OpenOptions.Owner).
func openDir(op, name string, write bool) (segmentDir, error) {
	dir := Dir()
	if err := ensureDir(dir); err != nil {
		return segmentDir{}, &Error{Op: op, Name: name, Err: err}
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.ENOTDIR {
		// O_DIRECTORY|O_NOFOLLOW on a symbolic link fails with ENOTDIR on
		// Linux (ELOOP elsewhere): say which it is.
		var st unix.Stat_t
		if unix.Lstat(dir, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = unix.ELOOP
		}
	}
	switch {
	case err == unix.ELOOP:
		return segmentDir{}, newError(op, name, "segment directory "+dir+" is a symbolic link (not followed)", ErrNotTrusted, &fs.PathError{Op: "open", Path: dir, Err: err})
	case err == unix.ENOENT:
		return segmentDir{}, newError(op, name, "segment directory "+dir+" does not exist", &fs.PathError{Op: "open", Path: dir, Err: err})
	case err != nil:
		return segmentDir{}, newError(op, name, "segment directory: "+err.Error(), &fs.PathError{Op: "open", Path: dir, Err: err})
	}
	d := segmentDir{fd: fd, path: dir}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return segmentDir{}, sysError(op, name, &fs.PathError{Op: "fstat", Path: dir, Err: err})
	}
	if err := checkDir(dir, &st, write); err != nil {
		unix.Close(fd)
		return segmentDir{}, &Error{Op: op, Name: name, Err: err}
	}
	return d, nil
}

// checkDir applies openDir's rules to the directory dir described by st.
func checkDir(dir string, st *unix.Stat_t, write bool) error {
	mode := statMode(uint32(st.Mode))
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	te := &TrustError{Path: dir, Dir: true, UID: int(st.Uid), Mode: mode}
	euid := os.Geteuid()
	switch {
	case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
		te.Why = fmt.Sprintf("segment directory %s (mode %04o) may be written by others and is not sticky: they could replace segments", dir, uint32(mode.Perm()))
	case write && int(st.Uid) != euid && st.Uid != 0:
		te.Why = fmt.Sprintf("segment directory %s belongs to uid %d, not to this user (uid %d) or root: its owner could replace segments", dir, st.Uid, euid)
	default:
		return nil
	}
	return te
}

func (d segmentDir) close() { unix.Close(d.fd) }

// at returns the path of name in d, for messages.
func (d segmentDir) at(name string) string { return filepath.Join(d.path, name) }

// openError describes the failure err of opening path for op on the
// segment name.
func openError(op, name, path string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return newError(op, name, "not a segment: "+path+" is a symbolic link (not followed)", ErrNotSegment, err)
	case errors.Is(err, unix.EISDIR):
		return newError(op, name, "not a segment: "+path+" is a directory", ErrNotSegment, err)
	case errors.Is(err, unix.ENXIO), errors.Is(err, unix.EOPNOTSUPP):
		return newError(op, name, "not a segment: "+path+" is not a regular file", ErrNotSegment, err)
	}
	return sysError(op, name, err)
}

// kind names the type of a file that is not a regular file.
func kind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// checkRegular returns an error wrapping ErrNotSegment unless mode is that
// of a regular file.
func checkRegular(op, name, path string, mode fs.FileMode) error {
	if mode.IsRegular() {
		return nil
	}
	return newError(op, name, "not a segment: "+path+" is "+kind(mode), ErrNotSegment)
}

// statMode converts the type and permission bits of a stat mode.
func statMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}

func (ss *sysSegment) fstat() (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(ss.fd, &st); err != nil {
		return st, &fs.PathError{Op: "fstat", Path: ss.path, Err: err}
	}
	return st, nil
}

// named reports whether the segment's name in its directory still refers to
// the open file (and the file still has a name at all).
func (ss *sysSegment) named(name string) (bool, error) {
	st, err := lstatat(ss.dirfd, ss.path, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(st.Dev) != ss.dev || uint64(st.Ino) != ss.ino {
		return false, nil
	}
	own, err := ss.fstat()
	if err != nil {
		return false, err
	}
	return own.Nlink > 0, nil
}

// replaced reports whether the segment's name no longer refers to the open
// file: it was removed (its link count is 0), or another file, or nothing,
// is at its name.
func (ss *sysSegment) replaced() (bool, error) {
	ok, err := ss.named(filepath.Base(ss.path))
	return !ok && err == nil, err
}

func infoFromStat(name string, st *unix.Stat_t) Info {
	return Info{
		Name:    name,
		Size:    st.Size,
		Mode:    statMode(uint32(st.Mode)).Perm(),
		ModTime: time.Unix(st.Mtim.Unix()),
		UID:     int(st.Uid),
	}
}

// checkOwner applies OpenWriter's trust rules to the segment file st.
func checkOwner(op, name, path string, st *unix.Stat_t, a *access) error {
	if !a.write || a.foreign {
		return nil
	}
	mode := statMode(uint32(st.Mode)).Perm()
	te := &TrustError{Path: path, UID: int(st.Uid), Mode: mode, Want: a.mode}
	euid := os.Geteuid()
	switch {
	case int(st.Uid) != euid:
		te.Why = fmt.Sprintf("segment belongs to uid %d (mode %04o), not to this user (uid %d): a publisher adopts only its own segments", st.Uid, uint32(mode), euid)
	case mode&^a.mode != 0:
		te.Why = fmt.Sprintf("segment mode %04o grants more than the %04o asked for", uint32(mode), uint32(a.mode))
	default:
		return nil
	}
	return &Error{Op: op, Name: name, Err: te}
}

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	d, err := openDir("create", name, true)
	if err != nil {
		return nil, err
	}
	s, err := retry(func() (*Segment, bool, error) { return createOnce(d, name, size, mode) })
	if s == nil {
		d.close()
	}
	return s, err
}

// createOnce creates the segment in d. If the new file loses its name before
// it is locked (a Remove in between), it reports again: the caller starts
// over.
func createOnce(d segmentDir, name string, size int, mode fs.FileMode) (_ *Segment, again bool, _ error) {
	path := d.at(name)
	// Created 0600 and widened by fchmod below: nobody else can open the
	// file before it is ours and locked.
	fd, err := openat(d.fd, path, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|openFlags, 0o600)
	if err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return nil, false, newError("create", name, "no space left in "+d.path+" for a new file (out of inodes?)", ErrNoSpace, err)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, false, newError("create", name, "permission denied: cannot create files in "+d.path, err)
		}
		return nil, false, openError("create", name, path, err)
	}
	s := &Segment{name: name, writable: true, sys: sysSegment{fd: fd, dirfd: d.fd, path: path}}
	st, err := s.sys.fstat()
	if err != nil {
		unix.Close(fd)
		return nil, false, sysError("create", name, err)
	}
	s.sys.dev, s.sys.ino = uint64(st.Dev), st.Ino
	// Another process may open the new file as a writer before we lock
	// it; finding it too small, it lets go at once. Retry for a moment
	// before deciding that the file is someone else's.
	for i := 0; ; i++ {
		err := lockWriter(s)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrBusy) || i == 50 {
			// It is theirs now: leave it.
			unix.Close(fd)
			return nil, false, err
		}
		time.Sleep(time.Millisecond)
	}
	if ok, err := s.sys.named(name); !ok || err != nil {
		// Removed between the open and the lock: not ours to use.
		unix.Close(fd)
		return nil, err == nil, err
	}
	// fail removes the half-made segment, which we created and lock.
	fail := func(err error) (*Segment, bool, error) {
		uerr := s.sys.unlink(s)
		s.sys.dirfd = -1 // the caller's
		return nil, false, errors.Join(err, uerr, s.sys.close(s))
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return fail(sysError("create", name, &fs.PathError{Op: "fchmod", Path: path, Err: err}))
	}
	if err := allocate(fd, int64(size)); err != nil {
		pe := &fs.PathError{Op: "allocate", Path: path, Err: err}
		if errors.Is(err, unix.ENOSPC) {
			return fail(newError("create", name, fmt.Sprintf("no space left in %s for %d bytes", d.path, size), ErrNoSpace, pe))
		}
		return fail(sysError("create", name, pe))
	}
	if err := s.sys.mmap(s, size, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fail(sysError("create", name, err))
	}
	return s, false, nil
}

func openSegment(name string, minSize int, a *access) (*Segment, error) {
	d, err := openDir("open", name, a.write)
	if err != nil {
		return nil, err
	}
	s, err := retry(func() (*Segment, bool, error) { return openOnce(d, name, minSize, a) })
	if s == nil {
		d.close()
	}
	return s, err
}

// openOnce opens the segment in d. If a writer finds, once it holds the
// lock, that the name no longer refers to the file it locked (a Remove or
// a take-over in between), it reports again: the caller starts over.
func openOnce(d segmentDir, name string, minSize int, a *access) (_ *Segment, again bool, _ error) {
	path := d.at(name)
	// Refuse what is visibly not a segment before opening it: opening a
	// device can have side effects. The fstat below is what counts.
	if st, err := lstatat(d.fd, path, name); err != nil {
		return nil, false, sysError("open", name, err)
	} else if err := checkRegular("open", name, path, statMode(uint32(st.Mode))); err != nil {
		return nil, false, err
	}
	flags, prot := unix.O_RDONLY, unix.PROT_READ
	if a.write {
		flags, prot = unix.O_RDWR, unix.PROT_READ|unix.PROT_WRITE
	}
	fd, err := openat(d.fd, path, name, flags|openFlags, 0)
	if err != nil {
		return nil, false, openError("open", name, path, err)
	}
	s := &Segment{name: name, sys: sysSegment{fd: fd, dirfd: d.fd, path: path}}
	fail := func(err error) (*Segment, bool, error) {
		s.sys.dirfd = -1 // the caller's
		return nil, false, errors.Join(err, s.sys.close(s))
	}
	st, err := s.sys.fstat()
	if err != nil {
		return fail(sysError("open", name, err))
	}
	s.sys.dev, s.sys.ino = uint64(st.Dev), st.Ino
	if err := checkRegular("open", name, path, statMode(uint32(st.Mode))); err != nil {
		return fail(err)
	}
	if a.write {
		// Locked first, so that a live writer is reported as such (the
		// lock of a file we then refuse is released at once).
		if err := lockWriter(s); err != nil {
			return fail(err)
		}
		s.writable = true
		if err := checkOwner("open", name, path, &st, a); err != nil {
			return fail(err)
		}
		ok, err := s.sys.named(name)
		if err != nil {
			return fail(sysError("open", name, err))
		}
		if !ok {
			// Removed (or replaced) before we held the lock: adopting it
			// would leave a publisher on a file nobody can open.
			_, _, err := fail(nil)
			return nil, true, errors.Join(newError("open", name, "no such segment", ErrRemoved, fs.ErrNotExist), err)
		}
		// The size may have changed while we waited for the lock.
		if st, err = s.sys.fstat(); err != nil {
			return fail(sysError("open", name, err))
		}
	}
	if st.Size < int64(minSize) {
		return fail(newError("open", name, fmt.Sprintf("segment too small: %d bytes, need at least %d", st.Size, minSize), ErrTooSmall))
	}
	if st.Size > math.MaxInt {
		return fail(newError("open", name, fmt.Sprintf("segment of %d bytes is too large to map", st.Size)))
	}
	if err := s.sys.mmap(s, int(st.Size), prot); err != nil {
		return fail(sysError("open", name, err))
	}
	return s, false, nil
}

// mmap maps the first size bytes of the segment with protection prot. A
// zero-size segment is not mapped (mmap refuses length 0); its Bytes are
// empty.
func (ss *sysSegment) mmap(s *Segment, size int, prot int) error {
	if size == 0 {
		return nil
	}
	b, err := unix.Mmap(ss.fd, 0, size, prot, unix.MAP_SHARED)
	if err != nil {
		return &fs.PathError{Op: "mmap", Path: ss.path, Err: err}
	}
	s.data = b
	return nil
}

// unlink removes the segment's name if it still refers to the open file.
// The caller holds the writer lock, so no seqshm writer can remove the
// file and create another between the check and the unlink.
func (ss *sysSegment) unlink(s *Segment) error {
	ok, err := ss.named(s.name)
	if err != nil {
		return sysError("remove", s.name, err)
	}
	if !ok {
		return newError("remove", s.name, "segment was removed or replaced since it was opened", ErrRemoved)
	}
	if err := unix.Unlinkat(ss.dirfd, s.name, 0); err != nil {
		return sysError("remove", s.name, &fs.PathError{Op: "unlink", Path: ss.path, Err: err})
	}
	return nil
}

func (ss *sysSegment) stat(s *Segment) (Info, error) {
	st, err := ss.fstat()
	if err != nil {
		return Info{}, sysError("stat", s.name, err)
	}
	return infoFromStat(s.name, &st), nil
}

func (ss *sysSegment) writerAlive(s *Segment) (bool, int, error) {
	alive, pid, err := probeWriter(ss.fd)
	if err != nil {
		return false, 0, sysError("probe writer", s.name, &fs.PathError{Op: "probe lock", Path: ss.path, Err: err})
	}
	return alive, pid, nil
}

// close unmaps everything, releases the writer lock and closes the file and
// the directory.
func (ss *sysSegment) close(s *Segment) error {
	var errs []error
	for _, b := range append(s.extra, s.data) {
		if b == nil {
			continue
		}
		if err := unix.Munmap(b); err != nil {
			errs = append(errs, &fs.PathError{Op: "munmap", Path: ss.path, Err: err})
		}
	}
	if ss.fd >= 0 {
		if s.writable {
			if err := unlockWriter(ss.fd); err != nil {
				errs = append(errs, &fs.PathError{Op: "unlock", Path: ss.path, Err: err})
			}
		}
		if err := unix.Close(ss.fd); err != nil {
			errs = append(errs, &fs.PathError{Op: "close", Path: ss.path, Err: err})
		}
		ss.fd = -1
	}
	if ss.dirfd >= 0 {
		unix.Close(ss.dirfd)
		ss.dirfd = -1
	}
	if len(errs) > 0 {
		return newError("close", s.name, errors.Join(errs...).Error(), errs...)
	}
	return nil
}

func removeSegment(name string) error {
	d, err := openDir("remove", name, true)
	if err != nil {
		return err
	}
	defer d.close()
	path := d.at(name)
	st, err := lstatat(d.fd, path, name)
	if err != nil {
		return sysError("remove", name, err)
	}
	if err := checkRegular("remove", name, path, statMode(uint32(st.Mode))); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return sysError("remove", name, &fs.PathError{Op: "unlink", Path: path, Err: err})
	}
	return nil
}

func statSegment(name string) (Info, error) {
	d, err := openDir("stat", name, false)
	if err != nil {
		return Info{}, err
	}
	defer d.close()
	path := d.at(name)
	st, err := lstatat(d.fd, path, name)
	if err != nil {
		return Info{}, sysError("stat", name, err)
	}
	if err := checkRegular("stat", name, path, statMode(uint32(st.Mode))); err != nil {
		return Info{}, err
	}
	return infoFromStat(name, &st), nil
}

func listSegments() ([]Info, error) {
	d, err := openDir("list", "", false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, newError("list", "", err.Error(), &fs.PathError{Op: "dup", Path: d.path, Err: err})
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, newError("list", "", err.Error(), err)
	}
	slices.Sort(names)
	infos := []Info{}
	for _, name := range names {
		if !ValidName(name) {
			continue
		}
		st, err := lstatat(d.fd, d.at(name), name)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue // removed since, or not a segment
		}
		infos = append(infos, infoFromStat(name, &st))
	}
	return infos, nil
}
