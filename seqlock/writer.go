package seqlock

import (
	"bytes"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/seqshm/seqshm/schema"
)

// WriterOptions configure NewWriter and NewTypedWriter. A nil
// *WriterOptions means the defaults.
type WriterOptions struct {
	// Capacity is the largest value in bytes. Required when initialising a
	// region; when adopting one it must match (0 accepts the region's).
	// NewTypedWriter sets it to the type's size.
	Capacity int
	// Fingerprint identifies the type of values that have no schema (0 =
	// raw bytes); a struct Schema sets it to the schema's fingerprint.
	Fingerprint uint64
	// NoTimestamp turns off the publish-time stamp of Write, saving one
	// clock read (tens of nanoseconds) per write; Meta.UnixNano is then 0
	// unless WriteAt gives a time. As Options.NoTimestamp.
	NoTimestamp bool
	// Schema says what the values are (see package schema); nil means
	// bytes. It is kept in the region when the region is initialised; a
	// region adopted must hold the same schema, except that a writer of
	// bytes (nil) adopts text and json regions too. A struct schema sets
	// the capacity (its size) and the fingerprint (its Fingerprint).
	Schema *schema.Schema

	initCapacity int  // the capacity to initialise a region with when Capacity is 0 (Create)
	anySchema    bool // adopt a region whatever its schema (Options.AnySchema)
}

// A Writer publishes values into a region. It must be the region's only
// writer: a Writer is not safe for concurrent use, and a region must not
// have two Writers at once. Each write checks that the slot it is about
// to fill holds what this Writer left there (or found there when it
// adopted the region), so a second writer is reported (ErrConcurrentWrite)
// at the latest when this Writer comes round to a slot the other wrote
// into, within slotCount writes, instead of being overwritten; two writes
// that run at the same instant are not caught that way, and can leave a
// mixed value. (The check reads the slot's word, not the counter, whose
// cache line readers keep reading: loading it on every write made a
// writer with a reader beside it several times slower, in
// docs/benchmarks.md.) Publisher enforces one writer per named segment
// across processes with the OS writer lock; use it unless the region is
// yours alone.
//
// A Writer must not be copied after first use.
type Writer struct {
	_      noCopy
	schema *schema.Schema // the region's; nil for bytes
	h      *header
	g      geometry
	seq    *uint64 // &h.seq, for the assembly
	slots
	waiters *uint32 // the waiter word (an event count); nil when the region has no waiter area
	foreign *uint32 // the foreign waiter area's word (foreign_linux.go); nil if none
	next    uint64  // number of the next write
	// last holds, for each slot, the word this Writer stored there last
	// (or found there when it adopted the region): what its next write
	// into the slot checks for.
	last   [maxSlots]uint64
	stamp  bool
	useAsm bool // slotAsm and the capacity is at most slotAsmMax
	// clockBase and clockBaseNs are the base of now: a time.Now reading
	// (with its monotonic clock) and its Unix nanoseconds.
	clockBase   time.Time
	clockBaseNs int64
	commitFence // fence.go
	closed      bool
}

// NewWriter initialises region for values of up to opts.Capacity bytes, or
// adopts it if it already holds a valid segment: then the last complete
// value stays readable, and if a previous writer died in the middle of write
// n, this Writer's first value completes write n.
//
// An all-zero region is initialised; a region with any other content that
// is not a valid segment gives an error and is left untouched. region must
// be 8-byte aligned and at least Size(opts.Capacity) bytes long.
func NewWriter(region []byte, opts *WriterOptions) (*Writer, error) {
	if err := checkRegion(region); err != nil {
		return nil, err
	}
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	if sc := o.Schema; sc != nil && sc.Kind() == schema.Struct {
		if o.Capacity != 0 && o.Capacity != sc.Size() {
			return nil, fmt.Errorf("%w: capacity %d for a struct schema of %d bytes", ErrInvalid, o.Capacity, sc.Size())
		}
		o.Capacity, o.Fingerprint = sc.Size(), sc.Fingerprint()
	}
	h := headerAt(region)
	// Readers check the magic last-written-first-read: load it atomically so
	// that on arm64 the header fields written before it are visible.
	m := h.loadMagic()
	var g geometry
	kept := o.Schema // the region's schema, once initialised or adopted
	switch {
	case m == 0 && !allZero(region[:min(len(region), zeroCheck)]):
		// Not ours: a zero magic with other bytes set is another
		// program's file (or a creator that died while writing the
		// header, which Remove can clear away).
		return nil, fmt.Errorf("%w: zero magic, but the region is not all zero", ErrNotSeqshm)
	case m == 0:
		capacity := o.Capacity
		if capacity == 0 {
			capacity = o.initCapacity
		}
		if capacity < 1 || capacity > MaxCapacity {
			return nil, fmt.Errorf("%w: capacity %d outside [1, %d]", ErrInvalid, capacity, MaxCapacity)
		}
		var enc []byte
		if o.Schema != nil {
			var err error
			if enc, err = o.Schema.MarshalBinary(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
		g = newGeometry(capacity, o.Fingerprint, 0, len(enc))
		if g.totalSize > len(region) {
			return nil, fmt.Errorf("%w: region of %d bytes too small for capacity %d (need %d)", ErrInvalid, len(region), capacity, g.totalSize)
		}
		g.flags = writerFlags()
		g.encode(h)
		copy(region[headerSize:], enc)
		h.created = uint64(time.Now().UnixNano())
		// Release store: every header field above is visible to a reader
		// that sees the magic.
		atomic.StoreUint64(&h.magic, magicWord)
	default:
		var err error
		if g, err = decodeHeader(region); err != nil {
			return nil, err
		}
		have, err := decodeSchema(region, g)
		if err != nil {
			return nil, err
		}
		otherValues := !o.anySchema && (o.Fingerprint != g.fingerprint || !adoptable(have, o.Schema))
		if o.Capacity != 0 && o.Capacity != g.capacity || otherValues {
			return nil, &IncompatibleError{
				Capacity: g.capacity, WantCapacity: o.Capacity,
				Fingerprint: g.fingerprint, WantFingerprint: o.Fingerprint,
				Schema: have, WantSchema: o.Schema,
			}
		}
		kept = have
		g.flags = writerFlags()
		h.storeFlags(g.flags)
	}
	w := &Writer{h: h, g: g, stamp: !o.NoTimestamp, schema: kept}
	w.seq = &h.seq
	w.slots = slotsOf(region, g)
	if g.notify != 0 {
		w.waiters = word32(region, g.notify+offNotifyWaiter)
	}
	w.initFence()
	w.useAsm = slotAsm && g.capacity <= slotAsmMax
	s := atomic.LoadUint64(w.seq)
	// A counter at 2n-2 means write n is next; at 2n-1 a writer died during
	// write n, whose slot no reader uses (they read slot (n-1)%slotCount),
	// so the next write redoes write n.
	w.next = s/2 + 1
	for i, h := range w.hdr[:g.slotCount] {
		w.last[i] = atomic.LoadUint64(&h.seq)
	}
	h.storeWriter(os.Getpid(), pidNamespace(), time.Now().UnixNano())
	return w, nil
}

// Capacity returns the largest value in bytes.
func (w *Writer) Capacity() int { return w.g.capacity }

// adoptable reports whether a writer asking for schema want may adopt a
// region holding have (nil: bytes, for both).
func adoptable(have, want *schema.Schema) bool {
	switch {
	case want == nil || want.Kind() == schema.Bytes:
		return have == nil || have.Kind() != schema.Struct
	case have == nil:
		return false
	}
	return have.Equal(want)
}

// Seq returns the number of the last completed write (0 if none).
func (w *Writer) Seq() uint64 { return w.next - 1 }

// Write publishes p as the newest value and returns its write number.
// Readers see either the previous value or p, never a mixture. It does not
// retain p. It returns ErrTooLarge if p exceeds the capacity and
// ErrConcurrentWrite if the slot it is about to fill holds a write this
// Writer did not make (another writer is at work).
func (w *Writer) Write(p []byte) (uint64, error) { return writeValue(w, p, 0, true) }

// now returns the wall-clock time in Unix nanoseconds, as a base read with
// time.Now plus the monotonic time since: one clock read instead of the
// two of time.Now. The base is read again every second, so a step of the
// wall clock shows within a second; NTP's gradual corrections apply to the
// monotonic clock too.
func (w *Writer) now() int64 {
	d := time.Since(w.clockBase)
	if d < 0 || d > time.Second {
		w.clockBase = time.Now()
		w.clockBaseNs = w.clockBase.UnixNano()
		d = 0
	}
	return w.clockBaseNs + int64(d)
}

// WriteAt is Write with an explicit publish time, for callers that already
// have a timestamp; the zero Time means none.
func (w *Writer) WriteAt(p []byte, t time.Time) (uint64, error) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	return writeValue(w, p, ns, false)
}

// Write and WriteAt are one call, which the compiler inlines into the
// caller, to writeValue: on amd64 the whole write in assembly
// (slot_amd64.s), which passes what it does not do itself on to writeSlow,
// or after the write to writeWake (it found a waiter asleep) or writeQuiet
// (a fenced writer's quietWrites-th write without one); elsewhere writeSlow
// itself. stamp asks for w's own timestamp (Write), otherwise t
// is the publish time (WriteAt).

// writeSlow is the write in Go: every write on every architecture without
// the assembly, and on amd64 the large slots and the refused writes. A
// stamped write only reads the clock here and goes back to writeValue, so
// that on amd64 it takes the assembly too.
func writeSlow(w *Writer, p []byte, t int64, stamp bool) (uint64, error) {
	if stamp && w.stamp {
		return writeValue(w, p, w.now(), false)
	}
	return w.write(p, t)
}

// writeWake ends a write done by the assembly that found the waiter bit set.
func writeWake(w *Writer, _ []byte, _ int64, _ bool) (uint64, error) {
	w.wakeWaiters()
	return w.next - 1, nil
}

// write performs a write in Go.
func (w *Writer) write(p []byte, unixNano int64) (uint64, error) {
	seq := w.seq
	n := w.next
	i := n & w.mask & (maxSlots - 1) // (the last mask drops the bounds checks)
	h, payload := w.hdr[i], w.payload[i]
	// Close sends every write here (useAsm false). The slot's word is on
	// a line readers leave alone until it holds the newest value; the
	// load catches a second writer (or a second goroutine) that wrote
	// into this slot before it can tear anything.
	if w.closed || len(p) > w.g.capacity || atomic.LoadUint64(&h.seq) != w.last[i] {
		return 0, w.writeError(len(p))
	}
	w.last[i], w.next = 2*n, n+1
	// Odd counter: write n is in progress, for Stat and for a second
	// writer, whose next check fails from now on. Release: a reader that
	// loads it finds write n-1 complete in its slot
	// (docs/memory-model.md).
	commitWrite(seq, 2*n-1)
	// Odd slot word: write n is in progress in slot n%slotCount, which
	// readers of write n-slotCount, the value it held, now see changed.
	// The stores below stay after this one (docs/memory-model.md).
	beginWrite(&h.seq, 2*n-1)
	storeMeta(&h.length, uint64(len(p)))
	storeMeta(&h.time, uint64(unixNano))
	copyIn(payload, p)
	// Even slot word, then even counter: write n is complete. Release:
	// the stores above are visible to any reader that loads the slot
	// word's new value, and the slot word to any reader that loads the
	// counter's; fenced or not, see fence.go.
	commitWrite(&h.seq, 2*n)
	w.commit(seq, 2*n)
	if w.waiters != nil && atomic.LoadUint32(w.waiters)&waiterBit != 0 ||
		w.foreign != nil && atomic.LoadUint32(w.foreign)&waiterBit != 0 {
		w.wakeWaiters()
	} else {
		w.noWaiter()
	}
	return n, nil
}

// writeError says why write refused a value of n bytes. It is kept out of
// write so that write's frame stays small.
//
//go:noinline
func (w *Writer) writeError(n int) error {
	switch {
	case w.closed:
		return ErrClosed
	case n > w.g.capacity:
		return tooLarge(n, w.g.capacity)
	}
	return ErrConcurrentWrite
}

// Close marks the region as closed cleanly by its writer; the last value
// stays readable. Further writes return ErrClosed.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.useAsm = false // every write goes to write, which refuses it
	w.h.storeState(stateClosed)
	w.wakeWaiters()
	return nil
}

// noCopy makes go vet's copylocks check report copies of the types that
// embed it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// wakeWaiters wakes the waiters if any may be asleep: the waiter word is an
// event count, bit 0 set by waiters before they sleep, bits 1-31 a wake
// epoch. The writer clears the bit and advances the epoch in one atomic
// step, then wakes everyone sleeping on the word. A waiter that set the bit
// before this and has not yet gone to sleep finds the word changed and does
// not sleep; waiters that sleep again set the bit again. So a publisher
// whose subscribers are all busy makes no system call, however many there
// are, and a waiter killed asleep costs one needless wake, once
// (docs/memory-model.md, "Waking waiters"). The foreign waiter area's word,
// which other users may write, is handled the same way, with bounded tries.
//
//go:noinline
func (w *Writer) wakeWaiters() {
	woke := wakeWord(w.waiters)
	if wakeWord(w.foreign) {
		woke = true
	}
	if !woke {
		return
	}
	w.woke()
}

// wakeTries bounds the compare-and-swaps of wakeWord on a word that others
// keep changing: a hostile waiter of another user must not hold up a write.
const wakeTries = 4

// wakeWord clears the waiter bit of word (nil: none) and advances its
// epoch, then wakes its sleepers, and reports whether the bit was set.
func wakeWord(word *uint32) bool {
	if word == nil {
		return false
	}
	for range wakeTries {
		v := atomic.LoadUint32(word)
		if v&waiterBit == 0 {
			return false
		}
		// Full barrier (LOCK CMPXCHG, or LDAXR/STLXR + DMB on arm64).
		if atomic.CompareAndSwapUint32(word, v, (v+2)&^waiterBit) {
			break
		}
	}
	// Woken, even if the word kept changing: a sleeper re-checks the
	// counter and sleeps again if nothing is new.
	wake(word)
	return true
}

// zeroCheck is how much of a region with a zero magic NewWriter checks to
// be zero before it initialises it: the header, all the slots of a small
// segment and the first waiter page. Not the whole region: a segment that
// claims a large capacity is a sparse file, and reading all of it would
// take as long as writing it.
const zeroCheck = 64 << 10

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	var zero [4096]byte
	for len(b) > 0 {
		n := min(len(b), len(zero))
		if !bytes.Equal(b[:n], zero[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// tooLarge builds the error for an oversized value, out of line so that
// write's frame stays small.
//
//go:noinline
func tooLarge(n, capacity int) error {
	return fmt.Errorf("%w: %d bytes, capacity %d", ErrTooLarge, n, capacity)
}
