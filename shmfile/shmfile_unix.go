//go:build linux || darwin

package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// segmentsAreFiles: a segment is a file in Dir().
const segmentsAreFiles = true

// sysSegment is the Unix state of an open segment: the file descriptor that
// keeps the segment (and, for a writer, its lock) and the identity of the
// file it names.
type sysSegment struct {
	fd   int
	path string
	dev  uint64
	ino  uint64
}

// openFlags go with every open of a segment file: never follow a symbolic
// link, never leak the descriptor into a child, never block on a FIFO and
// never acquire a controlling terminal, should the path name one.
const openFlags = unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

func openFile(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags, perm)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

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

// replaced reports whether ss.path no longer names the open file.
func (ss *sysSegment) replaced() (bool, error) {
	var st unix.Stat_t
	err := unix.Lstat(ss.path, &st)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return true, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "lstat", Path: ss.path, Err: err}
	}
	return uint64(st.Dev) != ss.dev || uint64(st.Ino) != ss.ino, nil
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

func infoFromFileInfo(name string, fi fs.FileInfo) Info {
	info := Info{Name: name, Size: fi.Size(), Mode: fi.Mode().Perm(), ModTime: fi.ModTime(), UID: -1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID = int(st.Uid)
	}
	return info
}

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	dir := Dir()
	if err := ensureDir(dir); err != nil {
		return nil, newError("create", name, err.Error(), err)
	}
	path := filepath.Join(dir, name)
	// Created 0600 and widened by fchmod below: nobody else can open the
	// file before it is ours and locked.
	fd, err := openFile(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|openFlags, 0o600)
	if err != nil {
		return nil, openError("create", name, path, err)
	}
	s := &Segment{name: name, writable: true, sys: sysSegment{fd: fd, path: path}}
	st, err := s.sys.fstat()
	if err != nil {
		_ = unix.Close(fd)
		return nil, sysError("create", name, err)
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
			_ = unix.Close(fd)
			return nil, err
		}
		time.Sleep(time.Millisecond)
	}
	// fail removes the half-made segment, which we created and lock.
	fail := func(err error) (*Segment, error) {
		return nil, errors.Join(err, s.sys.unlinkOwn(name), s.sys.close(s))
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return fail(sysError("create", name, &fs.PathError{Op: "fchmod", Path: path, Err: err}))
	}
	if err := allocate(fd, int64(size)); err != nil {
		pe := &fs.PathError{Op: "allocate", Path: path, Err: err}
		if errors.Is(err, unix.ENOSPC) {
			return fail(newError("create", name, fmt.Sprintf("no space left in %s for %d bytes", dir, size), ErrNoSpace, pe))
		}
		return fail(sysError("create", name, pe))
	}
	if err := s.sys.mmap(s, size, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fail(sysError("create", name, err))
	}
	return s, nil
}

func openSegment(name string, minSize int, writable bool) (*Segment, error) {
	path := filepath.Join(Dir(), name)
	// Refuse what is visibly not a segment before opening it: opening a
	// device can have side effects. The fstat below is what counts.
	if fi, err := os.Lstat(path); err != nil {
		return nil, sysError("open", name, err)
	} else if err := checkRegular("open", name, path, fi.Mode()); err != nil {
		return nil, err
	}
	flags, prot := unix.O_RDONLY, unix.PROT_READ
	if writable {
		flags, prot = unix.O_RDWR, unix.PROT_READ|unix.PROT_WRITE
	}
	fd, err := openFile(path, flags|openFlags, 0)
	if err != nil {
		return nil, openError("open", name, path, err)
	}
	s := &Segment{name: name, writable: writable, sys: sysSegment{fd: fd, path: path}}
	fail := func(err error) (*Segment, error) {
		return nil, errors.Join(err, s.sys.close(s))
	}
	st, err := s.sys.fstat()
	if err != nil {
		return fail(sysError("open", name, err))
	}
	s.sys.dev, s.sys.ino = uint64(st.Dev), st.Ino
	if err := checkRegular("open", name, path, statMode(uint32(st.Mode))); err != nil {
		return fail(err)
	}
	if writable {
		if err := lockWriter(s); err != nil {
			s.writable = false // the lock is not ours to release
			return fail(err)
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
	return s, nil
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

// unlinkOwn removes the segment's path if it still names the open file.
func (ss *sysSegment) unlinkOwn(name string) error {
	var st unix.Stat_t
	if err := unix.Lstat(ss.path, &st); err != nil || uint64(st.Dev) != ss.dev || st.Ino != ss.ino {
		return nil
	}
	if err := unix.Unlink(ss.path); err != nil {
		return newError("remove", name, "removing half-made segment: "+err.Error(), &fs.PathError{Op: "unlink", Path: ss.path, Err: err})
	}
	return nil
}

func (ss *sysSegment) info(s *Segment) (Info, error) {
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

// close unmaps everything, releases the writer lock and closes the file.
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
	if ss.fd < 0 {
		return errors.Join(errs...)
	}
	if s.writable {
		if err := unlockWriter(ss.fd); err != nil {
			errs = append(errs, &fs.PathError{Op: "unlock", Path: ss.path, Err: err})
		}
	}
	if err := unix.Close(ss.fd); err != nil {
		errs = append(errs, &fs.PathError{Op: "close", Path: ss.path, Err: err})
	}
	ss.fd = -1
	if len(errs) > 0 {
		return newError("close", s.name, errors.Join(errs...).Error(), errs...)
	}
	return nil
}

func removeSegment(name string) error {
	path := filepath.Join(Dir(), name)
	fi, err := os.Lstat(path)
	if err != nil {
		return sysError("remove", name, err)
	}
	if err := checkRegular("remove", name, path, fi.Mode()); err != nil {
		return err
	}
	if err := unix.Unlink(path); err != nil {
		return sysError("remove", name, &fs.PathError{Op: "unlink", Path: path, Err: err})
	}
	return nil
}

func statSegment(name string) (Info, error) {
	path := filepath.Join(Dir(), name)
	fi, err := os.Lstat(path)
	if err != nil {
		return Info{}, sysError("stat", name, err)
	}
	if err := checkRegular("stat", name, path, fi.Mode()); err != nil {
		return Info{}, err
	}
	return infoFromFileInfo(name, fi), nil
}

func listSegments() ([]Info, error) {
	dir := Dir()
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("shmfile: list: %w", err)
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("shmfile: list: %w", err)
	}
	infos := []Info{}
	for _, e := range entries {
		if ValidName(e.Name()) != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		infos = append(infos, infoFromFileInfo(e.Name(), fi))
	}
	return infos, nil
}
