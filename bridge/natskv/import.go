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

	"github.com/seqshm/seqshm/schema"
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
	// log line. A struct segment's capacity is its schema's size, whatever
	// Capacity says.
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
	return r, commonDefaults(&r.Bucket, &r.Logf)
}

// commonDefaults fills in the options Export and Import share: the bucket
// (DefaultBucket, which it checks) and a Logf that discards.
func commonDefaults(bucket *string, logf *func(string, ...any)) error {
	if *bucket == "" {
		*bucket = DefaultBucket
	}
	if *logf == nil {
		*logf = func(string, ...any) {}
	}
	return CheckBucket(*bucket)
}

// Import watches a key of a key-value bucket and publishes each value
// into the named local segment, which it creates (or takes over) as its
// publisher, until ctx ends (then it closes the segment cleanly and returns
// nil) or it fails. Local readers get remote values at memory speed, each
// with the publish time the exporter's segment gave it.
//
// The segment is created when the key first holds an envelope (a value or
// an exporter's claim), with the kind and schema the envelope carries
// (Envelope.Schema), so that it describes its values as the exporter's
// segment does; an envelope without one (an older exporter) makes a
// segment of bytes. An existing segment of another kind or schema is not
// taken over: Import fails with an error wrapping ErrSchemaMismatch. If
// the key's schema changes later (the exporter's segment was re-created
// with another), its values are skipped, with one log line, until they
// match the local segment again.
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
	im.targets[o.Key] = &target{name: segment}
	return im.runAndClose(ctx, nc)
}

// ImportKeys watches the keys matching pattern (a key, or a wildcard such
// as "robot1.>") and publishes each key's values into a local segment
// named after the key (SegmentName, with ImportOptions.Strip and Prefix),
// created when the key first appears. A key that maps to no valid segment
// name, or whose segment cannot be created (another live publisher, or a
// segment of another kind or schema), is skipped with one log line.
// Otherwise it behaves as Import, for many keys over one watch.
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
	// waitLogged: Import said that its key has no value yet.
	waitLogged bool
}

// A target is one imported key's segment.
type target struct {
	name string
	pub  *seqlock.Publisher // nil until the key's first envelope
	// skipping is the key's schema while it differs from the segment's
	// (logged once), else nil.
	skipping *schema.Schema
	// memo keeps the schema of the key's last envelope, and matched the
	// last one found to match the segment's (a pointer memo handed out).
	memo    schemaMemo
	matched *schema.Schema
	// The envelope of the value published last: a repeat (heartbeat,
	// replay, release) has the same owner, seq and publish time.
	owner, seq uint64
	unixNano   int64
}

func newImporter(ctx context.Context, nc *nats.Conn, o ImportOptions, pattern string) (*importer, error) {
	b, err := newBucketRef(ctx, nc, "import", o.Bucket, o.Logf)
	if err != nil {
		return nil, err
	}
	return &importer{o: o, b: b, pattern: pattern, targets: map[string]*target{}, skipped: map[string]bool{}}, nil
}

// create creates (or takes over) t's segment for values of schema sc, an
// envelope's (nil: bytes, from an exporter that predates schemas).
func (im *importer) create(key string, t *target, sc *schema.Schema) error {
	opts := &seqlock.Options{Capacity: im.o.Capacity, Mode: im.o.Mode}
	if sc != nil && sc.Kind() != schema.Bytes {
		opts.Schema = sc
		if sc.Kind() == schema.Struct {
			opts.Capacity = 0 // its size
		}
	}
	pub, err := seqlock.Create(t.name, opts)
	if errors.Is(err, seqlock.ErrIncompatible) && sc != nil {
		if s, oerr := seqlock.Open(t.name, nil); oerr == nil {
			have := s.Schema()
			s.Close()
			if !have.Equal(sc) {
				return im.mismatch(key, t.name, have, sc)
			}
		}
	}
	if err != nil {
		return err
	}
	if have := pub.Schema(); sc != nil && !have.Equal(sc) {
		pub.Close() // a bytes publisher adopted a text or json segment
		return im.mismatch(key, t.name, have, sc)
	}
	t.pub = pub
	im.o.Stats.count(func(s *Stats) { s.Importing.Add(1) })
	im.o.Logf("importing key %q of bucket %q into segment %q (%s)", key, im.o.Bucket, t.name, seqlock.DescribeSchema(pub.Schema()))
	return nil
}

// mismatch is the error for a segment that exists with schema have when
// the key carries want.
func (im *importer) mismatch(key, segment string, have, want *schema.Schema) error {
	return &Error{Op: "import", Bucket: im.o.Bucket, Key: key, Err: fmt.Errorf(
		"%w: segment %q holds %s, the key carries %s; import into another segment name, or remove the segment first (publisher -rm %s)",
		ErrSchemaMismatch, segment, seqlock.DescribeSchema(have), seqlock.DescribeSchema(want), segment)}
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
		if t.pub == nil {
			continue
		}
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
				// The initial values, if any, were delivered.
				if t := im.targets[im.pattern]; !im.many && t != nil && t.pub == nil && !im.waitLogged {
					im.waitLogged = true
					im.o.Logf("key %q has no value yet: segment %q is created when an exporter writes it", im.pattern, t.name)
				}
				continue
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
		name, err := im.segmentName(key)
		if err != nil {
			im.skipped[key] = true
			im.o.Logf("key %q skipped: %v", key, err)
			return nil
		}
		t = &target{name: name}
		im.targets[key] = t
	}
	if ent.Operation() != jetstream.KeyValuePut {
		if t.pub != nil {
			im.o.Logf("key %q was %s; keeping the last value", key, opName(ent.Operation()))
		}
		return nil
	}
	env, err := decode(ent.Value(), &t.memo)
	if err != nil {
		im.o.Logf("key %q revision %d skipped: %v", key, ent.Revision(), err)
		return nil
	}
	if t.pub == nil {
		if err := im.create(key, t, env.Schema); err != nil {
			if !im.many {
				return err
			}
			delete(im.targets, key)
			im.skipped[key] = true
			var ne *Error
			if errors.As(err, &ne) {
				err = ne.Err
			}
			im.o.Logf("key %q skipped: %v", key, err)
			return nil
		}
	}
	if !im.matches(key, t, env.Schema) {
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
		if errors.Is(err, seqlock.ErrInvalid) {
			// Not what the segment's kind says (text that is not UTF-8,
			// say): the exporter's segment let it through.
			im.o.Logf("key %q revision %d skipped: %v", key, ent.Revision(), err)
			return nil
		}
		return &Error{Op: "import", Key: key, Err: err}
	}
	t.owner, t.seq, t.unixNano = env.Owner, env.Seq, env.UnixNano
	im.o.Stats.count(func(s *Stats) { s.Imported.Add(1) })
	return nil
}

// matches reports whether values of schema sc (an envelope's; nil: bytes
// from an older exporter, published as they come) may be published into
// t's segment. A key whose schema changed is logged once, and again when
// it matches once more.
func (im *importer) matches(key string, t *target, sc *schema.Schema) bool {
	if sc != nil && sc == t.matched {
		// The same schema as last time, from t.memo: no new comparison.
		return true
	}
	have := t.pub.Schema()
	if sc == nil || sc.Equal(have) {
		if t.skipping != nil {
			t.skipping = nil
			im.o.Logf("key %q carries %s again, as segment %q: importing", key, seqlock.DescribeSchema(have), t.name)
		}
		t.matched = sc
		return true
	}
	if !sc.Equal(t.skipping) {
		t.skipping = sc
		im.o.Logf("key %q now carries %s, but segment %q holds %s: its values are skipped until they match again (to follow the change, stop the import, remove the segment and start it again)",
			key, seqlock.DescribeSchema(sc), t.name, seqlock.DescribeSchema(have))
	}
	return false
}

// segmentName maps a key to its segment name.
func (im *importer) segmentName(key string) (string, error) {
	rest, ok := strings.CutPrefix(key, im.o.Strip)
	if !ok {
		return "", fmt.Errorf("does not start with %q", im.o.Strip)
	}
	name, err := SegmentName(rest)
	if err == nil {
		name = im.o.Prefix + name
		err = shmfile.CheckName(name)
	}
	if err != nil {
		return "", fmt.Errorf("maps to no valid segment name (%w)", err)
	}
	return name, nil
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
