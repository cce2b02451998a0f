// Package shmfile maps named operating-system shared-memory segments and
// guards each with a single-writer lock.
//
// A segment is a named block of memory that any process its permissions
// allow (Options.Mode; by default its user's only) can map: Create makes
// one and maps it read-write, OpenWriter maps an existing one read-write,
// OpenReader maps one read-only. The package knows nothing of what the
// bytes mean; it gives a mapped []byte, a writer lock and clear errors.
//
// # Names
//
// A segment name is 1 to 200 characters of [A-Za-z0-9._-] and does not
// start with '.' (see ValidName). No path is ever built from anything but
// a valid name, so a name cannot escape the segment directory.
//
// # Where segments live
//
// On Linux a segment is the file Dir()/NAME, by default in /dev/shm: the
// same object POSIX shm_open("/NAME") and boost.interprocess
// shared_memory_object("NAME") use, so programs built on those can open
// it. $SEQSHM_DIR overrides the directory (tests, containers with a small
// /dev/shm). On macOS a segment is a file-backed shared mapping of a file
// in a private per-user directory (os.TempDir()/seqshm, mode 0700) or
// $SEQSHM_DIR; x/sys has no shm_open there, and the raw call is variadic.
// On Windows a segment is the file Dir()\NAME, by default in
// %LOCALAPPDATA%\seqshm (created, readable and writable by this user and
// SYSTEM only, when first needed), created with FILE_ATTRIBUTE_TEMPORARY
// and mapped through a file mapping; a writer names its mapping
// Local\seqshm.NAME, so that a program that opens that name with
// OpenFileMappingW reads the segment while a writer runs. On every system
// the file, and so the last value, stays until it is removed.
//
// On Unix, segment files are opened with O_NOFOLLOW|O_CLOEXEC (and
// O_NONBLOCK, so a FIFO planted at the path cannot block an open), created
// with O_EXCL and mode 0600 unless Options.Mode says otherwise, and checked
// with fstat to be a regular file of the expected size before they are
// mapped. On Windows they are created with CREATE_NEW, opened sharing read,
// write and delete (a reader never blocks a writer or a Remove), and
// checked the same way. Anything else at a segment's path (a symbolic
// link, a directory, a FIFO, a device) is ErrNotSegment. On Linux Create
// reserves the pages with fallocate, so a full tmpfs is an error at Create
// (wrapping ErrNoSpace and ENOSPC) rather than a SIGBUS on first touch.
//
// # The writer lock
//
// Each segment has at most one writer: Create and OpenWriter take an
// exclusive lock that the writer holds until Close and that the operating
// system releases when the writer's process dies, however it dies. A
// second writer gets an error wrapping ErrBusy. A reader calls
// Segment.WriterAlive to learn whether a writer holds the lock, without
// disturbing it.
//
// On Linux the lock is an open-file-description lock (fcntl F_OFD_SETLK,
// F_WRLCK) on a byte range far past the end of the data, not flock. The
// reason is the probe: a reader can ask whether the
// lock is held with F_OFD_GETLK, which takes nothing (and works on a
// read-only descriptor). flock has no query; a reader would have to take a
// shared lock for an instant, and a writer starting at that instant would
// fail with a false ErrBusy. Like flock, an OFD lock belongs to the open
// file (so two Segments in one process exclude each other), is released
// when the last descriptor of that open file closes, and never by an
// unrelated close in the same process (the trap of classic POSIX locks).
// The range the writer locks starts at 1<<62 and is 1+pid bytes long, so a
// probe learns the writer's process id from the length of the conflicting
// lock (the kernel reports OFD lock owners as pid -1). That pid is the
// writer's in its own pid namespace.
//
// On macOS the lock is flock(LOCK_EX) on the segment file. A probe takes
// LOCK_SH|LOCK_NB for an instant, so a writer retries its lock for about
// 20 ms before reporting ErrBusy. The holder's pid is not known (0).
//
// On Windows the lock is a named mutex, Local\seqshm-lock.NAME, taken
// without waiting; WAIT_ABANDONED (the previous writer died holding it)
// counts as taken. A Windows mutex belongs to a thread, so a goroutine
// locked to its own OS thread holds it for the writer's lifetime. Probes
// take it for an instant, so writers retry as on macOS. The holder's pid
// is not known (0). SEQSHM_NAMESPACE=Global puts the mapping and mutex
// names in Global\ instead, for services and readers in other sessions;
// creating objects there needs SeCreateGlobalPrivilege.
//
// On Windows, Options.Mode becomes the DACL of the file, the mapping and
// the mutex: this user and SYSTEM always have full access; the group bits
// grant read or write to BUILTIN\Users, the other bits to Everyone (see
// security_windows.go for the access masks). Info.Mode is derived back from
// the file's DACL, and Info.UID is -1 (owners are SIDs).
//
// # Concurrency
//
// Segment methods are safe for concurrent use. Close must not run while
// another goroutine uses the bytes of the segment's mappings. The package
// orders nothing in the shared memory: the bytes are plain memory shared
// with other processes, and the protocol that makes access to them safe is
// the caller's.
//
// # Caveats
//
//   - Removing a segment (Remove, or rm of its file) does not affect
//     processes that have it mapped: they keep using the old object, while a
//     new Create with the same name makes a new, different one. Readers that
//     must notice this call Segment.Replaced.
//   - Windows refuses to delete a file that any process has mapped. Remove
//     then renames it to .removed-NAME-PID-N in the same directory, which
//     frees the name at once (names starting with '.' are not segment
//     names, so List skips it); it is deleted, once nobody maps it, by the
//     next Create or Remove in the directory or by the Close of the writer
//     whose file it was.
//   - On Windows, a reader that finds no file at the name opens the named
//     mapping Local\seqshm.NAME instead (a writer of another user, or with
//     another SEQSHM_DIR, in this session). Such a segment's size is that of
//     its view, rounded up to whole pages, and it is never Replaced.
//   - On Windows, FILE_ATTRIBUTE_TEMPORARY asks the cache manager to keep
//     the pages in memory, but the memory manager still writes dirty pages
//     of a mapped file back when memory is short, on a flush and after the
//     last view and handle are gone, and hibernation and crash dumps hold
//     what is in memory: a segment is not a place for secrets.
//   - MapWritableRange is supported on Linux and Windows (where the offset
//     must be a multiple of the 64 KiB allocation granularity).
//   - On macOS, F_PREALLOCATE reserves the blocks where the file system
//     supports it; where it does not, a full disk can surface as SIGBUS when
//     a page is first written.
//   - A writer lock held by a process that forked without exec stays held
//     until the child closes the descriptor too (descriptors are O_CLOEXEC,
//     so exec drops them).
//   - The writer lock excludes writers that use this package (or honour the
//     same lock); it cannot stop a process that maps the file read-write on
//     its own, and file permissions are the only guard against processes of
//     other users.
//   - A segment of size 0 (made by another program) is not mapped; its
//     Bytes are empty.
//   - Other operating systems compile, and every operation on a segment
//     returns an error wrapping errors.ErrUnsupported.
package shmfile
