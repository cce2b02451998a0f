package seqlock

import (
	"sync"

	"golang.org/x/sys/unix"
)

// pidNamespace returns the identity of this process's PID namespace (the
// inode of /proc/self/ns/pid), or 0 if it cannot tell. A pid means something
// only within its namespace: a container's pid 1 is not this machine's.
var pidNamespace = sync.OnceValue(func() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) != nil {
		return 0
	}
	return st.Ino
})
