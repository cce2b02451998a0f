package seqlock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/seqshm/seqshm/schema"
)

// Layout version 2, byte by byte. docs/layout.md is the normative description
// for implementers in other languages; the constants here must match it.
//
// All fields are little-endian unsigned 64-bit integers unless noted.
const (
	offMagic       = 0   // 8 bytes "SEQSHM\x00\x00"
	offVersion     = 8   // layout version, 2
	offHeaderSize  = 16  // bytes of header before slot 0: 256 plus the schema area, if any
	offCapacity    = 24  // maximum payload bytes per value
	offSlotSize    = 32  // bytes per slot: 64-byte slot header + payload, a multiple of 8 (the writer's: of 128)
	offSlot0       = 40  // offset of slot 0; slot i is at slot0 + i*slotSize
	offSlotCount   = 48  // number of slots, a power of two in [minSlots, maxSlots]
	offTotalSize   = 56  // bytes of the whole segment as created
	offFingerprint = 64  // type fingerprint; 0 = raw bytes
	offCreated     = 72  // creation time, Unix nanoseconds (int64)
	offWriterState = 80  // stateInit, stateRunning or stateClosed
	offWriterPID   = 88  // process id of the last writer to open the segment
	offWriterStart = 96  // when that writer opened it, Unix nanoseconds (int64)
	offNotify      = 104 // offset of the waiter area, 0 if none
	offFlags       = 112 // flag bits, see flag*
	offPIDNS       = 120 // the last writer's PID namespace, 0 if unknown
	offSeq         = 128 // the sequence counter, alone on bytes 128..255
	headerSize     = 256
	slotHeaderSize = 64 // per slot: its sequence word, length, publish time, reserved
	slotAlign      = 128
	notifySize     = 128
	offSlotSeq     = 0  // within a slot: 2n-1 while write n is in progress in it, 2n once complete
	offSlotLen     = 8  // within a slot: payload length in bytes
	offSlotTime    = 16 // within a slot: publish time, Unix ns (int64), 0 = not stamped
	minSlots       = 2
	maxSlots       = 64
	// smallSlot is the largest slot that gets manySlots slots; larger ones
	// get fewSlots (slotCountFor).
	smallSlot        = 4096
	manySlots        = 8
	fewSlots         = 4
	offNotifyWaiter  = 0 // within the waiter area: uint32 event count: bit 0 waiters may sleep, bits 1-31 wake epoch
	offNotifyForeign = 8 // within the waiter area: 1 + the System V id of the foreign waiter area, 0 if none (Linux)

)

// MaxCapacity bounds the capacity of a segment (and what a reader
// accepts), so that no size arithmetic on header fields can overflow an
// int: 1 TiB on 64-bit platforms, 16 MiB on 32-bit ones.
const MaxCapacity = 1 << (strconv.IntSize/2 + 8)

// magic is the first 8 bytes of every segment.
var magic = [8]byte{'S', 'E', 'Q', 'S', 'H', 'M', 0, 0}

// magicWord is magic read as a little-endian uint64.
var magicWord = binary.LittleEndian.Uint64(magic[:])

// LayoutVersion is the version of the segment layout this package writes
// and the only one it reads. Version 1 (two slots, validated against the
// counter) is refused with ErrVersion.
const LayoutVersion = 2

// Writer states, stored at offWriterState.
const (
	stateInit    = 0 // the writer is still initialising the header
	stateRunning = 1 // a writer has the segment open
	stateClosed  = 2 // the last writer closed the segment cleanly
)

// waiterBit is bit 0 of the waiter word: set by a waiter before it sleeps,
// cleared by the writer when it wakes the sleepers.
const waiterBit = 1

// The flag bits, stored at offFlags, are in fence.go.

// littleEndian reports whether this machine stores words little-endian, as
// the layout does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// errBigEndian is returned on machines the layout does not support.
var errBigEndian = fmt.Errorf("big-endian machines are not supported: %w", errors.ErrUnsupported)

// slotHeader is the start of a slot: its sequence word, length and publish
// time, at offSlotSeq, offSlotLen and offSlotTime.
type slotHeader struct {
	// seq is the slot's own sequence word, in the counter's units: 2n-1
	// while write n is in progress in the slot, 2n once it is complete, 0
	// before the slot's first write. A reader validates its copy against
	// this word, which changes only when the slot is rewritten (every
	// slotCount writes), not against the counter, which changes twice per
	// write (docs/memory-model.md).
	seq    uint64
	length uint64
	time   uint64
}

// slots is how a Writer or a Reader reaches the slots of its region: their
// headers (which the assembly indexes; a payload starts slotHeaderSize
// bytes after its header), kept in the Reader or Writer itself so that
// finding a slot takes one load, and their payloads, and mask, the slot
// count less one: write n goes into slot n&mask.
type slots struct {
	hdr     [maxSlots]*slotHeader
	payload [][]byte
	mask    uint64
}

// slotsOf returns the slots of region, laid out by g.
func slotsOf(region []byte, g geometry) (s slots) {
	s.payload = make([][]byte, g.slotCount)
	for i := range g.slotCount {
		off := g.slot0 + i*g.slotSize
		s.hdr[i] = slotHeaderAt(region, off)
		s.payload[i] = region[off+slotHeaderSize : off+slotHeaderSize+roundUp(g.capacity, 8)]
	}
	s.mask = uint64(g.slotCount - 1)
	return s
}

// checkRegion checks what NewWriter and NewReader need of any region: a
// little-endian machine, 8-byte alignment, room for the header.
func checkRegion(region []byte) error {
	switch {
	case !littleEndian:
		return errBigEndian
	case !aligned8(region):
		return ErrMisaligned
	case len(region) < headerSize:
		return fmt.Errorf("%w: region of %d bytes is smaller than the %d-byte header", ErrCorrupt, len(region), headerSize)
	}
	return nil
}

// geometry is everything a reader needs from a header, validated.
type geometry struct {
	headerSize  int // bytes before slot 0: the header and the schema area
	capacity    int
	slotSize    int
	slot0       int // offset of slot 0; slot i is at slot0 + i*slotSize
	slotCount   int // a power of two in [minSlots, maxSlots]
	totalSize   int
	fingerprint uint64
	notify      int // offset of the waiter area, 0 if none
	flags       uint64
}

// slotSizeFor returns the bytes one slot takes for a capacity.
func slotSizeFor(capacity int) int {
	return roundUp(slotHeaderSize+roundUp(capacity, 8), slotAlign)
}

// slotCountFor returns how many slots a writer gives slots of slotSize
// bytes: enough that a reader copying the newest value is not lapped by a
// writer writing back to back (docs/design-decisions.md, "Slots with their
// own sequence words"), fewer for large slots, whose writes take as long
// as their copies.
func slotCountFor(slotSize int) int {
	if slotSize <= smallSlot {
		return manySlots
	}
	return fewSlots
}

func roundUp(n, align int) int { return (n + align - 1) / align * align }

// Size returns the number of bytes a region needs to hold values of up to
// capacity bytes, including the waiter area used by Subscriber.Wait, or 0
// if capacity is out of range. A region whose values have a schema needs
// SizeWith.
func Size(capacity int) int { return SizeWith(capacity, nil) }

// SizeWith is Size for values described by s (nil: bytes): the schema is
// kept in the region, between the header and the slots.
func SizeWith(capacity int, s *schema.Schema) int {
	if capacity < 1 || capacity > MaxCapacity {
		return 0
	}
	return newGeometry(capacity, 0, 0, schemaLen(s)).totalSize
}

// schemaLen is the length of s's binary encoding, 0 for nil.
func schemaLen(s *schema.Schema) int {
	if s == nil {
		return 0
	}
	b, err := s.MarshalBinary()
	if err != nil {
		return 0
	}
	return len(b)
}

// newGeometry lays out a region: the header, a schema area of schemaLen
// bytes (rounded up to slotAlign), the slots, and the waiter area on a
// page of its own, so that a subscriber can map it writable apart from the
// values (waiterAlign: the page size; on Windows the 64 KiB allocation
// granularity, which view offsets must be multiples of).
func newGeometry(capacity int, fingerprint, flags uint64, schemaLen int) geometry {
	g := geometry{capacity: capacity, slotSize: slotSizeFor(capacity), fingerprint: fingerprint, flags: flags}
	g.headerSize = headerSize + roundUp(schemaLen, slotAlign)
	g.slot0 = g.headerSize
	g.slotCount = slotCountFor(g.slotSize)
	g.notify = roundUp(g.slot0+g.slotCount*g.slotSize, waiterAlign)
	g.totalSize = g.notify + notifySize
	return g
}

// encode writes every header field except the magic, the writer's and
// the counter, into a header that no reader trusts yet (its magic is zero).
func (g geometry) encode(h *header) {
	h.version = LayoutVersion
	h.headerSize = uint64(g.headerSize)
	h.capacity = uint64(g.capacity)
	h.slotSize = uint64(g.slotSize)
	h.slot0 = uint64(g.slot0)
	h.slotCount = uint64(g.slotCount)
	h.totalSize = uint64(g.totalSize)
	h.fingerprint = g.fingerprint
	h.notify = uint64(g.notify)
	h.flags = g.flags
}

// decodeHeader validates the header of region against the region's real
// length and returns its geometry. It never reads outside region and never
// panics, whatever the bytes: it is the decoder of untrusted input. region
// must be 8-byte aligned (checkRegion).
func decodeHeader(region []byte) (geometry, error) {
	var g geometry
	if len(region) < headerSize {
		return g, fmt.Errorf("%w: region of %d bytes is smaller than the %d-byte header", ErrCorrupt, len(region), headerSize)
	}
	h := headerAt(region)
	if m := h.loadMagic(); m != magicWord {
		if m == 0 {
			return g, ErrNotReady
		}
		return g, fmt.Errorf("%w: bad magic %q", ErrNotSeqshm, region[offMagic:offMagic+8])
	}
	if v := atomic.LoadUint64(&h.version); v != LayoutVersion {
		return g, versionError(v)
	}
	size := uint64(len(region))
	hs, capacity, slotSize := atomic.LoadUint64(&h.headerSize), atomic.LoadUint64(&h.capacity), atomic.LoadUint64(&h.slotSize)
	s0, count, total := atomic.LoadUint64(&h.slot0), atomic.LoadUint64(&h.slotCount), atomic.LoadUint64(&h.totalSize)
	notify := atomic.LoadUint64(&h.notify)
	switch {
	case hs < headerSize || hs > size:
		return g, fmt.Errorf("%w: header size %d outside [%d, %d]", ErrCorrupt, hs, headerSize, size)
	case total > size:
		return g, fmt.Errorf("%w: header says %d bytes, region has %d (truncated?)", ErrCorrupt, total, size)
	case capacity < 1 || capacity > MaxCapacity:
		return g, fmt.Errorf("%w: capacity %d", ErrCorrupt, capacity)
	case slotSize < slotHeaderSize+capacity || slotSize > total || slotSize%8 != 0:
		return g, fmt.Errorf("%w: slot size %d for capacity %d", ErrCorrupt, slotSize, capacity)
	case count < minSlots || count > maxSlots || count&(count-1) != 0:
		return g, fmt.Errorf("%w: slot count %d, not a power of two in [%d, %d]", ErrCorrupt, count, minSlots, maxSlots)
	case !slotFits(s0, count*slotSize, hs, total):
		return g, fmt.Errorf("%w: %d slots of %d bytes at %d outside the %d-byte segment", ErrCorrupt, count, slotSize, s0, total)
	case notify != 0 && (notify%8 != 0 || notify < hs || notify > total || total-notify < notifySize ||
		rangesOverlap(notify, notifySize, s0, count*slotSize)):
		return g, fmt.Errorf("%w: waiter area at %d", ErrCorrupt, notify)
	}
	g.headerSize = int(hs)
	g.capacity = int(capacity)
	g.slotSize = int(slotSize)
	g.slot0 = int(s0)
	g.slotCount = int(count)
	g.totalSize = int(total)
	g.fingerprint = atomic.LoadUint64(&h.fingerprint)
	g.notify = int(notify)
	g.flags = h.loadFlags()
	return g, nil
}

// versionError is the error for a header of layout version v.
func versionError(v uint64) error {
	if v == 1 {
		return fmt.Errorf("%w: layout version 1, written by an older seqshm; this one reads version %d only", ErrVersion, LayoutVersion)
	}
	return fmt.Errorf("%w: layout version %d, this reader knows %d", ErrVersion, v, LayoutVersion)
}

// schemaMagic starts a schema area (package schema's binary format).
var schemaMagic = [4]byte{'S', 'Q', 'S', 'C'}

// decodeSchema returns the schema kept between the header and the slots of
// region, laid out by g: nil if there is none (segments made before
// schemas, or by a writer that kept none), an error wrapping ErrCorrupt for
// an area that holds no valid schema. The area is copied out first, so a
// writer changing it meanwhile cannot make the decoder see two versions.
func decodeSchema(region []byte, g geometry) (*schema.Schema, error) {
	if g.headerSize <= headerSize {
		return nil, nil
	}
	area := region[headerSize:g.headerSize]
	if !bytes.HasPrefix(area, schemaMagic[:]) {
		return nil, nil
	}
	b := bytes.Clone(area[:min(len(area), schema.MaxBinarySize)])
	n, err := schema.BinarySize(b)
	if err != nil {
		return nil, fmt.Errorf("%w: schema area: %w", ErrCorrupt, err)
	}
	s, err := schema.UnmarshalBinary(b[:n])
	if err != nil {
		return nil, fmt.Errorf("%w: schema area: %w", ErrCorrupt, err)
	}
	if s.Kind() == schema.Struct && (s.Size() != g.capacity || s.Fingerprint() != g.fingerprint) {
		return nil, fmt.Errorf("%w: struct schema of %d bytes (fingerprint %#x) in a segment of capacity %d (fingerprint %#x)",
			ErrCorrupt, s.Size(), s.Fingerprint(), g.capacity, g.fingerprint)
	}
	return s, nil
}

// slotFits reports whether slots of n bytes in all at off lie after the
// header, inside total bytes, with their payloads 8-byte aligned. off and
// total are bounded by the region length, n by maxSlots times it, so the
// sums cannot overflow.
func slotFits(off, n, hs, total uint64) bool {
	return off >= hs && off%8 == 0 && off <= total && total-off >= n
}

func rangesOverlap(a, an, b, bn uint64) bool { return a < b+bn && b < a+an }

// MakeRegion allocates a zeroed region for values of up to capacity bytes,
// aligned as a mapping would be, for using the protocol within one process
// or in tests. It returns nil if capacity is out of range.
func MakeRegion(capacity int) []byte {
	n := Size(capacity)
	if n == 0 {
		return nil
	}
	return alignedBytes(n, slotAlign)
}
