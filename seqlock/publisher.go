package seqlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/shmfile"
)

// DefaultCapacity is the capacity of a segment created without one.
const DefaultCapacity = 4096

// RemovedCheckInterval is how often a Publisher checks that its segment's
// name still refers to it. A segment deleted under a live publisher (by a
// cleanup job, or systemd's RemoveIPC) is noticed within this interval:
// Publish then fails with ErrRemoved and Removed's channel is closed.
const RemovedCheckInterval = time.Second

// Options configure Create and CreateTyped. A nil *Options means the
// defaults.
type Options struct {
	// Capacity is the largest value in bytes; 0 means DefaultCapacity when
	// creating, and "whatever it is" when taking over a segment.
	Capacity int
	// Mode is the permission of a new segment; 0 means 0600 (owner only).
	// Give 0640 or 0644 to let other users subscribe. An existing segment
	// is taken over only if this user owns it and its mode grants no more
	// than Mode; otherwise Create fails with ErrNotTrusted, because another
	// user could read or forge its values.
	Mode fs.FileMode
	// NoTimestamp turns off publish-time stamps, saving one clock read per
	// Publish; subscribers then see no age for values.
	NoTimestamp bool
	// Schema says what the values are, so that every tool and language
	// can decode them (package schema): nil means bytes; text and json
	// values are checked by Publish (UTF-8, a JSON document); a struct
	// schema sets the capacity to its size. It is kept in the segment. An
	// existing segment must hold the same schema, except that a publisher
	// of bytes (nil) adopts text and json segments too.
	Schema *schema.Schema
	// AnySchema makes Schema apply only to a segment created anew: an
	// existing one is taken over whatever its values are (bytes, text,
	// json, a struct), as a tool that publishes into segments it did not
	// make does; Publisher.Schema says what they are.
	AnySchema bool
}

// A Publisher is the single writer of a named segment. It holds the
// segment's writer lock until Close or until its process exits; the OS
// releases the lock even if the process is killed.
//
// A Publisher is not safe for concurrent use: call Publish from one
// goroutine at a time. Removed and Name may be called from any goroutine.
// It must not be copied after first use.
type Publisher struct {
	_       noCopy
	seg     *shmfile.Segment
	w       *Writer
	created bool
	kind    schema.Kind // what Publish checks values against
	foreign []byte      // the foreign waiter area (foreign_linux.go), nil if none

	gate  atomic.Uint32 // gate* bits: what Publish must check; 0 on the fast path
	gone  chan struct{} // closed when gateRemoved is set
	mu    sync.Mutex    // guards watch; Close stops it
	watch *time.Timer   // runs checkRemoved every RemovedCheckInterval until Close
}

// Create opens the named segment for publishing, creating it if it does
// not exist. An existing segment is taken over if its writer is gone, this
// user owns it, its mode grants no more than opts.Mode, and its capacity
// and type match: its last value stays readable, and a write its previous
// writer left unfinished is completed by the first Publish.
//
// It fails with an error wrapping ErrBusy if a live publisher holds the
// segment, ErrNotTrusted if another user owns it or could change it,
// ErrIncompatible if its capacity or type differ, ErrNotSeqshm for a file
// that is not a segment, and shmfile's errors for bad names, full /dev/shm
// and the like.
func Create(name string, opts *Options) (*Publisher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	capacity := o.Capacity
	if o.Schema != nil && o.Schema.Kind() == schema.Struct {
		if capacity != 0 && capacity != o.Schema.Size() {
			return nil, &Error{Op: "create", Name: name, Err: fmt.Errorf("%w: capacity %d for a struct schema of %d bytes", ErrInvalid, capacity, o.Schema.Size())}
		}
		capacity = o.Schema.Size()
	}
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	if capacity < 0 || capacity > MaxCapacity {
		return nil, &Error{Op: "create", Name: name, Err: fmt.Errorf("%w: capacity %d outside [1, %d]", ErrInvalid, o.Capacity, MaxCapacity)}
	}
	size := SizeWith(capacity, o.Schema)
	if size == 0 {
		return nil, &Error{Op: "create", Name: name, Err: fmt.Errorf("%w: schema cannot be encoded", ErrInvalid)}
	}
	seg, created, err := createOrAdopt(name, size, o.Mode)
	if err != nil {
		return nil, withPID(name, err)
	}
	// A new segment (or one whose creator died before writing the header)
	// gets the capacity asked for; an existing one must match it, if given.
	wo := &WriterOptions{Capacity: o.Capacity, NoTimestamp: o.NoTimestamp, Schema: o.Schema, initCapacity: capacity, anySchema: o.AnySchema}
	w, err := faultSafe(func() (*Writer, error) { return NewWriter(seg.Bytes(), wo) })
	if err != nil {
		seg.Close()
		return nil, &Error{Op: "create", Name: name, Err: err}
	}
	if w.waiters != nil && openWaitObjects(w.waiters, name, true) != nil {
		w.waiters = nil // nobody can be woken: waiters poll
	}
	p := &Publisher{seg: seg, w: w, created: created, gone: make(chan struct{}), kind: schema.Bytes}
	if info, err := seg.Stat(); err == nil && w.waiters != nil {
		// Subscribers of other users sleep on a word of their own; without
		// one (no System V IPC here) they poll.
		if area, err := faultSafe(func() ([]byte, error) { return openForeignArea(seg.Bytes(), w.g, info.Mode) }); err == nil && area != nil {
			p.foreign = area
			w.foreign = word32(area, offNotifyWaiter)
		}
	}
	if sc := w.schema; sc != nil {
		p.kind = sc.Kind()
	}
	if p.kind != schema.Bytes {
		p.gate.Or(gateCheck)
	}
	p.mu.Lock()
	p.watch = time.AfterFunc(RemovedCheckInterval, p.checkRemoved)
	p.mu.Unlock()
	return p, nil
}

// createOrAdopt creates the segment, or opens the existing one as its
// writer, and reports which.
func createOrAdopt(name string, size int, mode fs.FileMode) (*shmfile.Segment, bool, error) {
	so := &shmfile.Options{Mode: mode}
	busy := 0
	for i := 0; ; i++ {
		seg, err := shmfile.Create(name, size, so)
		if !errors.Is(err, fs.ErrExist) {
			return seg, err == nil, err
		}
		seg, err = shmfile.OpenWriter(name, headerSize, so)
		switch {
		case i == 500:
		case errors.Is(err, shmfile.ErrBusy) && busy < busyTries:
			// A Remove holds the lock for an instant while it deletes;
			// a publisher holds it for good.
			busy++
			time.Sleep(busyPause)
			continue
		case errors.Is(err, shmfile.ErrTooSmall):
			// Another process is creating it right now: its file is
			// too small until it is sized. Wait for that, up to a
			// second.
			time.Sleep(2 * time.Millisecond)
			continue
		case errors.Is(err, fs.ErrNotExist):
			continue // removed meanwhile: create it
		}
		return seg, false, err
	}
}

// Bits of Publisher.gate, which Publish loads once: all clear, it writes.
const (
	gateClosed  = 1 << iota // Close was called
	gateRemoved             // the segment was removed (checkRemoved)
	gateCheck               // the values are text, json or struct: check each
)

// busyTries and busyPause bound how long Create waits for a writer lock
// that a Remove may be holding before it reports ErrBusy.
const (
	busyTries = 10
	busyPause = 2 * time.Millisecond
)

// withPID completes a busy error with the live publisher's pid from the
// segment's header where the OS did not give it, and says whether that pid
// belongs to another PID namespace.
func withPID(name string, err error) error {
	var be *shmfile.BusyError
	if !errors.As(err, &be) {
		return err
	}
	if s, oerr := Open(name, nil); oerr == nil {
		wi, ferr := faultSafe(func() (writerInfo, error) { return s.r.writer(), nil })
		s.Close()
		if ferr == nil {
			if be.PID == 0 {
				be.PID = wi.pid
			}
			be.ForeignPID = foreignPID(wi.pidNS)
		}
	}
	return err
}

// foreignPID reports whether a writer of PID namespace ns is in another
// namespace than this process (0, unknown, is not foreign).
func foreignPID(ns uint64) bool {
	own := pidNamespace()
	return ns != 0 && own != 0 && ns != own
}

// checkRemoved runs every RemovedCheckInterval until Close.
func (p *Publisher) checkRemoved() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate.Load()&gateClosed != 0 {
		return
	}
	if replaced, err := p.seg.Replaced(); err == nil && replaced {
		p.gate.Or(gateRemoved)
		close(p.gone)
		return
	}
	p.watch.Reset(RemovedCheckInterval)
}

// Created reports whether Create made a new segment (with the capacity and
// mode asked for) rather than taking over an existing one (whose mode it
// kept).
func (p *Publisher) Created() bool { return p.created }

// Name returns the segment's name.
func (p *Publisher) Name() string { return p.seg.Name() }

// Capacity returns the largest value in bytes.
func (p *Publisher) Capacity() int { return p.w.Capacity() }

// Seq returns the write number of the last value published (0 if none).
func (p *Publisher) Seq() uint64 { return p.w.Seq() }

// Removed returns a channel that is closed when the Publisher finds that its
// segment's name no longer refers to it (checked every
// RemovedCheckInterval): someone deleted it, and perhaps created another
// under the same name. Values published afterwards would reach nobody, so
// Publish fails with ErrRemoved. Create again to publish under the name.
func (p *Publisher) Removed() <-chan struct{} { return p.gone }

// Publish makes value the segment's newest value and returns its write
// number. Subscribers see the previous value or this one, never a mix. If
// another program truncated the segment file under the mapping, Publish
// returns an error wrapping ErrTruncated instead of crashing the process;
// once the segment was removed (see Removed), one wrapping ErrRemoved.
func (p *Publisher) Publish(value []byte) (n uint64, err error) {
	if g := p.gate.Load(); g != 0 {
		if err := p.admit(g, value); err != nil {
			return 0, err
		}
	}
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return p.w.Write(value)
}

// check refuses a value that is not what the segment's schema says: text
// that is not UTF-8, json that is not one JSON document, a struct value of
// the wrong size.
func (p *Publisher) check(value []byte) error {
	var why string
	switch p.kind {
	case schema.Text:
		if !utf8.Valid(value) {
			why = "text value is not UTF-8"
		}
	case schema.JSON:
		if !json.Valid(value) {
			why = "json value is not a JSON document"
		}
	case schema.Struct:
		if len(value) != p.w.g.capacity {
			why = fmt.Sprintf("struct value of %d bytes, the schema's size is %d", len(value), p.w.g.capacity)
		}
	}
	if why == "" {
		return nil
	}
	return &Error{Op: "publish", Name: p.Name(), Err: fmt.Errorf("%w: %s", ErrInvalid, why)}
}

// Kind returns the kind of the segment's values.
func (p *Publisher) Kind() schema.Kind { return p.kind }

// Schema returns what the segment's values are: never nil (bytes for a
// segment without a schema).
func (p *Publisher) Schema() *schema.Schema {
	if p.w.schema != nil {
		return p.w.schema
	}
	return bytesSchema
}

// PublishAt is Publish with an explicit publish time; the zero Time means
// none.
func (p *Publisher) PublishAt(value []byte, t time.Time) (n uint64, err error) {
	if g := p.gate.Load(); g != 0 {
		if err := p.admit(g, value); err != nil {
			return 0, err
		}
	}
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return p.w.WriteAt(value, t)
}

// admit says whether Publish may write value, when the gate g is not clear:
// not after Close, not once the segment was removed, and only a value the
// segment's schema allows.
func (p *Publisher) admit(g uint32, value []byte) error {
	switch {
	case g&gateClosed != 0:
		return ErrClosed
	case g&gateRemoved != 0:
		return p.removedError()
	case g&gateCheck != 0:
		return p.check(value)
	}
	return nil
}

func (p *Publisher) removedError() error {
	return &Error{Op: "publish", Name: p.Name(), Err: fmt.Errorf("%w: its name no longer refers to this publisher's segment (deleted by another program?)", ErrRemoved)}
}

// Writer returns the Writer over the segment's mapping, for publishers
// that cannot spare the fault protection of Publish (docs/benchmarks.md
// gives its cost). Its writes are otherwise the same, but if the segment
// file is truncated under the mapping, a write kills the process with
// SIGBUS instead of returning ErrTruncated, and it does not refuse writes
// once the segment was removed. Like the Publisher, it is not safe for
// concurrent use; it is valid until Close.
func (p *Publisher) Writer() *Writer { return p.w }

// Mode returns the permission bits of the segment (on Windows, derived
// from its access control list).
func (p *Publisher) Mode() (fs.FileMode, error) {
	info, err := p.seg.Stat()
	return info.Mode, err
}

// Remove removes the segment's name, if it still refers to this
// Publisher's segment (else the error wraps ErrRemoved). Nobody can open the
// segment afterwards; subscribers that have it open keep reading it. It is
// for a publisher that gives up, such as one whose first value failed; Close
// it afterwards.
func (p *Publisher) Remove() error {
	if p.gate.Load()&gateClosed != 0 {
		return ErrClosed
	}
	return p.seg.Remove()
}

// Close marks the segment as closed cleanly, releases the writer lock and
// unmaps the segment. The segment and its last value remain for
// subscribers (like a retained message) until removed with Remove.
func (p *Publisher) Close() error {
	if p.gate.Or(gateClosed)&gateClosed != 0 {
		return nil // closed before
	}
	p.mu.Lock()
	p.watch.Stop()
	p.mu.Unlock()
	_, err := faultSafe(func() (struct{}, error) { return struct{}{}, p.w.Close() })
	if p.w.waiters != nil {
		closeWaitObjects(p.w.waiters)
	}
	if p.foreign != nil {
		p.w.foreign = nil
		detachArea(p.foreign)
	}
	return errors.Join(err, p.seg.Close())
}
