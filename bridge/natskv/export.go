package natskv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// Defaults of ExportOptions.
const (
	DefaultStale   = 10 * time.Second
	DefaultTimeout = 2 * time.Second
)

// ExportOptions configure Export. The zero value uses the defaults.
type ExportOptions struct {
	// Bucket is the key-value bucket; "" means DefaultBucket. It is
	// created (history 1, file storage) if it does not exist.
	Bucket string
	// Key is the key to write; "" means the segment's name.
	Key string
	// Stale is how long a key must go unwritten before another exporter
	// may take it over; 0 means DefaultStale. Every exporter of a key
	// should use the same value.
	Stale time.Duration
	// Heartbeat is how often an idle exporter rewrites its last value to
	// show it is alive; 0 means Stale/3. It must be below Stale.
	Heartbeat time.Duration
	// Takeover claims the key at once, even from a live exporter (which
	// then stops with ErrOwned). For an operator who knows the previous
	// exporter is gone.
	Takeover bool
	// Timeout bounds one request to the server; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logf, if not nil, receives progress and transient failures, one
	// line each.
	Logf func(format string, args ...any)
}

// target applies the defaults that export and import share (bucket
// DefaultBucket, key the segment's name, a silent Logf) and checks the
// bucket and key names.
func target(bucket, key, segment string, logf func(string, ...any)) (string, string, func(string, ...any), error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	if key == "" {
		key = segment
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := CheckBucket(bucket); err != nil {
		return bucket, key, logf, err
	}
	return bucket, key, logf, CheckKey(key)
}

// nextBackoff is the wait before the next retry after d: doubling, from
// 50 ms up to 2 s.
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, 50*time.Millisecond), 2*time.Second)
}

func (o *ExportOptions) withDefaults(segment string) (ExportOptions, error) {
	var r ExportOptions
	if o != nil {
		r = *o
	}
	var err error
	if r.Bucket, r.Key, r.Logf, err = target(r.Bucket, r.Key, segment, r.Logf); err != nil {
		return r, err
	}
	if r.Stale <= 0 {
		r.Stale = DefaultStale
	}
	if r.Heartbeat <= 0 {
		r.Heartbeat = r.Stale / 3
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Heartbeat >= r.Stale {
		return r, fmt.Errorf("natskv: heartbeat %v must be below stale %v", r.Heartbeat, r.Stale)
	}
	return r, nil
}

// Export mirrors the named local segment into a key of a key-value bucket
// until ctx ends (then it returns nil) or it fails.
//
// Values coalesce: the segment itself holds the latest value, a 1-slot
// mailbox tells the sender that there is a newer one, and the sender, when
// its previous write is acknowledged, sends whatever is newest then. At
// most one write is in flight; a burst of local values never builds a
// backlog, and the local side never waits for the network.
//
// Export owns the key through compare-and-set on the key's revision (see
// the package documentation, "Ownership"). It returns an *OwnedError
// (wrapping ErrOwned) if another exporter owns the key, at start or later.
//
// Connection losses are survived (the connection reconnects by itself,
// see Connect); after a reconnect the latest value is sent again.
// If the segment does not exist yet, Export waits for it.
func Export(ctx context.Context, nc *nats.Conn, segment string, opts *ExportOptions) error {
	o, err := opts.withDefaults(segment)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natskv: %w", err)
	}
	kv, err := openBucket(ctx, js, o.Bucket)
	if err != nil {
		return err
	}
	sub, err := openSegment(ctx, segment, o.Logf)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	e := &exporter{
		o:     o,
		nc:    nc,
		kv:    kv,
		sub:   sub,
		owner: newOwner(),
		buf:   make([]byte, HeaderSize),
	}
	defer func() { e.sub.Close() }() // the segment may be reopened
	// Register for reconnects before the first request, so none is missed.
	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	err = e.run(ctx, status)
	if ctx.Err() != nil && !errors.Is(err, ErrOwned) {
		return nil
	}
	return err
}

// newOwner returns a random, non-zero exporter id.
func newOwner() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

type exporter struct {
	o     ExportOptions
	nc    *nats.Conn
	kv    jetstream.KeyValue
	sub   *seqlock.Subscriber
	owner uint64
	buf   []byte // the send buffer: header, then the value read in place

	rev     uint64 // revision of our last write; 0 before the claim
	sentSeq uint64 // local seq of the value at rev
}

func (e *exporter) run(ctx context.Context, status <-chan nats.Status) error {
	if err := e.claim(ctx); err != nil {
		return err
	}
	e.o.Logf("exporting segment %q to key %q of bucket %q (owner %016x)", e.sub.Name(), e.o.Key, e.o.Bucket, e.owner)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	newer := make(chan struct{}, 1)
	waitErr := make(chan error, 1)
	stopWait := e.watchLocal(ctx, newer, waitErr)
	defer func() { stopWait() }()

	heartbeat := time.NewTimer(e.o.Heartbeat)
	defer heartbeat.Stop()
	var (
		retry   <-chan time.Time // non-nil while the last write failed
		backoff time.Duration
		failing bool
	)
	for {
		force := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-waitErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("natskv: wait on segment %q: %w", e.sub.Name(), err)
		case <-newer:
		case <-status:
			force = true // the server may have lost the key; resend
		case <-heartbeat.C:
			force = true
			if sub := e.replacement(); sub != nil {
				// The Wait loop uses the old mapping: stop it first.
				stopWait()
				e.follow(sub)
				stopWait = e.watchLocal(ctx, newer, waitErr)
			}
		case <-retry:
			force = true
		}
		err := e.send(ctx, force)
		switch {
		case err == nil:
			if failing {
				e.o.Logf("writing key %q again (seq %d, revision %d)", e.o.Key, e.sentSeq, e.rev)
			}
			failing, retry, backoff = false, nil, 0
			heartbeat.Reset(e.o.Heartbeat)
		case errors.Is(err, ErrOwned), ctx.Err() != nil:
			return err
		case errors.Is(err, seqlock.ErrTruncated), errors.Is(err, seqlock.ErrCorrupt):
			return err
		default:
			// Network or server trouble: retry the newest value after a
			// backoff or as soon as the connection is back.
			if !failing {
				e.o.Logf("cannot write key %q: %v; retrying", e.o.Key, err)
			}
			failing = true
			backoff = nextBackoff(backoff)
			retry = time.After(backoff)
		}
	}
}

// watchLocal starts the Wait loop on the segment: the local side. It only
// ever does a non-blocking send on the 1-slot mailbox newer, so it never
// waits for the network. stop ends it and waits until it has.
func (e *exporter) watchLocal(ctx context.Context, newer chan<- struct{}, waitErr chan<- error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	sub, after := e.sub, e.sentSeq
	go func() {
		defer close(done)
		for {
			seq, err := sub.Wait(ctx, after)
			if errors.Is(err, seqlock.ErrRemoved) {
				return // the heartbeat follows the new segment once there is one
			}
			if err != nil {
				if ctx.Err() == nil {
					waitErr <- err
				}
				return
			}
			after = seq
			select {
			case newer <- struct{}{}:
			default: // already signalled: the sender will read the newest
			}
		}
	}()
	return func() { cancel(); <-done }
}

// replacement checks, at each heartbeat, whether the segment was removed
// and created anew (publisher -rm, then a new publisher), and if so
// returns the new one, to be followed once the Wait loop has stopped. A
// segment removed but not yet created again gives nil: keep the old one.
func (e *exporter) replacement() *seqlock.Subscriber {
	if replaced, err := e.sub.Replaced(); err != nil || !replaced {
		return nil
	}
	sub, err := seqlock.Open(e.sub.Name(), nil)
	if err != nil {
		return nil
	}
	return sub
}

// follow switches to sub, a replacement of the segment. The Wait loop must
// not be running.
func (e *exporter) follow(sub *seqlock.Subscriber) {
	e.o.Logf("segment %q was replaced; following the new one", sub.Name())
	e.sub.Close()
	e.sub = sub
	e.sentSeq = 0 // write numbers start again
}

// read reads the segment's newest value into the send buffer, behind room
// for the header, growing the buffer as the value needs (up to the
// subscriber's limit, seqlock.DefaultMaxValue: a header may claim any
// capacity).
func (e *exporter) read() (seqlock.Meta, error) {
	for {
		value, m, err := e.sub.ReadValue(e.buf[HeaderSize:HeaderSize])
		switch {
		case errors.Is(err, seqlock.ErrNoValue):
			return seqlock.Meta{}, nil // seq 0: a claim without a value
		case errors.Is(err, seqlock.ErrLapped):
			continue
		case err == nil && cap(value) != cap(e.buf)-HeaderSize:
			// ReadValue grew the buffer: move to one with room for the
			// header, and read again.
			e.buf = make([]byte, HeaderSize+cap(value))
			continue
		}
		return m, err
	}
}

// send writes the newest value unless it was written already (force:
// write it anyway).
func (e *exporter) send(ctx context.Context, force bool) error {
	m, err := e.read()
	if err != nil {
		return err
	}
	if m.Seq == e.sentSeq && !force {
		return nil
	}
	putHeader(e.buf, e.owner, m.Seq, m.UnixNano)
	val := e.buf[:HeaderSize+m.Len]
	rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	rev, err := e.kv.Update(rctx, e.o.Key, val, e.rev)
	switch {
	case err == nil:
		e.rev, e.sentSeq = rev, m.Seq
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return e.resolve(rctx, m.Seq, val)
	}
	return err
}

// resolve handles a failed compare-and-set: the key's revision is not the
// one we wrote last. It is still ours if our own write went through but its
// acknowledgement was lost (a reconnect); it is free again if it was
// deleted or the server lost it; otherwise another exporter wrote it.
func (e *exporter) resolve(ctx context.Context, seq uint64, val []byte) error {
	ent, err := e.kv.Get(ctx, e.o.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		rev, err := e.kv.Create(ctx, e.o.Key, val)
		if err != nil {
			return err // ErrKeyExists: raced; the next attempt resolves again
		}
		e.o.Logf("key %q was deleted or lost by the server; written again", e.o.Key)
		e.rev, e.sentSeq = rev, seq
		return nil
	}
	if err != nil {
		return err
	}
	env, derr := Decode(ent.Value())
	if derr == nil && env.Owner == e.owner {
		// Our own earlier write: adopt its revision; if it carried an
		// older value, the caller's next attempt sends the newest.
		e.rev, e.sentSeq = ent.Revision(), env.Seq
		if env.Seq == seq {
			return nil
		}
		rev, err := e.kv.Update(ctx, e.o.Key, val, e.rev)
		if err != nil {
			return err // a mismatch again is resolved on the next attempt
		}
		e.rev, e.sentSeq = rev, seq
		return nil
	}
	return e.owned(ent, env.Owner)
}

func (e *exporter) owned(ent jetstream.KeyValueEntry, owner uint64) error {
	return &OwnedError{Bucket: e.o.Bucket, Key: e.o.Key, Owner: owner, Age: max(time.Since(ent.Created()), 0)}
}

// claim makes the key ours, writing the segment's newest value:
//   - a key that does not exist (or was deleted) is created;
//   - a key another exporter wrote is taken over, by compare-and-set on
//     the revision seen, once it has gone unwritten for Stale (judged by
//     the server's timestamp of the last write, and by watching it for at
//     most Stale, whichever comes first), or at once with Takeover;
//   - if it is written again meanwhile, its owner is alive: ErrOwned.
func (e *exporter) claim(ctx context.Context) error {
	var (
		seenRev  uint64
		seenAt   time.Time
		poll     = min(max(e.o.Heartbeat/4, 10*time.Millisecond), time.Second)
		reported bool
	)
	for {
		m, err := e.read()
		if err != nil {
			return err
		}
		putHeader(e.buf, e.owner, m.Seq, m.UnixNano)
		val := e.buf[:HeaderSize+m.Len]

		rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
		ent, err := e.kv.Get(rctx, e.o.Key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			rev, err := e.kv.Create(rctx, e.o.Key, val)
			cancel()
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another exporter created it first; look again
			}
			if err != nil {
				return fmt.Errorf("natskv: create key %q: %w", e.o.Key, err)
			}
			e.rev, e.sentSeq = rev, m.Seq
			return nil
		case err != nil:
			cancel()
			return fmt.Errorf("natskv: get key %q: %w", e.o.Key, err)
		}
		env, _ := Decode(ent.Value())
		now := time.Now()
		switch {
		case seenRev == 0:
			seenRev, seenAt = ent.Revision(), now
		case ent.Revision() != seenRev:
			cancel()
			return e.owned(ent, env.Owner) // written meanwhile: alive
		}
		idle := max(now.Sub(ent.Created()), now.Sub(seenAt))
		if e.o.Takeover || idle >= e.o.Stale {
			rev, err := e.kv.Update(rctx, e.o.Key, val, ent.Revision())
			cancel()
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				if e.o.Takeover {
					seenRev = 0
					continue
				}
				return e.owned(ent, env.Owner) // someone else won
			}
			if err != nil {
				return fmt.Errorf("natskv: take over key %q: %w", e.o.Key, err)
			}
			e.o.Logf("took over key %q (previous owner %016x, last write %v ago)", e.o.Key, env.Owner, idle.Round(time.Millisecond))
			e.rev, e.sentSeq = rev, m.Seq
			return nil
		}
		cancel()
		if !reported {
			e.o.Logf("key %q was written %v ago by owner %016x; waiting up to %v to see if it is still alive",
				e.o.Key, idle.Round(time.Millisecond), env.Owner, (e.o.Stale - idle).Round(time.Millisecond))
			reported = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(poll, e.o.Stale-idle)):
		}
	}
}

// openSegment is seqlock.OpenWait, saying once that it waits.
func openSegment(ctx context.Context, name string, logf func(string, ...any)) (*seqlock.Subscriber, error) {
	s, err := seqlock.Open(name, nil)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, seqlock.ErrNotReady) || errors.Is(err, shmfile.ErrTooSmall) {
		logf("waiting for segment %q to be created", name)
		s, err = seqlock.OpenWait(ctx, name, nil)
	}
	return s, err
}
