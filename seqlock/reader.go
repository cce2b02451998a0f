package seqlock

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/seqshm/seqshm/schema"
)

// maxLaps bounds the attempts of one Read. A reader is lapped only when the
// writer begins slotCount writes between the reader's load of the counter
// and the end of its copy, so in practice Read succeeds on its first or
// second attempt; the bound turns a pathological case (a
// reader descheduled again and again, or a hostile writer) into ErrLapped
// instead of an endless loop. (On amd64 readSlow runs after the
// assembly's readSmallLaps attempts, so a read gives up after 1016.)
const maxLaps = 1000

// readBackoff caps the PAUSEs between two attempts of one Read: a lapped
// reader waits one PAUSE more after each lap (readSmallLaps + lap in
// readSlow), up to this many. A read that gives up has then paused about
// 64 000 times, a few milliseconds. The reader never sleeps or yields in
// Read: a goroutine locked to its thread would hand its P over through
// futex sleeps at each yield, and async preemption already keeps a long
// Read from holding the P (docs/design-decisions.md, "A lapped reader
// backs off; it never yields").
const readBackoff = 64

// Meta describes a value returned by Read.
type Meta struct {
	// Len is the value's length in bytes. With ErrShortBuffer it is the
	// buffer size needed.
	Len int
	// Seq is the write number of the value: 1 for the first write, then
	// one more for each write. A larger Seq is a newer value.
	Seq uint64
	// UnixNano is the publish time in Unix nanoseconds, or 0 if the writer
	// did not stamp the value.
	UnixNano int64
}

// Time returns the publish time, or the zero Time if the value has none.
func (m Meta) Time() time.Time { return unixTime(uint64(m.UnixNano)) }

// A Reader copies the newest complete value out of a region. It never
// writes to the region, so the region may be mapped read-only.
//
// A Reader is safe for concurrent use by multiple goroutines; each Read
// copies into the caller's own buffer.
type Reader struct {
	h      *header
	g      geometry
	schema *schema.Schema // nil: bytes
	region []byte         // the region, as long as the header says
	seq    *uint64        // &h.seq, for the assembly
	slots
	useAsm  bool      // slotAsm and the capacity is at most slotAsmMax
	waiters *uint32   // nil: Wait polls
	hook    *waitHook // nil: each sleeping Wait registers its own cancel hook
	wakeFn  func()    // r.wakeAll, the cancel hooks' function
}

// NewReader validates the header of region against the region's length and
// returns a Reader. What it validated is kept: later changes to the header
// (by a hostile or broken writer) cannot make a Read leave the region.
func NewReader(region []byte) (*Reader, error) {
	if err := checkRegion(region); err != nil {
		return nil, err
	}
	// Acquire: the header fields the writer stored before its magic are
	// visible once the magic is.
	h := headerAt(region)
	if h.loadMagic() == 0 {
		return nil, ErrNotReady
	}
	g, err := decodeHeader(region)
	if err != nil {
		return nil, err
	}
	sc, err := decodeSchema(region, g)
	if err != nil {
		return nil, err
	}
	r := &Reader{h: h, g: g, region: region[:g.totalSize:g.totalSize], schema: sc, useAsm: slotAsm && g.capacity <= slotAsmMax}
	r.seq = &h.seq
	r.slots = slotsOf(region, g)
	return r, nil
}

// Capacity returns the largest value the region holds, in bytes.
func (r *Reader) Capacity() int { return r.g.capacity }

// writer returns what the header says of the last writer.
func (r *Reader) writer() writerInfo { return r.h.loadWriter() }

// foreignArea attaches the region's foreign waiter area, which must belong
// to owner (foreign_linux.go).
func (r *Reader) foreignArea(owner int) ([]byte, error) {
	return attachForeignArea(r.region, r.g, owner)
}

// Schema returns what the values are, as the writer recorded it: nil for
// bytes (and for regions written before schemas existed).
func (r *Reader) Schema() *schema.Schema { return r.schema }

// Fingerprint returns the type fingerprint recorded by the writer (0 for
// raw bytes).
func (r *Reader) Fingerprint() uint64 { return r.g.fingerprint }

// Seq returns the write number of the newest complete value (0 if none)
// without copying it.
func (r *Reader) Seq() uint64 { return atomic.LoadUint64(r.seq) / 2 }

// Read copies the newest complete value into buf and describes it. It
// never waits for a write in progress: it reads the previous value instead.
//
// A Read that returns a nil error observes one complete Write, in full: it
// synchronizes after that Write's commit. It returns ErrNoValue before the
// first write, ErrShortBuffer (with Meta.Len set) if buf is too small,
// ErrLapped if the writer overtook it maxLaps times, and ErrCorrupt if the
// slot contradicts the validated header. It does not allocate.
func (r *Reader) Read(buf []byte) (Meta, error) { return readValue(r, buf) }

// Read is one call, which the compiler inlines into the caller, to
// readValue: on amd64 the common case (a complete value that fits, slots of
// up to slotAsmMax bytes) in assembly (slot_amd64.s), which passes every
// other case on to readSlow; elsewhere readSlow itself.

// readSlow is Read in Go.
func readSlow(r *Reader, buf []byte) (Meta, error) {
	capacity := uint64(r.g.capacity)
	for lap := 0; lap < maxLaps; lap++ {
		if lap > 0 {
			// Lapped: back off in proportion to the laps before the
			// next attempt, as readValue does (slot_amd64.s).
			spinPause(uint64(min(readSmallLaps+lap, readBackoff)))
		}
		// Acquire (LDAR on arm64): the loads below are not performed
		// before this one, so they see the slot word of write m at least.
		c := atomic.LoadUint64(r.seq)
		if c < 2 {
			return Meta{}, ErrNoValue
		}
		m := c / 2                        // newest complete write; its slot is m&mask
		h := r.hdr[m&r.mask&(maxSlots-1)] // (the last mask drops the bounds check)
		// Acquire: the slot's length, time and payload loads below are
		// not performed before this one.
		s1 := atomic.LoadUint64(&h.seq)
		if s1 != 2*m {
			if s1 < 2*m {
				// The writer stores the slot word of write m before
				// the counter that says m is complete.
				return Meta{}, corruptSlot(m&r.mask, s1, 0, m, capacity)
			}
			// Write m+slotCount (or a later one) has begun here.
			continue
		}
		// The length is untrusted until validated: copy only what is in
		// bounds, and decide after the second load of the slot word.
		n := loadMeta(&h.length)
		if n <= capacity && n <= uint64(len(buf)) {
			copyOut(buf[:n], r.payload[m&r.mask])
		}
		t := loadMeta(&h.time)
		// The loads above complete before the slot word's second load
		// (DMB ISHLD on arm64; see loadFence on amd64).
		loadFence()
		if atomic.LoadUint64(&h.seq) != s1 {
			// The writer began write m+slotCount in this slot during
			// the copy.
			continue
		}
		if n > capacity {
			return Meta{}, corruptSlot(m&r.mask, s1, n, m, capacity)
		}
		meta := Meta{Len: int(n), Seq: m, UnixNano: int64(t)}
		if n > uint64(len(buf)) {
			return meta, ErrShortBuffer
		}
		return meta, nil
	}
	return Meta{}, ErrLapped
}

// corruptSlot builds the error for a validated read of an inconsistent
// slot. It is kept out of readSlow so that readSlow's frame stays small.
//
//go:noinline
func corruptSlot(slot, word, n, m, capacity uint64) error {
	if word < 2*m {
		return fmt.Errorf("%w: slot %d holds sequence word %d, below the %d of write %d that the counter says is complete", ErrCorrupt, slot, word, 2*m, m)
	}
	return fmt.Errorf("%w: slot %d holds write %d of %d bytes, at most %d fit", ErrCorrupt, slot, m, n, capacity)
}
