package natskv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"
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
	// DefaultMaxRate is the default cap on writes per second per key.
	DefaultMaxRate = 20
)

// bucketFailures is how many writes in a row may fail, while connected,
// before the exporter checks whether the bucket itself is gone.
const bucketFailures = 3

// ExportOptions configure Export and ExportGlob. The zero value uses the
// defaults.
type ExportOptions struct {
	// Bucket is the key-value bucket; "" means DefaultBucket. It is
	// created (history 1, file storage) if it does not exist, and again
	// if it disappears.
	Bucket string
	// Key is the key to write (Export only); "" means the segment's
	// name, mapped by SegmentKey.
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
	// MaxRate caps the writes per second to each key; 0 means
	// DefaultMaxRate, a negative value no cap. Values coalesce: the
	// newest value is written at the end of each interval, never dropped.
	MaxRate float64
	// WaitPerSegment (ExportGlob only) detects changes with a goroutine
	// blocked in Subscriber.Wait per segment, as Export does, instead of
	// one poller for all segments at the rate cap: lower latency, more
	// CPU with many segments (docs/bridge.md, "Change detection").
	WaitPerSegment bool
	// Spin, if positive, makes the Wait loop keep looking at the segment
	// for up to Spin after each value before it sleeps in Wait: a value
	// published within Spin of the previous one is sent without the
	// cross-process wake-up (15-35 µs on a VM; docs/bridge.md, "Latency").
	// It costs up to Spin of CPU per value: a source publishing more often
	// than every Spin keeps a core busy. With ExportGlob it implies
	// WaitPerSegment. 0 (the default) sleeps at once.
	Spin time.Duration
	// Format is the envelope written; the zero value is FormatJSON.
	Format Format
	// Stats, if not nil, counts the exports.
	Stats *Stats
	// Logf, if not nil, receives progress and transient failures, one
	// line each.
	Logf func(format string, args ...any)
}

// nextBackoff is the wait before the next retry after d: doubling, from
// 50 ms up to 2 s.
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, 50*time.Millisecond), 2*time.Second)
}

func (o *ExportOptions) withDefaults() (ExportOptions, error) {
	var r ExportOptions
	if o != nil {
		r = *o
	}
	if err := commonDefaults(&r.Bucket, &r.Logf); err != nil {
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
	if r.MaxRate == 0 {
		r.MaxRate = DefaultMaxRate
	}
	if r.Key != "" {
		if err := CheckKey(r.Key); err != nil {
			return r, err
		}
	}
	if r.Heartbeat >= r.Stale {
		return r, &Error{Op: "export", Err: fmt.Errorf("heartbeat %v must be below stale %v", r.Heartbeat, r.Stale)}
	}
	return r, nil
}

// interval is the least time between two writes to a key.
func (o *ExportOptions) interval() time.Duration {
	if o.MaxRate < 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / o.MaxRate)
}

// Export mirrors the named local segment into a key of a key-value bucket
// until ctx ends (then it releases the key and returns nil) or it fails.
//
// Values coalesce: the segment itself holds the latest value, a 1-slot
// mailbox tells the sender that there is a newer one, and the sender, when
// its previous write is acknowledged and the rate cap allows, sends
// whatever is newest then. At most one write is in flight; a burst of
// local values never builds a backlog, and the local side never waits for
// the network.
//
// Export owns the key through compare-and-set on the key's revision (see
// the package documentation, "Ownership"). It returns an *OwnedError
// (wrapping ErrOwned) if another exporter owns the key, at start or later.
//
// Connection losses are survived (the connection reconnects by itself,
// see Connect); after a reconnect the latest value is sent again. A bucket
// that disappears is created again. If the segment does not exist yet,
// Export waits for it.
func Export(ctx context.Context, nc *nats.Conn, segment string, opts *ExportOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := shmfile.CheckName(segment); err != nil {
		return err
	}
	if o.Key == "" {
		o.Key = SegmentKey(segment)
	}
	b, err := newBucketRef(ctx, nc, "export", o.Bucket, o.Logf)
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
	err = exportSegment(ctx, nc, b, sub, o, nil)
	if ctx.Err() != nil && !errors.Is(err, ErrOwned) {
		return nil
	}
	return err
}

// exportSegment exports sub (which it closes) under o.Key until ctx ends
// or it fails.
func exportSegment(ctx context.Context, nc *nats.Conn, b *bucketRef, sub *seqlock.Subscriber, o ExportOptions, pl *poller) error {
	e := &exporter{
		poller:   pl,
		o:        o,
		nc:       nc,
		b:        b,
		sub:      sub,
		owner:    newOwner(),
		interval: o.interval(),
	}
	defer func() { e.sub.Close() }() // the segment may be reopened
	o.Stats.count(func(s *Stats) { s.Exporting.Add(1) })
	defer o.Stats.count(func(s *Stats) { s.Exporting.Add(-1) })
	// Register for reconnects before the first request, so none is missed.
	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	err := e.run(ctx, status)
	if ctx.Err() != nil && e.rev != 0 && !errors.Is(err, ErrOwned) {
		e.release()
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

// An exporter is one segment's export. Its state below mu is shared by
// the sender loop (run) and the Wait loop (watchLocal), which sends a new
// value itself when it can, saving a hand-off between goroutines on the
// latency path; either holds mu while it sends.
type exporter struct {
	o        ExportOptions
	nc       *nats.Conn
	b        *bucketRef
	sub      *seqlock.Subscriber
	owner    uint64
	interval time.Duration // least time between writes; 0: no cap
	poller   *poller       // if not nil, detects changes instead of a Wait loop

	mu      sync.Mutex
	failing bool   // the last write failed: the sender loop retries
	val     []byte // the value read last
	out     []byte // the envelope being sent

	kv        jetstream.KeyValue // the bucket, as of generation gen
	gen       uint64
	rev       uint64    // revision of our last write; 0 before the claim
	sentSeq   uint64    // local seq of the value at rev
	lastWrite time.Time // when the last write was sent
}

func (e *exporter) run(ctx context.Context, status <-chan nats.Status) error {
	e.kv, e.gen = e.b.get()
	if err := e.claim(ctx); err != nil {
		return err
	}
	e.o.Logf("exporting segment %q to key %q of bucket %q (owner %016x)", e.sub.Name(), e.o.Key, e.o.Bucket, e.owner)
	e.checkFormat()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	newer := make(chan struct{}, 1)
	waitErr := make(chan error, 1)
	stopWait := e.watchLocal(ctx, newer, waitErr)
	defer func() { stopWait() }()

	heartbeat := time.NewTimer(e.o.Heartbeat)
	defer heartbeat.Stop()
	var (
		retry    <-chan time.Time // non-nil while the last write failed
		backoff  time.Duration
		fails    int              // writes failed in a row, while connected
		reported bool             // the failure was logged
		capTimer *time.Timer      // armed while a value waits for the rate cap
		capped   <-chan time.Time // its channel, nil when unarmed
	)
	defer func() {
		if capTimer != nil {
			capTimer.Stop()
		}
	}()
	for {
		force := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-waitErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &Error{Op: "export", Key: e.o.Key, Err: err}
		case <-newer:
			e.mu.Lock()
			wait := e.interval - time.Since(e.lastWrite)
			e.mu.Unlock()
			if wait > 0 {
				// Too soon after the last write: send the newest value
				// at the end of the interval.
				if capped == nil {
					if capTimer == nil {
						capTimer = time.NewTimer(wait)
					} else {
						capTimer.Reset(wait)
					}
					capped = capTimer.C
				}
				continue
			}
		case <-capped:
			capped = nil
		case <-status:
			force = true // the server may have lost the key; resend
		case <-heartbeat.C:
			e.mu.Lock()
			idle := time.Since(e.lastWrite)
			e.mu.Unlock()
			if idle < e.o.Heartbeat {
				heartbeat.Reset(e.o.Heartbeat - idle) // the Wait loop wrote
				continue
			}
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
		e.mu.Lock()
		err := e.send(ctx, force)
		e.failing = err != nil
		e.mu.Unlock()
		switch {
		case err == nil:
			if reported {
				e.o.Logf("writing key %q again (seq %d, revision %d)", e.o.Key, e.sentSeq, e.rev)
			}
			reported, retry, backoff, fails = false, nil, 0, 0
			heartbeat.Reset(e.o.Heartbeat)
			continue
		case errors.Is(err, ErrOwned), ctx.Err() != nil:
			return err
		case errors.Is(err, seqlock.ErrTruncated), errors.Is(err, seqlock.ErrCorrupt), errors.Is(err, seqlock.ErrLimit):
			return &Error{Op: "export", Key: e.o.Key, Err: err}
		}
		// Network or server trouble: retry the newest value after a
		// backoff or as soon as the connection is back.
		e.o.Stats.count(func(s *Stats) { s.Failures.Add(1) })
		backoff = nextBackoff(backoff)
		retry = time.After(backoff)
		if !e.nc.IsConnected() || errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) {
			continue // disconnected: the connection's log line says so
		}
		if !reported {
			e.o.Logf("cannot write key %q: %v; retrying", e.o.Key, causeText(err))
			reported = true
		}
		if fails++; fails >= bucketFailures {
			fails = 0
			if changed, cerr := e.b.check(ctx, e.gen); cerr == nil && changed {
				e.mu.Lock()
				e.kv, e.gen = e.b.get()
				e.mu.Unlock()
				retry = time.After(0)
			}
		}
	}
}

// watchLocal starts the Wait loop on the segment (or registers it with the
// poller): the local side. It only ever does a non-blocking send on the
// 1-slot mailbox newer, or a write when none is in flight (sendNow), so it
// never queues for the network. stop ends it and waits until it has.
func (e *exporter) watchLocal(ctx context.Context, newer chan<- struct{}, waitErr chan<- error) (stop func()) {
	if e.poller != nil {
		return e.poller.watch(e.sub, e.sentSeq, newer)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	sub, after := e.sub, e.sentSeq
	go func() {
		defer close(done)
		for {
			seq, err := spinWait(ctx, sub, after, e.o.Spin)
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
			if e.sendNow(ctx) {
				continue
			}
			select {
			case newer <- struct{}{}:
			default: // already signalled: the sender will read the newest
			}
		}
	}()
	return func() { cancel(); <-done }
}

// spinWait is sub.Wait(ctx, after), first looking at the segment's write
// number for up to spin without a system call.
func spinWait(ctx context.Context, sub *seqlock.Subscriber, after uint64, spin time.Duration) (uint64, error) {
	if spin > 0 {
		for end := time.Now().Add(spin); time.Now().Before(end); {
			if seq := sub.Seq(); seq > after {
				return seq, nil
			}
		}
	}
	return sub.Wait(ctx, after)
}

// sendNow sends the newest value from the Wait loop, if no write is in
// flight, the last one succeeded and the rate cap allows; it reports
// whether it did. Otherwise (or if the write fails) the sender loop takes
// over, with its timers.
func (e *exporter) sendNow(ctx context.Context) bool {
	if !e.mu.TryLock() {
		return false
	}
	defer e.mu.Unlock()
	if e.failing || time.Since(e.lastWrite) < e.interval {
		return false
	}
	if err := e.send(ctx, false); err != nil {
		return false
	}
	return true
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
	e.checkFormat()
}

// checkFormat says, once per segment, when the binary envelope cannot
// carry the segment's schema: importers then see bytes.
func (e *exporter) checkFormat() {
	if sc := e.sub.Schema(); e.o.Format == FormatBinary && !BinaryCarries(sc) {
		e.o.Logf("segment %q: its schema {%s} is too large for the binary envelope; key %q carries its values as bytes (use the json envelope to carry the schema)",
			e.sub.Name(), sc, e.o.Key)
	}
}

// read reads the segment's newest value into e.val and returns its
// envelope (the value aliases e.val). ReadValue sizes the buffer from the
// value, up to the subscriber's limit (seqlock.DefaultMaxValue), never from
// the capacity the header claims.
func (e *exporter) read() (Envelope, error) {
	for {
		value, m, err := e.sub.ReadValue(e.val[:0])
		switch {
		case errors.Is(err, seqlock.ErrNoValue):
			return Envelope{Owner: e.owner, Schema: e.sub.Schema()}, nil // seq 0: a claim without a value
		case errors.Is(err, seqlock.ErrLapped):
			continue
		case err != nil:
			return Envelope{}, err
		}
		e.val = value
		return Envelope{Owner: e.owner, Seq: m.Seq, UnixNano: m.UnixNano, Value: value, Schema: e.sub.Schema()}, nil
	}
}

// send writes the newest value unless it was written already (force:
// write it anyway).
func (e *exporter) send(ctx context.Context, force bool) error {
	env, err := e.read()
	if err != nil {
		return err
	}
	if env.Seq == e.sentSeq && !force {
		return nil
	}
	return e.write(ctx, env)
}

// write writes env over our last revision.
func (e *exporter) write(ctx context.Context, env Envelope) error {
	e.out = env.Append(e.out[:0], e.o.Format)
	rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	e.lastWrite = time.Now()
	rev, err := e.kv.Update(rctx, e.o.Key, e.out, e.rev)
	switch {
	case err == nil:
		e.wrote(rev, env)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return e.resolve(rctx, env)
	}
	return err
}

func (e *exporter) wrote(rev uint64, env Envelope) {
	e.rev, e.sentSeq = rev, env.Seq
	e.o.Stats.count(func(s *Stats) { s.Writes.Add(1) })
}

// release writes the last value again, marked released, so that the next
// exporter of the key (a restart) takes it over at once. ctx has ended:
// the write has its own timeout.
func (e *exporter) release() {
	if !e.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.o.Timeout)
	defer cancel()
	env, err := e.read()
	if err != nil {
		env = Envelope{Owner: e.owner} // a claim without a value
	}
	env.Released = true
	if _, err := e.kv.Update(ctx, e.o.Key, env.Append(nil, e.o.Format), e.rev); err != nil {
		e.o.Logf("cannot release key %q: %v", e.o.Key, causeText(err))
		return
	}
	e.o.Logf("released key %q", e.o.Key)
}

// resolve handles a failed compare-and-set: the key's revision is not the
// one we wrote last. It is still ours if our own write went through but its
// acknowledgement was lost (a reconnect); it is free again if it was
// deleted or the server lost it; otherwise another exporter wrote it.
func (e *exporter) resolve(ctx context.Context, env Envelope) error {
	ent, err := e.kv.Get(ctx, e.o.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		rev, err := e.kv.Create(ctx, e.o.Key, e.out)
		if err != nil {
			return err // ErrKeyExists: raced; the next attempt resolves again
		}
		e.o.Logf("key %q was deleted or lost by the server; written again", e.o.Key)
		e.wrote(rev, env)
		return nil
	}
	if err != nil {
		return err
	}
	cur, derr := Decode(ent.Value())
	if derr == nil && cur.Owner == e.owner {
		// Our own earlier write: adopt its revision; if it carried an
		// older value, write the newest now.
		e.rev, e.sentSeq = ent.Revision(), cur.Seq
		if cur.Seq == env.Seq {
			return nil
		}
		rev, err := e.kv.Update(ctx, e.o.Key, e.out, e.rev)
		if err != nil {
			return err // a mismatch again is resolved on the next attempt
		}
		e.wrote(rev, env)
		return nil
	}
	return e.owned(ent, cur.Owner)
}

func (e *exporter) owned(ent jetstream.KeyValueEntry, owner uint64) error {
	return &OwnedError{Bucket: e.o.Bucket, Key: e.o.Key, Owner: owner, Age: max(time.Since(ent.Created()), 0)}
}

// claim makes the key ours, writing the segment's newest value:
//   - a key that does not exist (or was deleted) is created;
//   - a key released by its exporter (a clean stop) is taken over at once;
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
		env, err := e.read()
		if err != nil {
			return &Error{Op: "export", Key: e.o.Key, Err: err}
		}
		e.out = env.Append(e.out[:0], e.o.Format)

		rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
		ent, err := e.kv.Get(rctx, e.o.Key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			rev, err := e.kv.Create(rctx, e.o.Key, e.out)
			cancel()
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another exporter created it first; look again
			}
			if err != nil {
				return &Error{Op: "create", Bucket: e.o.Bucket, Key: e.o.Key, Err: err}
			}
			e.wrote(rev, env)
			return nil
		case err != nil:
			cancel()
			return &Error{Op: "get", Bucket: e.o.Bucket, Key: e.o.Key, Err: err}
		}
		cur, _ := Decode(ent.Value())
		now := time.Now()
		switch {
		case seenRev == 0:
			seenRev, seenAt = ent.Revision(), now
		case ent.Revision() != seenRev:
			cancel()
			return e.owned(ent, cur.Owner) // written meanwhile: alive
		}
		idle := max(now.Sub(ent.Created()), now.Sub(seenAt))
		if e.o.Takeover || cur.Released || idle >= e.o.Stale {
			rev, err := e.kv.Update(rctx, e.o.Key, e.out, ent.Revision())
			cancel()
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				if e.o.Takeover {
					seenRev = 0
					continue
				}
				return e.owned(ent, cur.Owner) // someone else won
			}
			if err != nil {
				return &Error{Op: "take over", Bucket: e.o.Bucket, Key: e.o.Key, Err: err}
			}
			if cur.Released {
				e.o.Logf("took over key %q (released by owner %016x)", e.o.Key, cur.Owner)
			} else {
				e.o.Logf("took over key %q (previous owner %016x, last write %v ago)", e.o.Key, cur.Owner, idle.Round(time.Millisecond))
			}
			e.wrote(rev, env)
			return nil
		}
		cancel()
		if !reported {
			e.o.Logf("key %q was written %v ago by owner %016x; waiting up to %v to see if it is still alive",
				e.o.Key, idle.Round(time.Millisecond), cur.Owner, (e.o.Stale - idle).Round(time.Millisecond))
			reported = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(poll, e.o.Stale-idle)):
		}
	}
}

// notCreatedYet reports whether an error of seqlock.Open means that the
// segment is not there yet, or not yet initialized by its publisher.
func notCreatedYet(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, seqlock.ErrNotReady) || errors.Is(err, shmfile.ErrTooSmall)
}

// openSegment is seqlock.OpenWait, saying once that it waits.
func openSegment(ctx context.Context, name string, logf func(string, ...any)) (*seqlock.Subscriber, error) {
	s, err := seqlock.Open(name, nil)
	if notCreatedYet(err) {
		logf("waiting for segment %q to be created", name)
		s, err = seqlock.OpenWait(ctx, name, nil)
	}
	return s, err
}
