//go:build windows

// This file holds the Windows calls that pass pointers as uintptr or turn a
// view's address into a slice, which need package unsafe.

package shmfile

import (
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

// regionSize returns the size of the view mapped at addr: page-file-backed
// sections are committed whole, so the region of pages sharing the view's
// attributes is the view.
func regionSize(addr uintptr) (int, error) {
	var mbi windows.MemoryBasicInformation
	// VirtualQuery fills at most the length it is given, which is the
	// size of mbi.
	if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
		return 0, err
	}
	return int(mbi.RegionSize), nil
}
