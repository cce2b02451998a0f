package natskv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
)

// ImportOptions configure Import. The zero value uses the defaults.
type ImportOptions struct {
	// Bucket is the key-value bucket; "" means DefaultBucket. It is
	// created (history 1, file storage) if it does not exist.
	Bucket string
	// Key is the key to watch; "" means the segment's name.
	Key string
	// Capacity is the local segment's capacity in bytes; 0 means
	// seqlock.DefaultCapacity for a new segment. A remote value larger
	// than this stops Import with ErrTooLarge.
	Capacity int
	// Mode is the permission of a new segment; 0 means 0600.
	Mode fs.FileMode
	// Logf, if not nil, receives progress and transient failures, one
	// line each.
	Logf func(format string, args ...any)
}

// Import watches a key of a key-value bucket and publishes each value
// into the named local segment, which it creates (or takes over) as its
// publisher, until ctx ends (then it closes the segment cleanly and returns
// nil) or it fails. Local readers get remote values at memory speed, each
// with the publish time the exporter's segment gave it.
//
// The key's current value is published at start. Values that are not
// envelopes are skipped with a message; claims without a value (local seq
// 0) and repeats of the value already published (heartbeats, replays after
// a reconnect) are skipped silently; a deleted key leaves the last value
// in place. After a reconnect the watch is restarted, so the newest value
// is published even if updates were missed.
func Import(ctx context.Context, nc *nats.Conn, segment string, opts *ImportOptions) error {
	var o ImportOptions
	if opts != nil {
		o = *opts
	}
	var err error
	if o.Bucket, o.Key, o.Logf, err = target(o.Bucket, o.Key, segment, o.Logf); err != nil {
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
	pub, err := seqlock.Create(segment, &seqlock.Options{Capacity: o.Capacity, Mode: o.Mode})
	if err != nil {
		return err
	}
	im := &importer{o: o, kv: kv, pub: pub}
	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	err = im.run(ctx, status)
	if ctx.Err() != nil && !errors.Is(err, ErrTooLarge) {
		err = nil
	}
	return errors.Join(err, pub.Close())
}

type importer struct {
	o   ImportOptions
	kv  jetstream.KeyValue
	pub *seqlock.Publisher

	// The envelope of the value published last: a repeat (heartbeat,
	// replay) has the same owner, seq and publish time.
	owner, seq uint64
	unixNano   int64
}

func (im *importer) run(ctx context.Context, status <-chan nats.Status) error {
	im.o.Logf("importing key %q of bucket %q into segment %q", im.o.Key, im.o.Bucket, im.pub.Name())
	backoff := time.Duration(0)
	for {
		w, err := im.kv.Watch(ctx, im.o.Key)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			backoff = nextBackoff(backoff)
			im.o.Logf("cannot watch key %q: %v; retrying", im.o.Key, err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-status:
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		err = im.follow(ctx, w, status)
		stopWatch(w)
		if err != nil {
			return err
		}
	}
}

// follow publishes the watcher's updates until ctx ends (ctx.Err()), a
// value cannot be published (that error), or the watch must be restarted
// (nil).
func (im *importer) follow(ctx context.Context, w jetstream.KeyWatcher, status <-chan nats.Status) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-status:
			return nil // reconnected: watch again from the latest value
		case ent, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if ent == nil {
				continue // the initial value, if any, was delivered
			}
			if err := im.publish(ent); err != nil {
				return err
			}
		}
	}
}

func (im *importer) publish(ent jetstream.KeyValueEntry) error {
	if ent.Operation() != jetstream.KeyValuePut {
		im.o.Logf("key %q was %s; keeping the last value", im.o.Key, opName(ent.Operation()))
		return nil
	}
	env, err := Decode(ent.Value())
	if err != nil {
		im.o.Logf("key %q revision %d skipped: %v", im.o.Key, ent.Revision(), err)
		return nil
	}
	if env.Seq == 0 || env.Owner == im.owner && env.Seq == im.seq && env.UnixNano == im.unixNano {
		return nil
	}
	if len(env.Value) > im.pub.Capacity() {
		return fmt.Errorf("%w: key %q holds %d bytes, segment %q holds at most %d",
			ErrTooLarge, im.o.Key, len(env.Value), im.pub.Name(), im.pub.Capacity())
	}
	if _, err := im.pub.PublishAt(env.Value, time.Unix(0, env.UnixNano)); err != nil {
		return err
	}
	im.owner, im.seq, im.unixNano = env.Owner, env.Seq, env.UnixNano
	return nil
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
