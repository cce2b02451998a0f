package seqlock

import "sync/atomic"

// header is the first headerSize bytes of a segment, as docs/layout.md
// gives them: sixteen little-endian 64-bit words (bytes 0..127) and the
// counter alone on bytes 128..255. It is the one way Go code reaches the
// header of a region (headerAt): its offsets are checked at compile time
// against the off* constants in words_unsafe.go.
//
// Other processes write these words while this one reads them, so every
// access is an atomic load or store, except in encode, which fills a header
// nobody can read yet (its magic is still zero).
type header struct {
	magic       uint64 // magicWord; stored last by the creator (release), loaded first by readers (acquire)
	version     uint64 // LayoutVersion
	headerSize  uint64 // bytes before slot 0
	capacity    uint64 // largest value, bytes
	slotSize    uint64 // bytes per slot: slot header + payload, a multiple of 8 (the writer's: of slotAlign)
	slot0       uint64 // offset of slot 0; the others follow it
	slotCount   uint64 // number of slots, a power of two
	totalSize   uint64 // bytes of the segment as created
	fingerprint uint64 // type fingerprint; 0 = raw bytes
	created     uint64 // creation time, Unix ns
	writerState uint64 // stateInit, stateRunning or stateClosed
	writerPID   uint64 // process id of the last writer to open the segment, in its PID namespace
	writerStart uint64 // when that writer opened it, Unix ns
	notify      uint64 // offset of the waiter area; 0 if none
	flags       uint64 // flag* bits
	pidNS       uint64 // that writer's PID namespace (Linux: inode of /proc/self/ns/pid); 0 if unknown
	// seq counts half-steps: it is 2n−1 while write n is in progress (into
	// slot n%slotCount) and 2n once write n is complete, so the newest complete
	// write is seq/2 and an odd seq means a write is under way. Only the
	// writer stores it; it never decreases.
	seq uint64
	_   [headerSize - offSeq - 8]byte // the rest of the counter's cache lines
}

// Accessors for the words read in more than one place.

func (h *header) loadMagic() uint64       { return atomic.LoadUint64(&h.magic) }
func (h *header) loadFlags() uint64       { return atomic.LoadUint64(&h.flags) }
func (h *header) storeFlags(f uint64)     { atomic.StoreUint64(&h.flags, f) }
func (h *header) storeState(state uint64) { atomic.StoreUint64(&h.writerState, state) }

// writerInfo is what the header says about the last writer.
type writerInfo struct {
	state   uint64
	pid     int
	pidNS   uint64
	started uint64 // Unix ns
	created uint64 // Unix ns, of the segment
}

func (h *header) loadWriter() writerInfo {
	return writerInfo{
		state:   atomic.LoadUint64(&h.writerState),
		pid:     int(atomic.LoadUint64(&h.writerPID)),
		pidNS:   atomic.LoadUint64(&h.pidNS),
		started: atomic.LoadUint64(&h.writerStart),
		created: atomic.LoadUint64(&h.created),
	}
}

// storeWriter records the writer that adopts the segment, before it says
// it is running.
func (h *header) storeWriter(pid int, pidNS uint64, started int64) {
	atomic.StoreUint64(&h.writerPID, uint64(pid))
	atomic.StoreUint64(&h.pidNS, pidNS)
	atomic.StoreUint64(&h.writerStart, uint64(started))
	atomic.StoreUint64(&h.writerState, stateRunning)
}
