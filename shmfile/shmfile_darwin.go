package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// defaultDir is a directory of this user's: macOS gives each user a private
// os.TempDir (under /var/folders).
func defaultDir() string { return filepath.Join(os.TempDir(), "seqshm") }

// ensureDir creates the default directory with mode 0700 if it is missing
// and checks that it is a directory (not a symbolic link) of this user's
// that nobody else may write into. A $SEQSHM_DIR is used as it is.
func ensureDir(dir string) error {
	if dir != defaultDir() {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("segment directory %s is not a private directory of this user's", dir)
	}
	return nil
}

// allocate reserves the file's blocks with F_PREALLOCATE where the file
// system supports it, then sets the size.
func allocate(fd int, size int64) error {
	fst := unix.Fstore_t{Flags: unix.F_ALLOCATEALL, Posmode: unix.F_PEOFPOSMODE, Length: size}
	if err := unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &fst); err == unix.ENOSPC {
		return err
	}
	return unix.Ftruncate(fd, size)
}

// The writer lock is flock(LOCK_EX) on the segment file. flock has no
// query, so a reader probes by taking LOCK_SH|LOCK_NB for an instant; a
// writer starting at that instant retries for a while before it reports
// ErrBusy.
const (
	lockTries = 10
	lockPause = 2 * time.Millisecond
)

func lockWriter(s *Segment) error {
	for i := 0; ; i++ {
		err := unix.Flock(s.sys.fd, unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			if i < lockTries {
				time.Sleep(lockPause)
				continue
			}
			return &Error{Op: "open", Name: s.name, Err: &BusyError{}}
		}
		return sysError("lock", s.name, &fs.PathError{Op: "flock", Path: s.sys.path, Err: err})
	}
}

func unlockWriter(fd int) error { return unix.Flock(fd, unix.LOCK_UN) }

// probeWriter takes and at once drops a shared lock: if it cannot, a writer
// holds the exclusive one. flock does not tell the holder's pid.
func probeWriter(fd int) (alive bool, pid int, err error) {
	for {
		err = unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil:
		return false, 0, unix.Flock(fd, unix.LOCK_UN)
	case unix.EWOULDBLOCK:
		return true, 0, nil
	}
	return false, 0, err
}

func (ss *sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	return nil, newError("map range", s.name, "writable windows are supported on Linux only", errors.ErrUnsupported)
}
