package natskv

import "sync/atomic"

// Stats count what a process's bridges do, for a status line or a health
// endpoint. Give the same *Stats to several Export and Import calls to sum
// them. It is safe for concurrent use.
type Stats struct {
	Exporting atomic.Int64  // segments being exported now
	Importing atomic.Int64  // keys being imported now
	Writes    atomic.Uint64 // values (and heartbeats) written to keys
	Imported  atomic.Uint64 // values published into local segments
	Failures  atomic.Uint64 // failed writes and watches (retried)
}

// count applies f to s unless s is nil: the options' Stats are optional.
func (s *Stats) count(f func(*Stats)) {
	if s != nil {
		f(s)
	}
}
