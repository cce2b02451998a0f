// This file holds the package's pointer conversions: views of 64-bit and
// 32-bit words inside a region, and of a typed value as bytes.

package seqlock

import "unsafe"

// word64 returns a pointer to the 8 bytes at b[off:]. The caller has checked
// that off+8 <= len(b) and that &b[off] is 8-byte aligned (regions are
// checked for alignment once, and every offset used is a multiple of 8).
func word64(b []byte, off int) *uint64 {
	w := b[off : off+8 : off+8] // bounds check without a load (a load would race)
	// Safe: in bounds (above) and aligned (caller), and the backing memory
	// outlives the pointer because the Writer/Reader keeps b alive.
	return (*uint64)(unsafe.Pointer(unsafe.SliceData(w)))
}

// word32 is word64 for a 4-byte word.
func word32(b []byte, off int) *uint32 {
	w := b[off : off+4 : off+4]
	// Safe: as for word64, with 4-byte alignment.
	return (*uint32)(unsafe.Pointer(unsafe.SliceData(w)))
}

// aligned8 reports whether b starts on an 8-byte boundary.
func aligned8(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	// Only the address is inspected; no pointer is made from it.
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}

// bytesOf returns the memory of *p as a byte slice of its size.
func bytesOf[T any](p *T) []byte {
	// Safe: T is checked to be pointer-free at construction of every typed
	// reader and writer, so viewing it as bytes hides no pointer from the GC.
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// alignedBytes returns n zero bytes starting on an align-byte boundary
// (align a power of two).
func alignedBytes(n, align int) []byte {
	b := make([]byte, n+align)
	// Only the address is inspected, to find the aligned start within b.
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & uintptr(align-1))
	return b[off : off+n : off+n]
}

// The slotHeader fields must sit where the layout says (compile-time check).
var _ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.seq)-offSlotSeq]
var _ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.length)-offSlotLen]
var _ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.time)-offSlotTime]

// The header fields must sit where the layout says (compile-time check).
var (
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.magic)-offMagic]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.version)-offVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.headerSize)-offHeaderSize]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.capacity)-offCapacity]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.slotSize)-offSlotSize]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.slot0)-offSlot0]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.slotCount)-offSlotCount]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.totalSize)-offTotalSize]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.fingerprint)-offFingerprint]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.created)-offCreated]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.writerState)-offWriterState]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.writerPID)-offWriterPID]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.writerStart)-offWriterStart]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.notify)-offNotify]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.flags)-offFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.pidNS)-offPIDNS]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.seq)-offSeq]
	_ = [1]struct{}{}[unsafe.Sizeof(header{})-headerSize]
)

// headerAt returns the header at the start of region. The caller has
// checked that region is at least headerSize bytes and 8-byte aligned
// (checkRegion).
func headerAt(region []byte) *header {
	h := region[:headerSize:headerSize]
	// Safe: in bounds (above), 8-byte aligned (caller), and header is the
	// layout's words at the layout's offsets (checked above).
	return (*header)(unsafe.Pointer(unsafe.SliceData(h)))
}

// slotHeaderAt returns the slot header at b[off:]. The caller has checked
// that the slot lies in b and that off is a multiple of 8.
func slotHeaderAt(b []byte, off int) *slotHeader {
	h := b[off : off+slotHeaderSize : off+slotHeaderSize]
	// Safe: in bounds (above), 8-byte aligned (caller), and slotHeader is
	// three uint64s at the offsets the layout gives (checked above).
	return (*slotHeader)(unsafe.Pointer(unsafe.SliceData(h)))
}
