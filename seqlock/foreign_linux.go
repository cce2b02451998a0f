package seqlock

import (
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The foreign waiter area lets a subscriber that may read a segment but not
// write it (another user's, published with mode 0640 or 0644) sleep until
// the next publish instead of polling. It is one page of System V shared
// memory, which the publisher creates with the segment's read permission
// turned into read-write permission (0644 → 0666), and whose id it records
// in the segment's waiter area (offNotifyForeign). Its first word is a
// waiter word like the segment's own, used the same way.
//
// Why System V and not a companion file: anyone who may write a file may
// also truncate it, and a publisher touching a truncated mapping dies of
// SIGBUS. A System V segment has a fixed size that nobody can change, and
// only its creator (or root) can remove it. The publisher marks it removed
// at once, so it disappears when the last process detaches; a new
// publisher of the segment reuses it while any subscriber still has it.
//
// Everything in it is written by other users, so the publisher treats it as
// hostile: it only loads the word after a commit and, if the waiter bit is
// set, tries a bounded number of times to clear it before it wakes the
// sleepers anyway (wakeWord). A hostile waiter can cost the publisher a
// wake-up per publish, never a value or a blocked Publish.

// foreignPerm is the System V permission for a segment of the given mode:
// read permission of group and others becomes read-write, and nothing else.
func foreignPerm(mode fs.FileMode) int {
	m := int(mode.Perm())
	return 0o600 | (m&0o040 | (m&0o040)>>1) | (m&0o004 | (m&0o004)>>1)
}

// openForeignArea gives the writer of region (laid out by g, a segment of
// the given mode) its foreign waiter area: the one recorded in the segment
// if it still exists and is this user's with the right permission, else a
// new one, recorded. It returns the area (detach it with
// unix.SysvShmDetach) or nil if the segment needs none (nobody else may
// read it).
func openForeignArea(region []byte, g geometry, mode fs.FileMode) ([]byte, error) {
	if g.notify == 0 || mode.Perm()&0o044 == 0 {
		return nil, nil
	}
	perm := foreignPerm(mode)
	idWord := word64(region, g.notify+offNotifyForeign)
	if old := atomic.LoadUint64(idWord); old != 0 && old <= 1<<31 {
		if area, err := attachOwn(int(old-1), perm); err == nil {
			return area, nil
		}
	}
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, os.Getpagesize(), unix.IPC_CREAT|unix.IPC_EXCL|perm)
	if err != nil {
		return nil, os.NewSyscallError("shmget", err)
	}
	area, err := unix.SysvShmAttach(id, 0, 0)
	// Removed at once: it lives while anyone has it attached.
	unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if err != nil {
		return nil, os.NewSyscallError("shmat", err)
	}
	atomic.StoreUint64(idWord, uint64(id)+1)
	return area, nil
}

// attachOwn attaches the System V segment id read-write if it is this
// user's, was made by this user, has permission perm and holds a page.
func attachOwn(id, perm int) ([]byte, error) {
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil {
		return nil, err
	}
	euid := uint32(os.Geteuid())
	if desc.Perm.Uid != euid || desc.Perm.Cuid != euid || int(desc.Perm.Mode&0o777) != perm || desc.Segsz < notifySize {
		return nil, fmt.Errorf("the System V segment %d is not a waiter area of ours", id)
	}
	return unix.SysvShmAttach(id, 0, 0)
}

// attachForeignArea attaches, read-write, the foreign waiter area recorded
// in region (laid out by g), which must belong to owner, the segment's
// owner: a subscriber sleeps on no one else's word.
func attachForeignArea(region []byte, g geometry, owner int) ([]byte, error) {
	if g.notify == 0 {
		return nil, fmt.Errorf("segment has no waiter area")
	}
	id := atomic.LoadUint64(word64(region, g.notify+offNotifyForeign))
	if id == 0 || id > 1<<31 {
		return nil, fmt.Errorf("segment records no foreign waiter area (its publisher predates them, or nobody else may read it)")
	}
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(int(id-1), unix.IPC_STAT, &desc); err != nil {
		return nil, os.NewSyscallError("shmctl", err)
	}
	if int(desc.Perm.Uid) != owner || int(desc.Perm.Cuid) != owner || desc.Segsz < notifySize {
		return nil, fmt.Errorf("the System V segment %d does not belong to the segment's owner", id-1)
	}
	area, err := unix.SysvShmAttach(int(id-1), 0, 0)
	if err != nil {
		return nil, os.NewSyscallError("shmat", err)
	}
	return area, nil
}

// detachArea detaches a foreign waiter area.
func detachArea(area []byte) error { return unix.SysvShmDetach(area) }
