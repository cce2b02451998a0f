//go:build windows

// This file holds the Windows calls that pass pointers as uintptr or turn a
// view's address into a slice, which need package unsafe.

package shmfile

import (
	"io/fs"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// OpenFileMappingW is not in golang.org/x/sys/windows.
var procOpenFileMappingW = windows.NewLazySystemDLL("kernel32.dll").NewProc("OpenFileMappingW")

// openFileMapping opens the named file mapping object objName with the
// given FILE_MAP_* access; the handle is not inheritable.
func openFileMapping(access uint32, objName string) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(objName)
	if err != nil {
		return 0, err
	}
	if err := procOpenFileMappingW.Find(); err != nil {
		return 0, err
	}
	// p points to a NUL-terminated UTF-16 string that stays alive (and,
	// being Go heap memory referenced from this frame, unmoved) for the
	// duration of the call: the uintptr conversion happens in the call
	// expression, as package unsafe requires.
	r, _, e := procOpenFileMappingW.Call(uintptr(access), 0, uintptr(unsafe.Pointer(p)))
	if r == 0 {
		if e == windows.ERROR_SUCCESS || e == nil {
			e = windows.ERROR_INVALID_HANDLE
		}
		return 0, e
	}
	return windows.Handle(r), nil
}

// viewBytes returns the size bytes of the view mapped at addr.
func viewBytes(addr uintptr, size int) []byte {
	// addr is the base of a view of at least size bytes returned by
	// MapViewOfFile; it is outside the Go heap and stays mapped until
	// UnmapViewOfFile, which Close calls only after dropping the slice.
	// Reading the uintptr's bits as an unsafe.Pointer (rather than
	// converting it) is the form vet accepts for such foreign addresses.
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), size)
}

// regionSize returns the size of the view mapped at addr, rounded up to
// whole pages: a view of a whole section (file-backed, or the named
// mapping of another process) is one region of pages with the same
// attributes.
func regionSize(addr uintptr) (int, error) {
	var mbi windows.MemoryBasicInformation
	// VirtualQuery fills at most the length it is given, which is the
	// size of mbi.
	if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
		return 0, err
	}
	return int(mbi.RegionSize), nil
}

// securityAttributes returns attributes with security descriptor sd (nil:
// the default security), not inheritable.
func securityAttributes(sd *windows.SECURITY_DESCRIPTOR) *windows.SecurityAttributes {
	if sd == nil {
		return nil
	}
	return &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
}

// forEachAllowed calls f with the SID and mask of every access-allowed ACE
// of acl that applies to the object itself.
func forEachAllowed(acl *windows.ACL, f func(sid *windows.SID, mask uint32)) error {
	for i := 0; i < int(acl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(acl, uint32(i), &ace); err != nil {
			return err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue
		}
		// An ACCESS_ALLOWED_ACE ends in its SID, which starts at SidStart
		// and lies within the ACE (AceSize), inside the descriptor that
		// the caller keeps alive.
		f((*windows.SID)(unsafe.Pointer(&ace.SidStart)), uint32(ace.Mask))
	}
	return nil
}

// setSize sets the size of the file h (zero-filled when it grows).
func setSize(h windows.Handle, path string, size int64) error {
	err := windows.SetFileInformationByHandle(h, windows.FileEndOfFileInfo, (*byte)(unsafe.Pointer(&size)), uint32(unsafe.Sizeof(size)))
	if err == nil {
		return nil
	}
	// Older systems: move the file pointer and set the end there.
	if _, serr := windows.Seek(h, size, 0); serr != nil {
		return &fs.PathError{Op: "SetFileInformationByHandle", Path: displayPath(path), Err: err}
	}
	if err := windows.SetEndOfFile(h); err != nil {
		return &fs.PathError{Op: "SetEndOfFile", Path: displayPath(path), Err: err}
	}
	return nil
}

// setDisposition marks the open file h for deletion: with POSIX semantics
// (FileDispositionInfoEx: the name goes at once) or the classic way (the
// file goes when its last handle closes).
func setDisposition(h windows.Handle, posix bool) error {
	if posix {
		const (
			flagDelete         = 0x1
			flagPosixSemantics = 0x2
			flagIgnoreReadOnly = 0x10
		)
		flags := uint32(flagDelete | flagPosixSemantics | flagIgnoreReadOnly)
		return windows.SetFileInformationByHandle(h, windows.FileDispositionInfoEx, (*byte)(unsafe.Pointer(&flags)), uint32(unsafe.Sizeof(flags)))
	}
	del := byte(1) // FILE_DISPOSITION_INFO{DeleteFile: TRUE}
	return windows.SetFileInformationByHandle(h, windows.FileDispositionInfo, &del, 1)
}

// fileStandardInfo is FILE_STANDARD_INFO.
type fileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  byte
	Directory      byte
	_              [2]byte
}

// deletePending reports whether the open file h is marked for deletion or
// has no name left.
func deletePending(h windows.Handle) (bool, error) {
	var st fileStandardInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileStandardInfo, (*byte)(unsafe.Pointer(&st)), uint32(unsafe.Sizeof(st))); err != nil {
		return false, err
	}
	return st.DeletePending != 0 || st.NumberOfLinks == 0, nil
}

// renameByHandle renames the open file h to the full path to, which must
// not exist. h must have DELETE access.
func renameByHandle(h windows.Handle, to string) error {
	// FILE_RENAME_INFO: ReplaceIfExists (a BOOLEAN, padded to 8 bytes),
	// RootDirectory, FileNameLength in bytes, FileName. Without a root
	// directory the name is an NT path.
	nt := `\??\` + strings.TrimPrefix(to, `\\?\`)
	name, err := windows.UTF16FromString(nt)
	if err != nil {
		return err
	}
	name = name[:len(name)-1] // FileNameLength excludes the NUL
	type renameInfo struct {
		replace        uint32
		_              uint32
		root           windows.Handle
		fileNameLength uint32
	}
	head := int(unsafe.Offsetof(renameInfo{}.fileNameLength)) + 4 // FileName follows at offset 20
	buf := make([]uint64, (head+2*len(name)+2+7)/8)               // 8-byte aligned
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
	ri := (*renameInfo)(unsafe.Pointer(&buf[0]))
	ri.fileNameLength = uint32(2 * len(name))
	copy(unsafe.Slice((*uint16)(unsafe.Pointer(&b[head])), len(name)), name)
	return windows.SetFileInformationByHandle(h, windows.FileRenameInfo, &b[0], uint32(len(b)))
}
