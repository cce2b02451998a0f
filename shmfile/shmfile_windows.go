package shmfile

// Windows: a segment is the file Dir()\NAME, by default in
// %LOCALAPPDATA%\seqshm, mapped through a file mapping. The writer names its
// mapping Local\seqshm.NAME, so that programs written like the classic
// OpenFileMappingW(FILE_MAP_READ, FALSE, L"Local\\seqshm.NAME") +
// MapViewOfFile example read the segment while a publisher runs; readers of
// this package open the file, so a value stays readable after every process
// has exited, as on Linux.
//
//   - Files are created with CREATE_NEW and FILE_ATTRIBUTE_TEMPORARY, which
//     asks the cache manager to keep the pages in memory rather than write
//     them lazily. What can still reach the disk: the memory manager writes
//     dirty pages of a mapped file back to it when memory is short, on a
//     flush, and after the last view and handle are gone (the file then
//     holds the last value, which is how values survive every process);
//     hibernation and crash dumps hold whatever is in memory. A segment is
//     not a secret store.
//   - Every handle shares FILE_SHARE_READ|WRITE|DELETE: readers never block
//     a writer or a Remove. Windows refuses to delete a file that any
//     process has mapped (STATUS_CANNOT_DELETE, with POSIX semantics or
//     not), so Remove renames such a file to .removed-NAME-PID-N in the
//     same directory (removeFile): the name is free at once, mappings keep
//     the old bytes, and the next sweep that finds it unmapped deletes it.
//     A file nobody maps is deleted with POSIX semantics where the file
//     system has them (Windows 10 1709+, NTFS: the name goes at once);
//     elsewhere (FAT, older Windows, wine) it is marked for deletion, and
//     its name stays, and cannot be created anew, until the last handle to
//     it closes.
//   - Files and mappings get a DACL from Options.Mode (securityFor): the
//     owner (this user) and SYSTEM full access; group read/write bits a
//     read/write ACE for BUILTIN\Users, other bits for Everyone. Info.Mode is
//     derived back from the DACL; Info.UID is always -1 (owners are SIDs).
//   - The writer lock is a named mutex Local\seqshm-lock.NAME, held by a
//     goroutine locked to its own OS thread (a mutex belongs to a thread).
//     The system releases it as abandoned when the writer's process dies.
//   - SEQSHM_NAMESPACE=Global puts the mapping and mutex names (and
//     package seqlock's wake events) in the Global\ namespace, for services
//     and readers in other sessions. Creating Global\ objects needs
//     SeCreateGlobalPrivilege (services, administrators); opening them
//     does not.

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/windows"
)

// segmentsAreFiles: a segment is a file in Dir().
const segmentsAreFiles = true

// defaultDir is %LOCALAPPDATA%\seqshm, created (owner and SYSTEM only) when
// first needed.
func defaultDir() string {
	d := os.Getenv("LOCALAPPDATA")
	if d == "" {
		var err error
		if d, err = os.UserCacheDir(); err != nil {
			d = os.TempDir()
		}
	}
	return filepath.Join(d, "seqshm")
}

// namespace is the kernel object namespace of the mapping, mutex and wake
// event names: Local\ (this session), or Global\ with
// SEQSHM_NAMESPACE=Global.
func namespace() string {
	if strings.EqualFold(os.Getenv("SEQSHM_NAMESPACE"), "global") {
		return `Global\`
	}
	return `Local\`
}

// mappingName is the name of the writer's file mapping and lockName that of
// its writer mutex. The prefixes differ ("seqshm." and "seqshm-lock."; the
// wake events of package seqlock use "seqshm-wake."), so no segment name
// can make one collide with another: mutexes, events and mappings share one
// namespace.
func mappingName(name string) string { return namespace() + `seqshm.` + name }
func lockName(name string) string    { return namespace() + `seqshm-lock.` + name }

const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

// fileID identifies a file: its volume's serial number and its file index.
type fileID struct{ vol, hi, lo uint32 }

// sysSegment is the Windows state of an open segment: the file (0 for a
// segment opened by its mapping name only, see openNamed), the mapping, the
// views and, for a writer, the held mutex.
type sysSegment struct {
	file    windows.Handle
	mapping windows.Handle
	addr    uintptr   // the view of the whole segment; 0 if not mapped
	views   []uintptr // views made by MapWritableRange
	lock    *writerLock
	path    string // the file's path as opened, for messages
	id      fileID
	removed bool // unlink removed the file
}

// segmentPath returns the path of the segment name's file, making the
// default directory if needed. The path is in \\?\ form, so that names such
// as CON or NUL are files like any other and not devices.
func segmentPath(op, name string) (string, error) {
	dir := Dir()
	if err := ensureDir(dir); err != nil {
		return "", newError(op, name, "segment directory: "+err.Error(), err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", newError(op, name, "segment directory: "+err.Error(), err)
	}
	p := filepath.Join(abs, name)
	if !strings.HasPrefix(p, `\\`) {
		p = `\\?\` + p
	}
	return p, nil
}

// ensureDir makes the default directory, readable and writable by this user
// and SYSTEM only. A directory given by SEQSHM_DIR must exist.
func ensureDir(dir string) error {
	if dir != defaultDir() {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	sd, err := dirSecurity()
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	if err := windows.CreateDirectory(p, securityAttributes(sd)); err != nil && err != windows.ERROR_ALREADY_EXISTS {
		return &fs.PathError{Op: "CreateDirectory", Path: dir, Err: err}
	}
	return nil
}

// openFile opens path with access and disposition, sharing everything and
// never following a reparse point (a symbolic link or junction is opened
// itself and then refused as not a regular file).
func openFile(path string, access, disposition, attrs uint32, sa *windows.SecurityAttributes) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, &fs.PathError{Op: "CreateFile", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, access, shareAll, sa, disposition, attrs|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return 0, &fs.PathError{Op: "CreateFile", Path: path, Err: err}
	}
	return h, nil
}

func fileInfo(h windows.Handle, path string) (windows.ByHandleFileInformation, error) {
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &fi); err != nil {
		return fi, &fs.PathError{Op: "GetFileInformationByHandle", Path: path, Err: err}
	}
	return fi, nil
}

func idOf(fi *windows.ByHandleFileInformation) fileID {
	return fileID{fi.VolumeSerialNumber, fi.FileIndexHigh, fi.FileIndexLow}
}

func sizeOf(fi *windows.ByHandleFileInformation) int64 {
	return int64(fi.FileSizeHigh)<<32 | int64(fi.FileSizeLow)
}

// displayPath drops the \\?\ prefix for messages.
func displayPath(p string) string { return strings.TrimPrefix(p, `\\?\`) }

// checkRegular returns an error wrapping ErrNotSegment unless the open
// handle h is a regular disk file: not a directory, not a reparse point
// (symbolic link, junction), not a device or pipe.
func checkRegular(op, name, path string, h windows.Handle, fi *windows.ByHandleFileInformation) error {
	what := ""
	switch {
	case fi.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		what = "a reparse point (symbolic link or junction, not followed)"
	case fi.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
		what = "a directory"
	default:
		if t, err := windows.GetFileType(h); err == nil && t != windows.FILE_TYPE_DISK {
			what = "not a regular file"
		}
	}
	if what == "" {
		return nil
	}
	return newError(op, name, "not a segment: "+displayPath(path)+" is "+what, ErrNotSegment)
}

// openError describes the failure err of opening path for op on the
// segment name. A directory cannot be opened as a file (access denied):
// say what it is.
func openError(op, name, path string, err error) error {
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		if fi, serr := os.Lstat(path); serr == nil && fi.IsDir() {
			return newError(op, name, "not a segment: "+displayPath(path)+" is a directory", ErrNotSegment, err)
		}
	}
	if errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) {
		return newError(op, name, "no space left for "+displayPath(path), ErrNoSpace, err)
	}
	return sysError(op, name, err)
}

func createSegment(name string, size int, mode fs.FileMode) (*Segment, error) {
	path, err := segmentPath("create", name)
	if err != nil {
		return nil, err
	}
	sec, err := securityFor(mode)
	if err != nil {
		return nil, newError("create", name, "security descriptor: "+err.Error(), err)
	}
	sweep(filepath.Dir(path))
	return retry(func() (*Segment, bool, error) { return createOnce(path, name, size, sec) })
}

// createOnce creates the segment's file. If the new file loses its name
// before it is locked (a Remove in between), it reports again: the caller
// starts over.
func createOnce(path, name string, size int, sec *security) (_ *Segment, again bool, _ error) {
	h, err := openFile(path, windows.GENERIC_READ|windows.GENERIC_WRITE|windows.DELETE,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_TEMPORARY, securityAttributes(sec.file))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, false, newError("create", name, "permission denied: cannot create files in "+displayPath(filepath.Dir(path)), err)
		}
		return nil, false, openError("create", name, path, err)
	}
	s := &Segment{name: name, writable: true, sys: sysSegment{file: h, path: path}}
	fi, err := fileInfo(h, path)
	if err != nil {
		windows.CloseHandle(h)
		return nil, false, sysError("create", name, err)
	}
	s.sys.id = idOf(&fi)
	if s.sys.lock, err = lockWriter(name, sec.lock); err != nil {
		// Another writer opened the new file and holds its lock: it is
		// theirs now.
		windows.CloseHandle(h)
		return nil, false, err
	}
	if ok, err := s.sys.named(); !ok || err != nil {
		// Removed between the create and the lock: not ours to use.
		s.sys.close(s)
		return nil, err == nil, err
	}
	// fail removes the half-made segment, which we created and lock.
	fail := func(err error) (*Segment, bool, error) {
		s.sys.removed = true // close deletes it, once unmapped
		return nil, false, errors.Join(err, s.sys.close(s))
	}
	if err := setSize(h, path, int64(size)); err != nil {
		if errors.Is(err, windows.ERROR_DISK_FULL) {
			return fail(newError("create", name, fmt.Sprintf("no space left for %d bytes", size), ErrNoSpace, err))
		}
		return fail(sysError("create", name, err))
	}
	if err := s.sys.mapWhole(s, name, size, true, sec.mapping); err != nil {
		return fail(sysError("create", name, err))
	}
	return s, false, nil
}

func openSegment(name string, minSize int, a *access) (*Segment, error) {
	path, err := segmentPath("open", name)
	if err != nil {
		return nil, err
	}
	return retry(func() (*Segment, bool, error) { return openOnce(path, name, minSize, a) })
}

// openOnce opens the segment's file. If a writer finds, once it holds the
// lock, that the name no longer refers to the file it locked, it reports
// again: the caller starts over.
func openOnce(path, name string, minSize int, a *access) (_ *Segment, again bool, _ error) {
	acc := uint32(windows.GENERIC_READ | windows.READ_CONTROL)
	if a.write {
		acc |= windows.GENERIC_WRITE | windows.DELETE
	}
	h, err := openFile(path, acc, windows.OPEN_EXISTING, 0, nil)
	if err != nil {
		if !a.write && errors.Is(err, fs.ErrNotExist) {
			// No file here: perhaps a publisher of another user (or with
			// another SEQSHM_DIR) in this session, whose mapping is named.
			if s, nerr := openNamed(name, minSize); !errors.Is(nerr, fs.ErrNotExist) {
				return s, false, nerr
			}
		}
		return nil, false, openError("open", name, path, err)
	}
	s := &Segment{name: name, sys: sysSegment{file: h, path: path}}
	fail := func(err error) (*Segment, bool, error) {
		return nil, false, errors.Join(err, s.sys.close(s))
	}
	fi, err := fileInfo(h, path)
	if err != nil {
		return fail(sysError("open", name, err))
	}
	if err := checkRegular("open", name, path, h, &fi); err != nil {
		return fail(err)
	}
	s.sys.id = idOf(&fi)
	var mapSD *windows.SECURITY_DESCRIPTOR
	if a.write {
		_, mode, owned, err := fileSecurity(h)
		if err != nil {
			return fail(sysError("open", name, &fs.PathError{Op: "GetSecurityInfo", Path: displayPath(path), Err: err}))
		}
		sec, err := securityFor(mode)
		if err != nil {
			return fail(newError("open", name, "security descriptor: "+err.Error(), err))
		}
		mapSD = sec.mapping
		// Locked first, so that a live writer is reported as such (the
		// lock of a file we then refuse is released at once).
		if s.sys.lock, err = lockWriter(name, sec.lock); err != nil {
			return fail(err)
		}
		s.writable = true
		if !a.foreign {
			if err := checkOwner(name, path, mode, owned, a); err != nil {
				return fail(err)
			}
		}
		ok, err := s.sys.named()
		if err != nil {
			return fail(sysError("open", name, err))
		}
		if !ok {
			_, _, err := fail(nil)
			return nil, true, errors.Join(newError("open", name, "no such segment", ErrRemoved, fs.ErrNotExist), err)
		}
		// The size may have changed while we waited for the lock.
		if fi, err = fileInfo(h, path); err != nil {
			return fail(sysError("open", name, err))
		}
	}
	size := sizeOf(&fi)
	if size < int64(minSize) {
		return fail(newError("open", name, fmt.Sprintf("segment too small: %d bytes, need at least %d", size, minSize), ErrTooSmall))
	}
	if size > math.MaxInt {
		return fail(newError("open", name, fmt.Sprintf("segment of %d bytes is too large to map", size)))
	}
	if err := s.sys.mapWhole(s, name, int(size), a.write, mapSD); err != nil {
		return fail(sysError("open", name, err))
	}
	return s, false, nil
}

// checkOwner applies OpenWriter's trust rules to a segment file whose DACL
// grants mode and that this user owns (owned) or not.
func checkOwner(name, path string, mode fs.FileMode, owned bool, a *access) error {
	te := &TrustError{Path: displayPath(path), UID: -1, Mode: mode, Want: a.mode}
	switch {
	case !owned:
		te.Why = fmt.Sprintf("segment belongs to another user (mode %04o from its DACL): a publisher adopts only its own segments", uint32(mode))
	case mode&^a.mode != 0:
		te.Why = fmt.Sprintf("segment mode %04o (from its DACL) grants more than the %04o asked for", uint32(mode), uint32(a.mode))
	default:
		return nil
	}
	return &Error{Op: "open", Name: name, Err: te}
}

// mapWhole maps the first size bytes of the file read-only, or read-write
// for a writer. A writer names its mapping (mappingName) with security sd,
// unless the name is taken: by a program still holding the mapping of an
// earlier publisher, perhaps of a file since removed. The writer then
// maps the file unnamed; views of one file are coherent whatever mapping
// they come through. A zero-size file is not mapped.
func (ss *sysSegment) mapWhole(s *Segment, name string, size int, write bool, sd *windows.SECURITY_DESCRIPTOR) error {
	if size == 0 {
		return nil
	}
	prot, acc := uint32(windows.PAGE_READONLY), uint32(windows.FILE_MAP_READ)
	if write {
		prot, acc = windows.PAGE_READWRITE, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE
	}
	obj := mappingName(name)
	var h windows.Handle
	var err error
	if write {
		var p *uint16
		if p, err = windows.UTF16PtrFromString(obj); err != nil {
			return err
		}
		h, err = windows.CreateFileMapping(ss.file, securityAttributes(sd), prot, 0, 0, p)
		if h != 0 && err == windows.ERROR_ALREADY_EXISTS {
			windows.CloseHandle(h)
			h = 0
		}
	}
	if h == 0 {
		obj = "(unnamed mapping of " + displayPath(ss.path) + ")"
		h, err = windows.CreateFileMapping(ss.file, nil, prot, 0, 0, nil)
	}
	if h == 0 {
		return &fs.PathError{Op: "CreateFileMapping", Path: obj, Err: err}
	}
	ss.mapping = h
	addr, err := windows.MapViewOfFile(h, acc, 0, 0, uintptr(size))
	if err != nil {
		return &fs.PathError{Op: "MapViewOfFile", Path: obj, Err: err}
	}
	ss.addr = addr
	s.data = viewBytes(addr, size)
	return nil
}

// openNamed opens a segment by its mapping name alone (no file in Dir()):
// its size is that of the view, rounded up to whole pages, and it is never
// Replaced.
func openNamed(name string, minSize int) (*Segment, error) {
	obj := mappingName(name)
	h, err := openFileMapping(windows.FILE_MAP_READ, obj)
	if err != nil {
		return nil, sysError("open", name, &fs.PathError{Op: "OpenFileMapping", Path: obj, Err: err})
	}
	s := &Segment{name: name, sys: sysSegment{mapping: h}}
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, 0)
	if err != nil {
		return nil, errors.Join(sysError("open", name, &fs.PathError{Op: "MapViewOfFile", Path: obj, Err: err}), s.sys.close(s))
	}
	s.sys.addr = addr
	size, err := regionSize(addr)
	if err != nil {
		return nil, errors.Join(sysError("open", name, &fs.PathError{Op: "VirtualQuery", Path: obj, Err: err}), s.sys.close(s))
	}
	s.data = viewBytes(addr, size)
	if size < minSize {
		return nil, errors.Join(newError("open", name, fmt.Sprintf("segment too small: %d bytes, need at least %d", size, minSize), ErrTooSmall), s.sys.close(s))
	}
	return s, nil
}

// named reports whether the segment's name still refers to the open file:
// the file is not marked for deletion and the path names the same file
// (volume serial number and file index).
func (ss *sysSegment) named() (bool, error) {
	if ss.file == 0 {
		return true, nil
	}
	// A mapped file cannot be deleted (removeFile renames it instead),
	// so only an unmapped one (size 0) can be marked for deletion under
	// its name: ask only then, and spare an idle follower a system call.
	if ss.addr == 0 {
		if gone, err := deletePending(ss.file); err != nil {
			return false, &fs.PathError{Op: "GetFileInformationByHandleEx", Path: displayPath(ss.path), Err: err}
		} else if gone {
			return false, nil
		}
	}
	h, err := openFile(ss.path, windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, nil)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, fs.ErrPermission):
		// Another file, marked for deletion or not ours to look at: not
		// the one we have open, which we may read.
		return false, nil
	case err != nil:
		return false, err
	}
	defer windows.CloseHandle(h)
	fi, err := fileInfo(h, ss.path)
	if err != nil {
		return false, err
	}
	return idOf(&fi) == ss.id, nil
}

// replaced reports whether the segment's name no longer refers to the open
// file: it was removed, or another file, or nothing, is at its name.
func (ss *sysSegment) replaced() (bool, error) {
	ok, err := ss.named()
	return !ok && err == nil, err
}

func (ss *sysSegment) stat(s *Segment) (Info, error) {
	if ss.file == 0 {
		return Info{Name: s.name, Size: int64(len(s.data)), UID: -1}, nil
	}
	fi, err := fileInfo(ss.file, ss.path)
	if err != nil {
		return Info{}, sysError("stat", s.name, err)
	}
	return infoFrom(s.name, ss.file, &fi), nil
}

// infoFrom describes the open file h; the mode is derived from its DACL (0
// if it cannot be read).
func infoFrom(name string, h windows.Handle, fi *windows.ByHandleFileInformation) Info {
	info := Info{Name: name, Size: sizeOf(fi), ModTime: time.Unix(0, fi.LastWriteTime.Nanoseconds()), UID: -1}
	if _, mode, _, err := fileSecurity(h); err == nil {
		info.Mode = mode
	}
	return info
}

func (ss *sysSegment) writerAlive(s *Segment) (bool, int, error) {
	alive, err := probeWriter(s.name)
	if err != nil {
		return false, 0, sysError("probe writer", s.name, &fs.PathError{Op: "probe lock", Path: lockName(s.name), Err: err})
	}
	return alive, 0, nil
}

// allocationGranularity is the alignment of a view's file offset.
const allocationGranularity = 64 << 10

// mapRange maps [off, off+length) read-write. A writer maps its own
// mapping; a reader opens the file again for reading and writing (which its
// DACL must allow: else the error wraps fs.ErrPermission), checks that it
// is the same file, and maps it through a new unnamed mapping.
func (ss *sysSegment) mapRange(s *Segment, off, length int) ([]byte, error) {
	if off%allocationGranularity != 0 {
		return nil, newError("map range", s.name, fmt.Sprintf("offset %d is not a multiple of the allocation granularity %d", off, allocationGranularity))
	}
	mapping := ss.mapping
	if !s.writable {
		var err error
		if mapping, err = ss.writableMapping(s); err != nil {
			return nil, err
		}
		defer windows.CloseHandle(mapping) // the view keeps the mapping
	}
	addr, err := windows.MapViewOfFile(mapping, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE,
		uint32(uint64(off)>>32), uint32(off), uintptr(length))
	if err != nil {
		return nil, sysError("map range", s.name, &fs.PathError{Op: "MapViewOfFile", Path: displayPath(ss.path), Err: err})
	}
	ss.views = append(ss.views, addr)
	return viewBytes(addr, length), nil
}

// writableMapping returns a new read-write mapping of a reader's segment.
func (ss *sysSegment) writableMapping(s *Segment) (windows.Handle, error) {
	if ss.file == 0 {
		obj := mappingName(s.name)
		h, err := openFileMapping(windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, obj)
		if err != nil {
			return 0, sysError("map range", s.name, &fs.PathError{Op: "OpenFileMapping", Path: obj, Err: err})
		}
		return h, nil
	}
	f, err := openFile(ss.path, windows.GENERIC_READ|windows.GENERIC_WRITE, windows.OPEN_EXISTING, 0, nil)
	if err != nil {
		return 0, sysError("map range", s.name, err)
	}
	defer windows.CloseHandle(f)
	fi, err := fileInfo(f, ss.path)
	if err != nil {
		return 0, sysError("map range", s.name, err)
	}
	if idOf(&fi) != ss.id {
		return 0, newError("map range", s.name, "segment was removed or replaced since it was opened", ErrRemoved)
	}
	h, err := windows.CreateFileMapping(f, nil, windows.PAGE_READWRITE, 0, 0, nil)
	if h == 0 {
		return 0, sysError("map range", s.name, &fs.PathError{Op: "CreateFileMapping", Path: displayPath(ss.path), Err: err})
	}
	return h, nil
}

// unlink removes the segment's file if its name still refers to it. The
// caller holds the writer lock.
func (ss *sysSegment) unlink(s *Segment) error {
	if ss.file == 0 {
		return newError("remove", s.name, "segment has no file in "+Dir()+" (opened by its mapping name)", fs.ErrNotExist)
	}
	ok, err := ss.named()
	if err != nil {
		return sysError("remove", s.name, err)
	}
	if !ok {
		return newError("remove", s.name, "segment was removed or replaced since it was opened", ErrRemoved)
	}
	if err := removeFile(ss.file, ss.path, s.name); err != nil {
		return sysError("remove", s.name, err)
	}
	ss.removed = true
	return nil
}

// removedPrefix starts the name a removed segment's file is renamed to
// while some process still maps it. It starts with '.', so it is not a
// segment name: List skips it and no name can open it.
const removedPrefix = ".removed-"

var removeCount atomic.Uint64

// removeFile deletes the open file h (the segment name's). Windows refuses
// to delete a file that any process has mapped (STATUS_CANNOT_DELETE), with
// POSIX semantics or not, but renames it: such a file is renamed to
// removedPrefix+NAME-PID-N in the same directory, so that its name is free
// at once, and deleted by the next sweep (Create, Remove, a writer's
// Close) that finds it unmapped. h must have DELETE access.
func removeFile(h windows.Handle, path, name string) error {
	if err := deleteByHandle(h, path); err == nil {
		return nil
	}
	to := filepath.Join(filepath.Dir(path), fmt.Sprintf("%s%s-%d-%d", removedPrefix, name, os.Getpid(), removeCount.Add(1)))
	if err := renameByHandle(h, to); err != nil {
		return &fs.PathError{Op: "rename", Path: displayPath(path), Err: err}
	}
	return nil
}

// sweep deletes the files of removed segments in dir that nobody maps any
// more.
func sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), removedPrefix) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if h, err := openFile(path, windows.DELETE, windows.OPEN_EXISTING, 0, nil); err == nil {
			deleteByHandle(h, path)
			windows.CloseHandle(h)
		}
	}
}

// deleteByHandle deletes the open file h: with POSIX semantics where the
// file system has them (the name goes at once), else by marking it for
// deletion when its last handle closes. h must have DELETE access.
func deleteByHandle(h windows.Handle, path string) error {
	err := setDisposition(h, true)
	if err == nil {
		return nil
	}
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return &fs.PathError{Op: "SetFileInformationByHandle", Path: displayPath(path), Err: err}
	}
	if err := setDisposition(h, false); err != nil {
		return &fs.PathError{Op: "SetFileInformationByHandle", Path: displayPath(path), Err: err}
	}
	return nil
}

// close unmaps the views, releases the writer lock and closes the mapping
// and the file.
func (ss *sysSegment) close(s *Segment) error {
	var errs []error
	for _, addr := range append(ss.views, ss.addr) {
		if addr == 0 {
			continue
		}
		if err := windows.UnmapViewOfFile(addr); err != nil {
			errs = append(errs, &fs.PathError{Op: "UnmapViewOfFile", Path: mappingName(s.name), Err: err})
		}
	}
	ss.views, ss.addr = nil, 0
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
	if ss.removed && ss.file != 0 {
		// Renamed by unlink while mapped: delete it now if nobody else
		// maps it, and any other such file.
		deleteByHandle(ss.file, ss.path)
		defer sweep(filepath.Dir(ss.path))
	}
	for _, h := range []*windows.Handle{&ss.file} {
		if *h != 0 {
			if err := windows.CloseHandle(*h); err != nil {
				errs = append(errs, &fs.PathError{Op: "CloseHandle", Path: displayPath(ss.path), Err: err})
			}
			*h = 0
		}
	}
	if len(errs) > 0 {
		return newError("close", s.name, errors.Join(errs...).Error(), errs...)
	}
	return nil
}

// removeSegment deletes the segment's file. It refuses while a writer holds
// the segment's lock (a live publisher): the error wraps ErrBusy.
func removeSegment(name string) error {
	path, err := segmentPath("remove", name)
	if err != nil {
		return err
	}
	h, err := openFile(path, windows.DELETE|windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, 0, nil)
	if err != nil {
		return openError("remove", name, path, err)
	}
	defer windows.CloseHandle(h)
	fi, err := fileInfo(h, path)
	if err != nil {
		return sysError("remove", name, err)
	}
	if err := checkRegular("remove", name, path, h, &fi); err != nil {
		return err
	}
	if alive, err := probeWriter(name); err != nil {
		return sysError("remove", name, &fs.PathError{Op: "probe lock", Path: lockName(name), Err: err})
	} else if alive {
		return &Error{Op: "remove", Name: name, Err: &BusyError{}}
	}
	if err := removeFile(h, path, name); err != nil {
		return sysError("remove", name, err)
	}
	sweep(filepath.Dir(path))
	return nil
}

func statSegment(name string) (Info, error) {
	path, err := segmentPath("stat", name)
	if err != nil {
		return Info{}, err
	}
	h, err := openFile(path, windows.FILE_READ_ATTRIBUTES|windows.READ_CONTROL, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, nil)
	if errors.Is(err, fs.ErrNotExist) {
		// Perhaps only a named mapping (see openNamed): map it to learn
		// its size.
		s, nerr := openNamed(name, 0)
		if nerr != nil {
			var e *Error
			if errors.As(nerr, &e) {
				e.Op = "stat"
			}
			if errors.Is(nerr, fs.ErrNotExist) {
				return Info{}, openError("stat", name, path, err)
			}
			return Info{}, nerr
		}
		info, _ := s.sys.stat(s)
		return info, s.Close()
	}
	if err != nil {
		return Info{}, openError("stat", name, path, err)
	}
	defer windows.CloseHandle(h)
	fi, err := fileInfo(h, path)
	if err != nil {
		return Info{}, sysError("stat", name, err)
	}
	if err := checkRegular("stat", name, path, h, &fi); err != nil {
		return Info{}, err
	}
	return infoFrom(name, h, &fi), nil
}

// listSegments describes the regular files with valid names in Dir().
func listSegments() ([]Info, error) {
	dir := Dir()
	if err := ensureDir(dir); err != nil {
		return nil, newError("list", "", "segment directory: "+err.Error(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, newError("list", "", "segment directory "+dir+" does not exist", err)
		}
		return nil, newError("list", "", err.Error(), err)
	}
	infos := []Info{}
	for _, e := range entries {
		name := e.Name()
		if !ValidName(name) || !e.Type().IsRegular() {
			continue
		}
		info, err := statSegment(name)
		if err != nil {
			continue // removed since, or not a segment
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
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

// lockWriter takes the writer mutex of the segment name, creating it with
// security sd if it does not exist.
func lockWriter(name string, sd *windows.SECURITY_DESCRIPTOR) (*writerLock, error) {
	obj := lockName(name)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, sysError("lock", name, err)
	}
	// ERROR_ALREADY_EXISTS comes with a valid handle to the existing
	// mutex: fine, owning it is what counts.
	h, err := windows.CreateMutex(securityAttributes(sd), false, p)
	if h == 0 {
		return nil, sysError("lock", name, &fs.PathError{Op: "CreateMutex", Path: obj, Err: err})
	}
	l := &writerLock{h: h, release: make(chan struct{}), done: make(chan error, 1)}
	acquired := make(chan error, 1)
	go l.hold(acquired)
	switch err := <-acquired; {
	case err == errBusyMutex:
		_ = windows.CloseHandle(h)
		return nil, &Error{Op: "open", Name: name, Err: &BusyError{}}
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
