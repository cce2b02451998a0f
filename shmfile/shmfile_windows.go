package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"

	"golang.org/x/sys/windows"
)

// segmentsAreFiles: a segment is a named kernel object, not a file.
const segmentsAreFiles = false

func defaultDir() string { return "" }

// mappingName is the name of the segment's page-file-backed mapping and
// lockName that of its writer mutex. The prefixes differ ("seqshm." and
// "seqshm-lock."), so no segment name can make one collide with the other:
// mutexes and mappings share one namespace.
func mappingName(name string) string { return `Local\seqshm.` + name }
func lockName(name string) string    { return `Local\seqshm-lock.` + name }

// sysSegment is the Windows state of an open segment: the mapping handle
// that keeps the segment in existence, the view's address and, for a
// writer, the held mutex.
type sysSegment struct {
	mapping windows.Handle
	addr    uintptr
	lock    *writerLock
}

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	obj := mappingName(name)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, sysError("create", name, err)
	}
	h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE,
		uint32(uint64(size)>>32), uint32(uint64(size)), p)
	if h != 0 && err == windows.ERROR_ALREADY_EXISTS {
		// The handle is valid and names the existing mapping: not ours.
		_ = windows.CloseHandle(h)
		return nil, sysError("create", name, &fs.PathError{Op: "CreateFileMapping", Path: obj, Err: err})
	}
	if h == 0 {
		return nil, sysError("create", name, &fs.PathError{Op: "CreateFileMapping", Path: obj, Err: err})
	}
	s := &Segment{name: name, writable: true, sys: sysSegment{mapping: h}}
	if s.sys.lock, err = lockWriter(name); err != nil {
		s.writable = false
		return nil, errors.Join(err, s.sys.close(s))
	}
	if err := s.sys.mapView(s, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, size, obj); err != nil {
		return nil, errors.Join(sysError("create", name, err), s.sys.close(s))
	}
	return s, nil
}

func openSegment(name string, minSize int, a *access) (*Segment, error) {
	writable := a.write
	obj := mappingName(name)
	access := uint32(windows.FILE_MAP_READ)
	if writable {
		access |= windows.FILE_MAP_WRITE
	}
	h, err := openFileMapping(access, obj)
	if err != nil {
		return nil, sysError("open", name, &fs.PathError{Op: "OpenFileMapping", Path: obj, Err: err})
	}
	s := &Segment{name: name, sys: sysSegment{mapping: h}}
	fail := func(err error) (*Segment, error) {
		return nil, errors.Join(err, s.sys.close(s))
	}
	if writable {
		if s.sys.lock, err = lockWriter(name); err != nil {
			return fail(err)
		}
		s.writable = true
	}
	if err := s.sys.mapView(s, access, 0, obj); err != nil {
		return fail(sysError("open", name, err))
	}
	if len(s.data) < minSize {
		return fail(newError("open", name, fmt.Sprintf("segment too small: %d bytes, need at least %d", len(s.data), minSize), ErrTooSmall))
	}
	return s, nil
}

// mapView maps a view of size bytes, or of the whole mapping if size is 0
// (whose size VirtualQuery then tells, rounded up to whole pages).
func (ss *sysSegment) mapView(s *Segment, access uint32, size int, obj string) error {
	addr, err := windows.MapViewOfFile(ss.mapping, access, 0, 0, uintptr(size))
	if err != nil {
		return &fs.PathError{Op: "MapViewOfFile", Path: obj, Err: err}
	}
	ss.addr = addr
	if size == 0 {
		if size, err = regionSize(addr); err != nil {
			return &fs.PathError{Op: "VirtualQuery", Path: obj, Err: err}
		}
	}
	s.data = viewBytes(addr, size)
	return nil
}

// replaced is always false: a mapping's name stays bound to it while any
// handle is open, and this Segment holds one.
func (ss *sysSegment) replaced() (bool, error) { return false, nil }

func (ss *sysSegment) stat(s *Segment) (Info, error) {
	return Info{Name: s.name, Size: int64(len(s.data)), UID: -1}, nil
}

func (ss *sysSegment) writerAlive(s *Segment) (bool, int, error) {
	alive, err := probeWriter(s.name)
	if err != nil {
		return false, 0, sysError("probe writer", s.name, &fs.PathError{Op: "probe lock", Path: lockName(s.name), Err: err})
	}
	return alive, 0, nil
}

func (ss *sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	return nil, newError("map range", s.name, "writable windows are supported on Linux only", errors.ErrUnsupported)
}

// close unmaps the view, releases the writer lock and closes the mapping
// handle (the segment vanishes with the last handle to it in any process).
func (ss *sysSegment) close(s *Segment) error {
	var errs []error
	if ss.addr != 0 {
		if err := windows.UnmapViewOfFile(ss.addr); err != nil {
			errs = append(errs, &fs.PathError{Op: "UnmapViewOfFile", Path: mappingName(s.name), Err: err})
		}
		ss.addr = 0
	}
	if ss.lock != nil {
		if err := ss.lock.unlock(); err != nil {
			errs = append(errs, &fs.PathError{Op: "ReleaseMutex", Path: lockName(s.name), Err: err})
		}
		ss.lock = nil
	}
	if ss.mapping != 0 {
		if err := windows.CloseHandle(ss.mapping); err != nil {
			errs = append(errs, &fs.PathError{Op: "CloseHandle", Path: mappingName(s.name), Err: err})
		}
		ss.mapping = 0
	}
	if len(errs) > 0 {
		return newError("close", s.name, errors.Join(errs...).Error(), errs...)
	}
	return nil
}

func removeSegment(name string) error {
	return newError("remove", name, "a Windows segment lives as long as a handle to it is open and cannot be removed", errors.ErrUnsupported)
}

func listSegments() ([]Info, error) {
	return nil, newError("list", "", "named mappings cannot be listed on Windows", errors.ErrUnsupported)
}

// unlink is not possible: a mapping lives as long as a handle to it.
func (ss *sysSegment) unlink(s *Segment) error { return removeSegment(s.name) }

func statSegment(name string) (Info, error) {
	s, err := openSegment(name, 0, &access{})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op = "stat"
		}
		return Info{}, err
	}
	info, _ := s.sys.stat(s)
	return info, s.Close()
}

// The writer lock is a named mutex. A Windows mutex belongs to a thread, not
// a process: only the owning thread may release it, and the system releases
// it (as abandoned) when that thread exits, which includes the process
// dying. Goroutines move between threads, so one goroutine locked to its
// own OS thread takes the mutex, keeps the thread alive while the lock is
// held and releases it on unlock.
type writerLock struct {
	h       windows.Handle
	release chan struct{}
	done    chan error
}

// A reader probes the mutex by taking it for an instant (a mutex has no
// query), so a writer retries for a while before it reports ErrBusy.
const (
	lockTries = 10
	lockPause = 2 * time.Millisecond
)

func lockWriter(name string) (*writerLock, error) {
	obj := lockName(name)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, sysError("lock", name, err)
	}
	// ERROR_ALREADY_EXISTS comes with a valid handle to the existing
	// mutex: fine, owning it is what counts.
	h, err := windows.CreateMutex(nil, false, p)
	if h == 0 {
		return nil, sysError("lock", name, &fs.PathError{Op: "CreateMutex", Path: obj, Err: err})
	}
	l := &writerLock{h: h, release: make(chan struct{}), done: make(chan error, 1)}
	acquired := make(chan error, 1)
	go l.hold(acquired)
	switch err := <-acquired; {
	case err == errBusyMutex:
		_ = windows.CloseHandle(h)
		return nil, newError("open", name, "segment busy: another writer holds it", ErrBusy)
	case err != nil:
		_ = windows.CloseHandle(h)
		return nil, sysError("lock", name, &fs.PathError{Op: "WaitForSingleObject", Path: obj, Err: err})
	}
	return l, nil
}

var errBusyMutex = errors.New("mutex owned by another thread")

func (l *writerLock) hold(acquired chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; ; i++ {
		ev, err := windows.WaitForSingleObject(l.h, 0)
		switch ev {
		case windows.WAIT_OBJECT_0, windows.WAIT_ABANDONED:
			// Ours. WAIT_ABANDONED: the previous writer died holding it.
		case uint32(windows.WAIT_TIMEOUT):
			if i < lockTries {
				time.Sleep(lockPause)
				continue
			}
			acquired <- errBusyMutex
			return
		default:
			if err == nil {
				err = fmt.Errorf("unexpected wait result %#x", ev)
			}
			acquired <- err
			return
		}
		break
	}
	acquired <- nil
	<-l.release
	l.done <- windows.ReleaseMutex(l.h)
}

// unlock releases the mutex on its owning thread and closes the handle.
func (l *writerLock) unlock() error {
	close(l.release)
	return errors.Join(<-l.done, windows.CloseHandle(l.h))
}

// probeWriter reports whether a writer holds the mutex of the segment name,
// by taking it for an instant on a locked thread.
func probeWriter(name string) (bool, error) {
	p, err := windows.UTF16PtrFromString(lockName(name))
	if err != nil {
		return false, err
	}
	h, err := windows.OpenMutex(windows.SYNCHRONIZE|windows.MUTEX_MODIFY_STATE, false, p)
	if err == windows.ERROR_FILE_NOT_FOUND {
		return false, nil // no writer ever opened it, or all have gone
	}
	if err != nil {
		return false, err
	}
	defer windows.CloseHandle(h)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ev, err := windows.WaitForSingleObject(h, 0)
	switch ev {
	case windows.WAIT_OBJECT_0, windows.WAIT_ABANDONED:
		return false, windows.ReleaseMutex(h)
	case uint32(windows.WAIT_TIMEOUT):
		return true, nil
	}
	if err == nil {
		err = fmt.Errorf("unexpected wait result %#x", ev)
	}
	return false, err
}
