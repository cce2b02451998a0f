package seqlock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/shmfile"
)

// DefaultMaxValue is the largest value Subscriber.ReadValue allocates for
// unless OpenOptions.MaxValue says otherwise: 64 MiB. A segment's header
// can claim any capacity up to 1 TiB; a reader that trusted it would run
// out of memory on a hostile or damaged segment.
const DefaultMaxValue = 64 << 20

// OpenOptions configure Open, OpenWait and OpenTyped. A nil *OpenOptions
// means the defaults.
type OpenOptions struct {
	// Owner, if set, is the user (a name or a numeric uid) that must own
	// the segment: a segment of anyone else is refused with ErrNotTrusted.
	// Without it, a subscriber trusts whoever could create the segment
	// under its name in the segment directory.
	Owner string
	// MaxValue bounds what ReadValue allocates for one value; 0 means
	// DefaultMaxValue.
	MaxValue int
}

// A Subscriber reads a named segment. It maps the segment read-only and
// never changes it. Its methods are safe for concurrent use, except Close,
// which must not run concurrently with the others.
type Subscriber struct {
	seg      *shmfile.Segment
	r        *Reader
	maxValue int
	waitOnce sync.Once // maps the waiter area, at the first Wait
	foreign  []byte    // the foreign waiter area, when Wait sleeps on it
	closed   bool

	lastCheck atomic.Int64 // when checkRemoved last looked, Unix ns
}

// Open opens the named segment for reading. A missing segment gives an
// error wrapping fs.ErrNotExist; a segment whose header is not written yet
// gives ErrNotReady (see OpenWait); one that opts.Owner does not own,
// ErrNotTrusted.
func Open(name string, opts *OpenOptions) (*Subscriber, error) {
	var o OpenOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxValue < 0 {
		return nil, &Error{Op: "open", Name: name, Err: fmt.Errorf("%w: MaxValue %d is negative", ErrInvalid, o.MaxValue)}
	}
	if o.MaxValue == 0 {
		o.MaxValue = DefaultMaxValue
	}
	var uid int
	if o.Owner != "" {
		var err error
		if uid, err = lookupUID(o.Owner); err != nil {
			return nil, &Error{Op: "open", Name: name, Err: err}
		}
	}
	seg, err := shmfile.OpenReader(name, headerSize)
	if err != nil {
		return nil, err
	}
	if o.Owner != "" {
		info, err := seg.Stat()
		if err == nil && info.UID != uid {
			err = &shmfile.TrustError{Path: name, UID: info.UID, Mode: info.Mode,
				Why: fmt.Sprintf("segment belongs to uid %d, not to %s (uid %d)", info.UID, o.Owner, uid)}
		}
		if err != nil {
			seg.Close()
			return nil, opError("open", name, err)
		}
	}
	r, err := faultSafe(func() (*Reader, error) { return NewReader(seg.Bytes()) })
	if err != nil {
		seg.Close()
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	return &Subscriber{seg: seg, r: r, maxValue: o.MaxValue}, nil
}

// lookupUID resolves a user name or a numeric uid.
func lookupUID(owner string) (int, error) {
	if uid, err := strconv.Atoi(owner); err == nil && uid >= 0 {
		return uid, nil
	}
	u, err := user.Lookup(owner)
	if err != nil {
		return 0, fmt.Errorf("%w: owner %q: %w", ErrInvalid, owner, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, fmt.Errorf("%w: owner %q has uid %q, not a number (%w)", ErrInvalid, owner, u.Uid, errors.ErrUnsupported)
	}
	return uid, nil
}

// OpenWait is Open that waits, until ctx ends, for the segment to exist
// and be initialised. A file that stays too small for a segment for a
// second is another program's, and OpenWait returns Open's error for it.
func OpenWait(ctx context.Context, name string, opts *OpenOptions) (*Subscriber, error) {
	d := time.Millisecond
	var tooSmallSince time.Time
	for {
		s, err := Open(name, opts)
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

// Schema returns what the segment's values are, as its publisher recorded
// it: never nil (a segment without a schema holds bytes).
func (s *Subscriber) Schema() *schema.Schema {
	if sc := s.r.Schema(); sc != nil {
		return sc
	}
	return bytesSchema
}

// bytesSchema describes values without a schema.
var bytesSchema, _ = schema.ForKind(schema.Bytes)

// Capacity returns the largest value the segment can hold, in bytes, as its
// header claims: up to 1 TiB. Size buffers from the values (ReadValue), not
// from the capacity.
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

// ReadValue reads the newest value into buf, growing it as the value
// needs, and returns the value (buf[:m.Len], or a new slice). It refuses
// with ErrLimit a value larger than the Subscriber's MaxValue (see
// OpenOptions) rather than allocate for it.
func (s *Subscriber) ReadValue(buf []byte) ([]byte, Meta, error) {
	for {
		m, err := s.Read(buf[:cap(buf)])
		switch {
		case err == nil:
			return buf[:m.Len], m, nil
		case !errors.Is(err, ErrShortBuffer):
			return buf[:0], m, err
		case m.Len > s.maxValue:
			return buf[:0], m, &Error{Op: "read", Name: s.Name(),
				Err: fmt.Errorf("%w: value of %d bytes, the limit is %d", ErrLimit, m.Len, s.maxValue)}
		}
		// The value may grow again before the next Read: leave room.
		buf = make([]byte, 0, min(m.Len+m.Len/4, s.maxValue))
	}
}

// Reader returns the Reader over the segment's mapping, for hot loops that
// cannot spare the fault protection of Read (docs/benchmarks.md gives its
// cost). Its reads are otherwise the same, but if the segment file is
// truncated under the mapping, a read kills the process with SIGBUS
// instead of returning ErrTruncated. It is valid until Close.
func (s *Subscriber) Reader() *Reader { return s.r }

// Wait blocks until a value newer than write number after is published or
// ctx ends, without spinning; see Reader.Wait. A subscriber with write
// permission on the segment sleeps on the waiter word in its waiter area (a
// futex on Linux; on Windows the named event of the word's wake epoch). One
// with read permission only sleeps on a futex in the publisher's foreign
// waiter area, a page of System V shared memory it may write, and polls
// (with a backoff of up to 5 ms) where there is none: elsewhere than Linux,
// in another IPC namespace, or with a publisher that predates it. On macOS
// every subscriber polls. If the segment is removed or replaced while Wait
// waits, Wait returns an error wrapping ErrRemoved within about
// RemovedCheckInterval of its last publish: reopen it to follow the new one.
//
// To be woken by a cancel, a sleeping Wait registers a hook on ctx
// (context.AfterFunc). The Subscriber keeps that hook between Waits that use
// the same context, as a follow loop's do, until a Wait uses another one or
// Close.
func (s *Subscriber) Wait(ctx context.Context, after uint64) (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	// The waiter area is a separate page, mapped writable only here: the
	// values stay on a read-only mapping. The Once orders the mapping
	// before every Wait's use of it.
	s.waitOnce.Do(func() {
		off, n := s.r.waiterArea()
		if n == 0 {
			return
		}
		area, err := s.seg.MapWritableRange(off, n)
		if errors.Is(err, fs.ErrPermission) {
			// A subscriber of another user: the publisher's foreign
			// waiter area, if it made one.
			if info, serr := s.seg.Stat(); serr == nil {
				area, err = faultSafe(func() ([]byte, error) { return s.r.foreignArea(info.UID) })
				if err == nil {
					s.foreign = area
				}
			}
		}
		if err == nil {
			s.r.sleepOn(area, s.Name())
		}
	})
	return faultSafe(func() (uint64, error) { return s.r.wait(ctx, after, s.checkRemoved) })
}

// checkRemoved returns an error wrapping ErrRemoved if the segment's name
// no longer refers to it. It looks at most once per RemovedCheckInterval
// (two system calls), however many Waits time out meanwhile.
func (s *Subscriber) checkRemoved() error {
	now := time.Now().UnixNano()
	if last := s.lastCheck.Load(); now-last < int64(RemovedCheckInterval) || !s.lastCheck.CompareAndSwap(last, now) {
		return nil
	}
	if replaced, err := s.seg.Replaced(); err == nil && replaced {
		return &Error{Op: "wait", Name: s.Name(), Err: fmt.Errorf("%w: its name no longer refers to the segment this subscriber reads", ErrRemoved)}
	}
	return nil
}

// Replaced reports whether the segment was removed, or removed and created
// anew, since Open: this Subscriber still reads the old object, which no
// publisher will write again. Reopen to follow the new one. On Windows the
// name is compared by file identity (volume serial number and file index);
// a segment opened by its mapping name alone is never Replaced.
func (s *Subscriber) Replaced() (bool, error) { return s.seg.Replaced() }

// Close unmaps the segment. Values read before stay valid; the Subscriber
// must not be used afterwards.
func (s *Subscriber) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.r.stopSleeping()
	if s.foreign != nil {
		detachArea(s.foreign)
	}
	return s.seg.Close()
}
