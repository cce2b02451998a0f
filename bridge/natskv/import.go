package natskv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// bucketCheckInterval is how often an importer checks that its bucket is
// still the one it watches: a bucket deleted and created anew under a
// watch leaves the watch silent, which the client itself notices only
// after missing several heartbeats (about 20 s).
const bucketCheckInterval = time.Second

// ImportOptions configure Import and ImportKeys. The zero value uses the
// defaults.
type ImportOptions struct {
	// Bucket is the key-value bucket; "" means DefaultBucket. It is
	// created (history 1, file storage) if it does not exist.
	Bucket string
	// Key is the key to watch (Import only); "" means the segment's
	// name, mapped by SegmentKey.
	Key string
	// Capacity is the local segments' capacity in bytes; 0 means
	// seqlock.DefaultCapacity for a new segment. A remote value larger
	// than this stops Import with ErrTooLarge; ImportKeys skips it with a
	// log line.
	Capacity int
	// Mode is the permission of a new segment; 0 means 0600.
	Mode fs.FileMode
	// Strip (ImportKeys only) is removed from the start of each key
	// before it is mapped to a segment name (SegmentName), and Prefix is
	// put before that name. Keys that do not start with Strip are
	// skipped.
	Strip, Prefix string
	// Stats, if not nil, counts the imports.
	Stats *Stats
	// Logf, if not nil, receives progress and transient failures, one
	// line each.
	Logf func(format string, args ...any)
}

func (o *ImportOptions) withDefaults() (ImportOptions, error) {
	var r ImportOptions
	if o != nil {
		r = *o
	}
	if r.Bucket == "" {
		r.Bucket = DefaultBucket
	}
	if r.Logf == nil {
		r.Logf = func(string, ...any) {}
	}
	return r, CheckBucket(r.Bucket)
}

// Import watches a key of a key-value bucket and publishes each value
// into the named local segment, which it creates (or takes over) as its
// publisher, until ctx ends (then it closes the segment cleanly and returns
// nil) or it fails. Local readers get remote values at memory speed, each
// with the publish time the exporter's segment gave it.
//
// The key's current value is published at start. Values that are not
// envelopes are skipped with a message; claims without a value (local seq
// 0) and repeats of the value already published (heartbeats, releases,
// replays after a reconnect) are skipped silently; a deleted key leaves
// the last value in place. After a reconnect, or when the bucket was
// deleted and created anew, the watch is restarted, so the newest value is
// published even if updates were missed.
func Import(ctx context.Context, nc *nats.Conn, segment string, opts *ImportOptions) error {
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
	if err := CheckKey(o.Key); err != nil {
		return err
	}
	im, err := newImporter(ctx, nc, o, o.Key)
	if err != nil {
		return err
	}
	t, err := im.create(o.Key, segment)
	if err != nil {
		return err
	}
	im.targets[o.Key] = t
	return im.runAndClose(ctx, nc)
}

// ImportKeys watches the keys matching pattern (a key, or a wildcard such
// as "robot1.>") and publishes each key's values into a local segment
// named after the key (SegmentName, with ImportOptions.Strip and Prefix),
// created when the key first appears. A key that maps to no valid segment
// name, or whose segment cannot be created (another live publisher), is
// skipped with one log line. Otherwise it behaves as Import, for many keys
// over one watch.
func ImportKeys(ctx context.Context, nc *nats.Conn, pattern string, opts *ImportOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := CheckPattern(pattern); err != nil {
		return err
	}
	im, err := newImporter(ctx, nc, o, pattern)
	if err != nil {
		return err
	}
	im.many = true
	return im.runAndClose(ctx, nc)
}

type importer struct {
	o       ImportOptions
	b       *bucketRef
	pattern string
	many    bool               // ImportKeys: segments are made as keys appear
	targets map[string]*target // by key
	skipped map[string]bool    // keys reported as not importable
}

// A target is one imported key's segment.
type target struct {
	pub *seqlock.Publisher
	// The envelope of the value published last: a repeat (heartbeat,
	// replay, release) has the same owner, seq and publish time.
	owner, seq uint64
	unixNano   int64
}

func newImporter(ctx context.Context, nc *nats.Conn, o ImportOptions, pattern string) (*importer, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, &Error{Op: "import", Err: err}
	}
	b, err := newBucketRef(ctx, js, o.Bucket, o.Logf)
	if err != nil {
		return nil, err
	}
	return &importer{o: o, b: b, pattern: pattern, targets: map[string]*target{}, skipped: map[string]bool{}}, nil
}

func (im *importer) create(key, segment string) (*target, error) {
	pub, err := seqlock.Create(segment, &seqlock.Options{Capacity: im.o.Capacity, Mode: im.o.Mode})
	if err != nil {
		return nil, err
	}
	im.o.Stats.count(func(s *Stats) { s.Importing.Add(1) })
	im.o.Logf("importing key %q of bucket %q into segment %q", key, im.o.Bucket, segment)
	return &target{pub: pub}, nil
}

func (im *importer) runAndClose(ctx context.Context, nc *nats.Conn) error {
	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	if im.many {
		im.o.Logf("importing keys %q of bucket %q", im.pattern, im.o.Bucket)
	}
	err := im.run(ctx, status)
	if ctx.Err() != nil && !errors.Is(err, ErrTooLarge) {
		err = nil
	}
	errs := []error{err}
	for _, t := range im.targets {
		errs = append(errs, t.pub.Close())
		im.o.Stats.count(func(s *Stats) { s.Importing.Add(-1) })
	}
	return errors.Join(errs...)
}

func (im *importer) run(ctx context.Context, status <-chan nats.Status) error {
	var (
		backoff time.Duration
		fails   int
	)
	for {
		kv, gen := im.b.get()
		w, err := kv.Watch(ctx, im.pattern)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			im.o.Stats.count(func(s *Stats) { s.Failures.Add(1) })
			if fails == 0 {
				im.o.Logf("cannot watch %q: %v; retrying", im.pattern, causeText(err))
			}
			if fails++; fails%bucketFailures == 0 {
				im.b.check(ctx, gen)
			}
			backoff = nextBackoff(backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-status:
			case <-time.After(backoff):
			}
			continue
		}
		if fails > 0 {
			im.o.Logf("watching %q again", im.pattern)
		}
		backoff, fails = 0, 0
		err = im.follow(ctx, w, status, gen)
		stopWatch(w)
		if err != nil {
			return err
		}
	}
}

// follow publishes the watcher's updates until ctx ends (ctx.Err()), a
// value cannot be published (that error), or the watch must be restarted
// (nil): after a reconnect, or when the bucket is not the one watched.
func (im *importer) follow(ctx context.Context, w jetstream.KeyWatcher, status <-chan nats.Status, gen uint64) error {
	check := time.NewTicker(bucketCheckInterval)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-status:
			return nil // reconnected: watch again from the latest value
		case <-check.C:
			if changed, _ := im.b.check(ctx, gen); changed {
				return nil
			}
		case ent, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if ent == nil {
				continue // the initial values, if any, were delivered
			}
			if err := im.publish(ent); err != nil {
				return err
			}
		}
	}
}

func (im *importer) publish(ent jetstream.KeyValueEntry) error {
	key := ent.Key()
	t := im.targets[key]
	if t == nil {
		if !im.many || im.skipped[key] {
			return nil
		}
		var err error
		if t, err = im.newTarget(key); err != nil {
			im.skipped[key] = true
			im.o.Logf("key %q skipped: %v", key, err)
			return nil
		}
		im.targets[key] = t
	}
	if ent.Operation() != jetstream.KeyValuePut {
		im.o.Logf("key %q was %s; keeping the last value", key, opName(ent.Operation()))
		return nil
	}
	env, err := Decode(ent.Value())
	if err != nil {
		im.o.Logf("key %q revision %d skipped: %v", key, ent.Revision(), err)
		return nil
	}
	if env.Seq == 0 || env.Owner == t.owner && env.Seq == t.seq && env.UnixNano == t.unixNano {
		return nil
	}
	if len(env.Value) > t.pub.Capacity() {
		err := &Error{Op: "import", Key: key, Err: fmt.Errorf("%w: %d bytes, segment %q holds at most %d",
			ErrTooLarge, len(env.Value), t.pub.Name(), t.pub.Capacity())}
		if !im.many {
			return err
		}
		im.o.Logf("key %q skipped: %v", key, err.Err)
		return nil
	}
	if _, err := t.pub.PublishAt(env.Value, time.Unix(0, env.UnixNano)); err != nil {
		return &Error{Op: "import", Key: key, Err: err}
	}
	t.owner, t.seq, t.unixNano = env.Owner, env.Seq, env.UnixNano
	im.o.Stats.count(func(s *Stats) { s.Imported.Add(1) })
	return nil
}

// newTarget maps a key to its segment name and creates the segment.
func (im *importer) newTarget(key string) (*target, error) {
	rest, ok := strings.CutPrefix(key, im.o.Strip)
	if !ok {
		return nil, fmt.Errorf("does not start with %q", im.o.Strip)
	}
	name, err := SegmentName(rest)
	if err == nil {
		name = im.o.Prefix + name
		err = shmfile.CheckName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("maps to no valid segment name (%w)", err)
	}
	return im.create(key, name)
}

func opName(op jetstream.KeyValueOp) string {
	if op == jetstream.KeyValuePurge {
		return "purged"
	}
	return "deleted"
}

// stopWatch stops w and drains its updates until the client closes the
// channel: the client's callback blocks on a full channel, and must not be
// left blocked.
func stopWatch(w jetstream.KeyWatcher) {
	w.Stop()
	go func() {
		for range w.Updates() {
		}
	}()
}
