package shmfile

// Security descriptors of Windows segments: the DACL that Options.Mode
// maps to, and the mode derived back from a file's DACL.
//
//	mode bits      ACE (file / mapping / writer mutex)
//	owner (0600)   this user: full control (always; the owner bits of Mode
//	               are not narrowed on Windows)
//	               SYSTEM: full control (always)
//	group r (040)  BUILTIN\Users: FILE_GENERIC_READ / SECTION_MAP_READ|
//	               SECTION_QUERY / SYNCHRONIZE|MUTEX_MODIFY_STATE (to probe
//	               the writer lock)
//	group w (020)  BUILTIN\Users: FILE_GENERIC_WRITE / SECTION_MAP_WRITE
//	other r (004)  Everyone: as group r
//	other w (002)  Everyone: as group w
//
// The DACL is protected (no inherited ACEs) and the owner is this user.
// Execute bits are ignored. Reading back, an allow ACE with FILE_READ_DATA
// (or GENERIC_READ/GENERIC_ALL) gives a read bit and one with
// FILE_WRITE_DATA (or GENERIC_WRITE/GENERIC_ALL) a write bit: for this user
// or OWNER RIGHTS the owner bits, for Everyone the other bits, for SYSTEM
// and Administrators none, for any other SID the group bits. A NULL DACL
// is 0666.

import (
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"golang.org/x/sys/windows"
)

// Access masks of the ACEs.
const (
	fileAll      = 0x1F01FF // FILE_ALL_ACCESS
	fileRead     = 0x120089 // FILE_GENERIC_READ
	fileWrite    = 0x120116 // FILE_GENERIC_WRITE
	sectionAll   = 0xF001F  // SECTION_ALL_ACCESS
	sectionRead  = 0x20005  // READ_CONTROL | SECTION_MAP_READ | SECTION_QUERY
	sectionWrite = 0x2      // SECTION_MAP_WRITE
	mutexAll     = 0x1F0001 // MUTEX_ALL_ACCESS
	mutexProbe   = 0x100001 // SYNCHRONIZE | MUTEX_MODIFY_STATE

	fileReadData  = 0x1
	fileWriteData = 0x2
)

// security holds the descriptors of a segment of one mode.
type security struct {
	file, mapping, lock *windows.SECURITY_DESCRIPTOR
}

var (
	userOnce sync.Once
	userSID  *windows.SID
	userStr  string
	userErr  error

	securities sync.Map // fs.FileMode -> *security
)

// currentUser returns this process's user SID.
func currentUser() (*windows.SID, string, error) {
	userOnce.Do(func() {
		tu, err := windows.GetCurrentProcessToken().GetTokenUser()
		if err != nil {
			userErr = fmt.Errorf("GetTokenInformation(TokenUser): %w", err)
			return
		}
		if userSID, err = tu.User.Sid.Copy(); err != nil {
			userErr = err
			return
		}
		userStr = userSID.String()
	})
	return userSID, userStr, userErr
}

// sddl returns the SDDL of mode's DACL with the given masks.
func sddl(user string, mode fs.FileMode, all, read, write uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "O:%sD:P(A;;0x%x;;;%s)(A;;0x%x;;;SY)", user, all, user, all)
	for _, who := range []struct {
		r, w fs.FileMode
		sid  string
	}{{0o040, 0o020, "BU"}, {0o004, 0o002, "WD"}} {
		var m uint32
		if mode&who.r != 0 {
			m |= read
		}
		if mode&who.w != 0 {
			m |= write
		}
		if m != 0 {
			fmt.Fprintf(&b, "(A;;0x%x;;;%s)", m, who.sid)
		}
	}
	return b.String()
}

// securityFor returns the descriptors for a segment of mode.
func securityFor(mode fs.FileMode) (*security, error) {
	mode &= 0o666
	if s, ok := securities.Load(mode); ok {
		return s.(*security), nil
	}
	_, user, err := currentUser()
	if err != nil {
		return nil, err
	}
	var s security
	for _, d := range []struct {
		sd               *(*windows.SECURITY_DESCRIPTOR)
		all, read, write uint32
	}{
		{&s.file, fileAll, fileRead, fileWrite},
		{&s.mapping, sectionAll, sectionRead, sectionWrite},
		{&s.lock, mutexAll, mutexProbe, 0},
	} {
		str := sddl(user, mode, d.all, d.read, d.write)
		if *d.sd, err = windows.SecurityDescriptorFromString(str); err != nil {
			return nil, fmt.Errorf("SDDL %s: %w", str, err)
		}
	}
	securities.Store(mode, &s)
	return &s, nil
}

// dirSecurity is the descriptor of the default segment directory: this
// user and SYSTEM, inherited by nothing (every file gets its own DACL).
func dirSecurity() (*windows.SECURITY_DESCRIPTOR, error) {
	_, user, err := currentUser()
	if err != nil {
		return nil, err
	}
	return windows.SecurityDescriptorFromString(fmt.Sprintf("O:%sD:P(A;;FA;;;%s)(A;;FA;;;SY)", user, user))
}

var (
	wellKnownOnce                                     sync.Once
	sidEveryone, sidSystem, sidAdmins, sidOwnerRights *windows.SID
)

func wellKnown() {
	wellKnownOnce.Do(func() {
		sidEveryone, _ = windows.StringToSid("S-1-1-0")
		sidSystem, _ = windows.StringToSid("S-1-5-18")
		sidAdmins, _ = windows.StringToSid("S-1-5-32-544")
		sidOwnerRights, _ = windows.StringToSid("S-1-3-4")
	})
}

// fileSecurity reads the owner and DACL of the open file h and returns the
// descriptor, the mode its DACL grants and whether this user owns it.
func fileSecurity(h windows.Handle) (*windows.SECURITY_DESCRIPTOR, fs.FileMode, bool, error) {
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, 0, false, err
	}
	user, _, err := currentUser()
	if err != nil {
		return nil, 0, false, err
	}
	owner, _, _ := sd.Owner()
	owned := owner != nil && owner.Equals(user)
	mode, err := modeOf(sd, user)
	return sd, mode, owned, err
}

// modeOf derives permission bits from the DACL of sd (see the table at the
// top of this file).
func modeOf(sd *windows.SECURITY_DESCRIPTOR, user *windows.SID) (fs.FileMode, error) {
	dacl, _, err := sd.DACL()
	if err == windows.ERROR_OBJECT_NOT_FOUND || dacl == nil {
		return 0o666, nil // no DACL: everyone may do anything
	}
	if err != nil {
		return 0, err
	}
	wellKnown()
	var mode fs.FileMode
	err = forEachAllowed(dacl, func(sid *windows.SID, mask uint32) {
		var r, w fs.FileMode
		switch {
		case sid.Equals(user) || sid.Equals(sidOwnerRights):
			r, w = 0o400, 0o200
		case sid.Equals(sidSystem) || sid.Equals(sidAdmins):
			return
		case sid.Equals(sidEveryone):
			r, w = 0o004, 0o002
		default:
			r, w = 0o040, 0o020
		}
		if mask&(fileReadData|windows.GENERIC_READ|windows.GENERIC_ALL) != 0 {
			mode |= r
		}
		if mask&(fileWriteData|windows.GENERIC_WRITE|windows.GENERIC_ALL) != 0 {
			mode |= w
		}
	})
	return mode, err
}
