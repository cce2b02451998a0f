package shmfile

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func defaultDir() string { return "/dev/shm" }

// ensureDir does nothing on Linux: /dev/shm exists, and a missing
// $SEQSHM_DIR is the caller's error to see.
func ensureDir(string) error { return nil }

// allocate reserves the first size bytes of the file, so that a full tmpfs
// fails here and not with a SIGBUS on first touch. File systems without
// fallocate get a plain (sparse) ftruncate.
func allocate(fd int, size int64) error {
	err := unix.Fallocate(fd, 0, 0, size)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		err = unix.Ftruncate(fd, size)
	}
	return err
}

// The writer lock is an open-file-description (OFD) write lock on a byte
// range far beyond any segment's end: it starts at lockBase and is 1+pid
// bytes long, so its length tells a prober the holder's pid (F_OFD_GETLK
// reports l_pid as -1 for OFD locks), and any two writers' ranges overlap
// at lockBase. The range does not touch the file's bytes and does not
// conflict with locks other programs take on the data.
const lockBase = 1 << 62

// lockWriter takes the writer lock of s without waiting. A lock held by
// another open file description (another process, or another Segment in
// this one) is an error wrapping ErrBusy.
func lockWriter(s *Segment) error {
	lk := unix.Flock_t{
		Type:   unix.F_WRLCK,
		Whence: 0, // SEEK_SET
		Start:  lockBase,
		Len:    1 + int64(os.Getpid()),
	}
	for {
		err := unix.FcntlFlock(uintptr(s.sys.fd), unix.F_OFD_SETLK, &lk)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.EACCES:
			return busyError(s)
		}
		return sysError("lock", s.name, &fs.PathError{Op: "lock", Path: s.sys.path, Err: err})
	}
}

func busyError(s *Segment) error {
	be := &BusyError{}
	if alive, pid, err := probeWriter(s.sys.fd); err == nil && alive && pid > 0 {
		be.PID = pid
	}
	return &Error{Op: "open", Name: s.name, Err: be}
}

// unlockWriter releases the writer lock. Closing the file descriptor would
// release it too (it is the only one on its open file description).
func unlockWriter(fd int) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: lockBase, Len: 0}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

// probeWriter asks the kernel, with F_OFD_GETLK, whether a write lock on
// the writer range would conflict. It takes nothing, so it cannot disturb
// a writer, and it works on a read-only descriptor.
func probeWriter(fd int) (alive bool, pid int, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: lockBase, Len: 0}
	for {
		err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return false, 0, err
	}
	if lk.Type == unix.F_UNLCK {
		return false, 0, nil
	}
	switch {
	case lk.Start == lockBase && lk.Len > 1:
		pid = int(lk.Len - 1)
	case lk.Pid > 0: // a classic POSIX lock of some other program
		pid = int(lk.Pid)
	}
	return true, pid, nil
}

// mapRange maps [off, off+length) of the segment read-write. A reader
// reopens the file by path (O_RDWR, never following links) and checks it is
// the same object; a writer maps its own descriptor.
func (ss *sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	fd := ss.fd
	if !s.writable {
		nfd, err := openat(ss.dirfd, ss.path, s.name, unix.O_RDWR|openFlags, 0)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, newError("map range", s.name, "segment was removed since it was opened", ErrRemoved, err)
			}
			return nil, openError("map range", s.name, ss.path, err)
		}
		defer unix.Close(nfd)
		var st unix.Stat_t
		if err := unix.Fstat(nfd, &st); err != nil {
			return nil, sysError("map range", s.name, &fs.PathError{Op: "fstat", Path: ss.path, Err: err})
		}
		if uint64(st.Dev) != ss.dev || st.Ino != ss.ino {
			return nil, newError("map range", s.name, ss.path+" now names a different object than the open segment", ErrRemoved)
		}
		fd = nfd
	}
	b, err := unix.Mmap(fd, int64(off), length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, sysError("map range", s.name, &fs.PathError{Op: "mmap", Path: ss.path, Err: err})
	}
	return b, nil
}
