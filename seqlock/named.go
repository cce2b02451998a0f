package seqlock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seqshm/seqshm/shmfile"
)

// DefaultCapacity is the capacity of a segment created without one.
const DefaultCapacity = 4096

// ErrBusy: a live publisher holds the segment. It is shmfile.ErrBusy, so
// either package's sentinel matches.
var ErrBusy = shmfile.ErrBusy

// Options configure Create.
type Options struct {
	// Capacity is the largest value in bytes; 0 means DefaultCapacity when
	// creating, and "whatever it is" when taking over a segment.
	Capacity int
	// Mode is the permission of a new segment; 0 means 0600 (owner only).
	// Give 0640 or 0644 to let other users subscribe.
	Mode fs.FileMode
	// NoTimestamp turns off publish-time stamps, saving one clock read per
	// Publish; subscribers then see no age for values.
	NoTimestamp bool

	fingerprint uint64 // set by CreateTyped
}

// A Publisher is the single writer of a named segment. It holds the
// segment's writer lock until Close or until its process exits; the OS
// releases the lock even if the process is killed.
//
// A Publisher is not safe for concurrent use: call Publish from one
// goroutine at a time. It must not be copied after first use.
type Publisher struct {
	_       noCopy
	seg     *shmfile.Segment
	w       *Writer
	created bool
	closed  bool
}

// Create opens the named segment for publishing, creating it if it does
// not exist. An existing segment is taken over if its writer is gone and
// its capacity and type match: its last value stays readable, and a write
// its previous writer left unfinished is completed by the first Publish.
//
// It fails with an error wrapping ErrBusy if a live publisher holds the
// segment, ErrIncompatible if the segment's capacity or type differ,
// ErrNotSeqshm for a file that is not a segment, and shmfile's errors for
// bad names, full /dev/shm and the like.
func Create(name string, opts *Options) (*Publisher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	capacity := o.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	if capacity < 0 || capacity > maxCapacity {
		return nil, fmt.Errorf("seqlock: create %q: capacity %d outside [1, %d]", name, o.Capacity, maxCapacity)
	}
	seg, err := shmfile.Create(name, Size(capacity), &shmfile.Options{Mode: o.Mode})
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		// Another process may be creating it right now: its file is too
		// small until it is sized. Wait for that, up to a second.
		for i := 0; ; i++ {
			seg, err = shmfile.OpenWriter(name, headerSize)
			if !errors.Is(err, shmfile.ErrTooSmall) || i == 500 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if errors.Is(err, shmfile.ErrBusy) {
			err = busyError(name, err)
		}
	}
	if err != nil {
		return nil, err
	}
	// A new segment (or one whose creator died before writing the header)
	// gets the capacity asked for; an existing one must match it, if given.
	wo := WriterOptions{Capacity: o.Capacity, Fingerprint: o.fingerprint, Timestamp: !o.NoTimestamp}
	w, err := faultSafe(func() (*Writer, error) {
		if atomic.LoadUint64(word64(seg.Bytes(), offMagic)) == 0 {
			wo.Capacity = capacity
		}
		return NewWriter(seg.Bytes(), wo)
	})
	if err != nil {
		seg.Close()
		return nil, fmt.Errorf("seqlock: take over %q: %w", name, err)
	}
	return &Publisher{seg: seg, w: w, created: created}, nil
}

// Created reports whether Create made a new segment (with the capacity and
// mode asked for) rather than taking over an existing one (whose mode it
// kept).
func (p *Publisher) Created() bool { return p.created }

// busyError names the live publisher, from the header if the OS did not.
func busyError(name string, err error) error {
	if s, serr := Stat(name); serr == nil && s.PID != 0 {
		return fmt.Errorf("seqlock: %q has a live publisher (pid %d): %w", name, s.PID, err)
	}
	return fmt.Errorf("seqlock: %q has a live publisher: %w", name, err)
}

// Name returns the segment's name.
func (p *Publisher) Name() string { return p.seg.Name() }

// Capacity returns the largest value in bytes.
func (p *Publisher) Capacity() int { return p.w.Capacity() }

// Seq returns the write number of the last value published (0 if none).
func (p *Publisher) Seq() uint64 { return p.w.Seq() }

// Publish makes value the segment's newest value and returns its write
// number. Subscribers see the previous value or this one, never a mix. If
// another program truncated the segment file under the mapping, Publish
// returns an error wrapping ErrTruncated instead of crashing the process.
func (p *Publisher) Publish(value []byte) (n uint64, err error) {
	if p.closed {
		return 0, ErrClosed
	}
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return p.w.Write(value)
}

// PublishAt is Publish with an explicit publish time.
func (p *Publisher) PublishAt(value []byte, t time.Time) (n uint64, err error) {
	if p.closed {
		return 0, ErrClosed
	}
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return p.w.WriteAt(value, t.UnixNano())
}

// Writer returns the Writer over the segment's mapping, for publishers
// that cannot spare the fault protection of Publish (about 15–18 ns a call:
// see docs/reliability.md). Its writes are otherwise the same, but if the
// segment file is truncated under the mapping, a write kills the process
// with SIGBUS instead of returning ErrTruncated. Like the Publisher, it is
// not safe for concurrent use; it is valid until Close.
func (p *Publisher) Writer() *Writer { return p.w }

// Close marks the segment as closed cleanly, releases the writer lock and
// unmaps the segment. The segment and its last value remain for
// subscribers (like a retained message) until removed with Remove.
func (p *Publisher) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	_, err := faultSafe(func() (struct{}, error) { return struct{}{}, p.w.Close() })
	return errors.Join(err, p.seg.Close())
}

// A Subscriber reads a named segment. It maps the segment read-only and
// never changes it. Its methods are safe for concurrent use, except Close,
// which must not run concurrently with the others.
type Subscriber struct {
	seg      *shmfile.Segment
	r        *Reader
	waitOnce sync.Once // maps the waiter area, at the first Wait
	closed   bool
}

// Open opens the named segment for reading. A missing segment gives an
// error wrapping fs.ErrNotExist; a segment whose header is not written yet
// gives ErrNotReady (see OpenWait).
func Open(name string) (*Subscriber, error) {
	seg, err := shmfile.OpenReader(name, headerSize)
	if err != nil {
		return nil, err
	}
	r, err := faultSafe(func() (*Reader, error) { return NewReader(seg.Bytes()) })
	if err != nil {
		seg.Close()
		return nil, fmt.Errorf("seqlock: open %q: %w", name, err)
	}
	return &Subscriber{seg: seg, r: r}, nil
}

// OpenWait is Open that waits, until ctx ends, for the segment to exist
// and be initialised. A file that stays too small for a segment for a
// second is another program's, and OpenWait returns Open's error for it.
func OpenWait(ctx context.Context, name string) (*Subscriber, error) {
	d := time.Millisecond
	var tooSmallSince time.Time
	for {
		s, err := Open(name)
		// A segment a publisher is creating can be seen empty (too small)
		// or with a zero header for an instant: wait for it as well.
		tooSmall := errors.Is(err, shmfile.ErrTooSmall)
		switch {
		case !tooSmall:
			tooSmallSince = time.Time{}
		case tooSmallSince.IsZero():
			tooSmallSince = time.Now()
		case time.Since(tooSmallSince) > time.Second:
			return nil, err
		}
		if err == nil || !(tooSmall || errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotReady)) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(d):
		}
		d = min(2*d, 50*time.Millisecond)
	}
}

// Name returns the segment's name.
func (s *Subscriber) Name() string { return s.seg.Name() }

// Capacity returns the largest value in bytes: a buffer this large always
// suffices for Read.
func (s *Subscriber) Capacity() int { return s.r.Capacity() }

// Seq returns the write number of the newest value (0 if none).
func (s *Subscriber) Seq() (n uint64) {
	if s.closed {
		return 0
	}
	// A fault (truncated segment) reads as 0: the next Read says why.
	var err error
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return s.r.Seq()
}

// Read copies the newest value into buf; see Reader.Read. If the segment
// was truncated under the mapping, Read returns an error wrapping
// ErrTruncated instead of crashing the process.
func (s *Subscriber) Read(buf []byte) (m Meta, err error) {
	if s.closed {
		return Meta{}, ErrClosed
	}
	defer recoverFault(debug.SetPanicOnFault(true), &err)
	return s.r.Read(buf)
}

// Reader returns the Reader over the segment's mapping, for hot loops that
// cannot spare the fault protection of Read (about 15–18 ns a call: see
// docs/reliability.md). Its reads are otherwise the same, but if the
// segment file is truncated under the mapping, a read kills the process
// with SIGBUS instead of returning ErrTruncated. It is valid until Close.
func (s *Subscriber) Reader() *Reader { return s.r }

// Wait blocks until a value newer than write number after is published or
// ctx ends, without spinning; see Reader.Wait. A subscriber with write
// permission on the segment sleeps on a futex (Linux); one with read
// permission only polls, with a backoff of up to 5 ms.
//
// To be woken by a cancel, a sleeping Wait registers a hook on ctx
// (context.AfterFunc). The Subscriber keeps that hook between Waits that use
// the same context, as a follow loop's do, until a Wait uses another one or
// Close: registering and removing it for every Wait cost a tenth of a
// wake-up.
func (s *Subscriber) Wait(ctx context.Context, after uint64) (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	// The waiter area is a separate page, mapped writable only here: the
	// values stay on a read-only mapping. The Once orders the mapping
	// before every Wait's use of it.
	s.waitOnce.Do(func() {
		if s.r.g.notify == 0 {
			return
		}
		if area, err := s.seg.MapWritableRange(s.r.g.notify, notifySize); err == nil {
			s.r.setWaiters(area)
			s.r.hook = new(waitHook)
		}
	})
	return faultSafe(func() (uint64, error) { return s.r.Wait(ctx, after) })
}

// Status reports the segment's facts: the writer's state, the newest value's
// write number and publish time, the capacity and the file's mode and size.
func (s *Subscriber) Status() (Status, error) {
	if s.closed {
		return Status{Name: s.Name()}, ErrClosed
	}
	st := Status{Name: s.Name(), Capacity: s.r.g.capacity, Fingerprint: s.r.g.fingerprint}
	if info, err := s.seg.Info(); err == nil {
		st.Mode, st.Size = info.Mode, info.Size
	}
	_, err := faultSafe(func() (struct{}, error) {
		h := s.r.region
		st.Created = unixTime(atomic.LoadUint64(word64(h, offCreated)))
		st.WriterStarted = unixTime(atomic.LoadUint64(word64(h, offWriterStart)))
		st.PID = int(atomic.LoadUint64(word64(h, offWriterPID)))
		state := atomic.LoadUint64(word64(h, offWriterState))
		m, err := s.r.Read(nil)
		switch {
		case err == nil, errors.Is(err, ErrShortBuffer):
			st.Seq, st.Len, st.Published = m.Seq, m.Len, m.Time()
		case errors.Is(err, ErrNoValue):
		default:
			return struct{}{}, err
		}
		alive, pid, err := s.seg.WriterAlive()
		if err != nil {
			return struct{}{}, err
		}
		switch {
		case alive:
			st.Writer = WriterAlive
			if pid != 0 {
				st.PID = pid
			}
		case state == stateClosed:
			st.Writer = WriterClosed
		case state == stateInit && st.Seq == 0 && st.PID == 0:
			st.Writer = WriterNone
		default:
			st.Writer = WriterDied
		}
		return struct{}{}, nil
	})
	return st, err
}

// Replaced reports whether the segment was removed, or removed and created
// anew, since Open: this Subscriber still reads the old object, which no
// publisher will write again. Reopen to follow the new one. Always false on
// Windows.
func (s *Subscriber) Replaced() (bool, error) { return s.seg.Replaced() }

// Close unmaps the segment. Values read before stay valid; the Subscriber
// must not be used afterwards.
func (s *Subscriber) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.r.hook.close()
	return s.seg.Close()
}

func unixTime(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// WriterState is what a subscriber can tell about a segment's publisher.
type WriterState int

const (
	// WriterNone: no publisher has opened the segment yet.
	WriterNone WriterState = iota
	// WriterAlive: a publisher holds the segment now.
	WriterAlive
	// WriterClosed: the last publisher closed it cleanly.
	WriterClosed
	// WriterDied: the last publisher's process ended without closing it
	// (killed, crashed). The last complete value is intact.
	WriterDied
)

func (w WriterState) String() string {
	switch w {
	case WriterNone:
		return "none"
	case WriterAlive:
		return "alive"
	case WriterClosed:
		return "closed"
	case WriterDied:
		return "died"
	}
	return fmt.Sprintf("WriterState(%d)", int(w))
}

// Status describes a segment at one instant.
type Status struct {
	Name          string
	Capacity      int         // largest value, bytes
	Fingerprint   uint64      // type fingerprint, 0 for raw bytes
	Seq           uint64      // write number of the newest value, 0 if none
	Len           int         // length of the newest value
	Published     time.Time   // publish time of the newest value; zero if none or unstamped
	Created       time.Time   // creation time of the segment
	Writer        WriterState // the publisher's state
	PID           int         // the (last) publisher's process id; 0 if none
	WriterStarted time.Time   // when that publisher opened the segment
	Mode          fs.FileMode // permission bits of the segment file
	Size          int64       // bytes of the segment file
}

// Stat returns the Status of the named segment.
func Stat(name string) (Status, error) {
	s, err := Open(name)
	if err != nil {
		return Status{Name: name}, err
	}
	defer s.Close()
	return s.Status()
}

// List returns the Status of every segment in the segment directory,
// sorted by name. Files that are not seqshm segments (other programs' use
// of /dev/shm) are skipped; segments that cannot be read are listed with
// their error in Err.
func List() ([]ListEntry, error) {
	infos, err := shmfile.List()
	if err != nil {
		return nil, err
	}
	var out []ListEntry
	for _, info := range infos {
		st, err := Stat(info.Name)
		if errors.Is(err, ErrNotSeqshm) || errors.Is(err, shmfile.ErrTooSmall) ||
			errors.Is(err, shmfile.ErrNotSegment) || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			st.Mode, st.Size = info.Mode, info.Size
		}
		out = append(out, ListEntry{Status: st, Err: err})
	}
	return out, nil
}

// A ListEntry is one segment found by List.
type ListEntry struct {
	Status
	Err error // why the segment could not be read, if it could not
}

// Remove deletes the named segment. Subscribers that have it open keep
// their mapping. It holds the segment's writer lock while it checks and
// deletes, so it refuses (ErrBusy) while a publisher is alive and no
// publisher can start meanwhile. It refuses files that are not seqshm
// segments (ErrNotSeqshm), so that it cannot delete another program's
// shared memory by mistake; a segment that is damaged, or whose creator
// died before writing its header, can be removed.
func Remove(name string) error {
	seg, err := shmfile.OpenWriter(name, 0)
	if errors.Is(err, shmfile.ErrBusy) {
		if st, serr := Stat(name); serr == nil && st.PID != 0 {
			return fmt.Errorf("seqlock: remove %q: publisher (pid %d) still running: %w", name, st.PID, err)
		}
		return fmt.Errorf("seqlock: remove %q: a publisher is still running: %w", name, err)
	}
	if err != nil {
		return err
	}
	defer seg.Close()
	_, err = faultSafe(func() (struct{}, error) { return struct{}{}, removable(seg.Bytes()) })
	if err != nil {
		return fmt.Errorf("seqlock: remove %q: %w", name, err)
	}
	return shmfile.Remove(name)
}

// removable says whether b looks like a seqshm segment, possibly damaged
// or half-made, rather than another program's file.
func removable(b []byte) error {
	if len(b) < headerSize {
		if !allZero(b) {
			return fmt.Errorf("%w: %d bytes, not all zero", ErrNotSeqshm, len(b))
		}
		return nil // a creator died before sizing or writing it
	}
	_, err := decodeHeader(b)
	switch {
	case err == nil, errors.Is(err, ErrNotReady), errors.Is(err, ErrCorrupt), errors.Is(err, ErrVersion):
		return nil
	}
	return err
}
