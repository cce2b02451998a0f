package natskv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// openBucket binds to the named key-value bucket, creating it if it does
// not exist, with a history of 1 (only the latest value of each key is
// kept: the bridge shares latest values, not logs) on file storage. An
// existing bucket is used as it is, whatever its configuration.
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "latest values bridged from seqshm segments",
			History:     1,
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Created meanwhile by another bridge, with another config.
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, &Error{Op: "open", Bucket: bucket, Err: err}
	}
	return kv, nil
}

// A bucketRef is a bucket shared by the exporters and importers of one
// process, which notice together that it is gone. It is safe for
// concurrent use.
type bucketRef struct {
	js   jetstream.JetStream
	name string
	logf func(string, ...any)

	mu      sync.Mutex
	kv      jetstream.KeyValue
	gen     uint64    // incremented when the bucket is opened anew
	created time.Time // the stream's creation time, to tell a new bucket
}

// newBucketRef opens (or creates) the named bucket over nc; op names the
// caller ("export", "import") in errors.
func newBucketRef(ctx context.Context, nc *nats.Conn, op, name string, logf func(string, ...any)) (*bucketRef, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	kv, err := openBucket(ctx, js, name)
	if err != nil {
		return nil, err
	}
	b := &bucketRef{js: js, name: name, logf: logf, kv: kv, gen: 1}
	b.created, _ = b.streamCreated(ctx)
	return b, nil
}

// get returns the bucket and its generation.
func (b *bucketRef) get() (jetstream.KeyValue, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.kv, b.gen
}

// streamCreated returns when the bucket's stream was created, or
// ErrBucketGone.
func (b *bucketRef) streamCreated(ctx context.Context) (time.Time, error) {
	s, err := b.js.Stream(ctx, "KV_"+b.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return time.Time{}, ErrBucketGone
	}
	if err != nil {
		return time.Time{}, err
	}
	return s.CachedInfo().Created, nil
}

// check looks whether the bucket is still the one of generation gen: if it
// was deleted, it is created again; if it was deleted and created anew
// (by someone else), it is opened again. Either way the generation grows,
// with a log line, and check returns true. Callers that saw an older
// generation than the current one need not check: it is done.
func (b *bucketRef) check(ctx context.Context, gen uint64) (changed bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	created, err := b.streamCreated(ctx)
	switch {
	case errors.Is(err, ErrBucketGone):
		kv, err := openBucket(ctx, b.js, b.name)
		if err != nil {
			return false, err
		}
		b.kv, b.gen = kv, b.gen+1
		b.created, _ = b.streamCreated(ctx)
		b.logf("bucket %q was gone (a server that lost its store, or deleted); created it again", b.name)
		return true, nil
	case err != nil:
		return false, err
	case !created.Equal(b.created):
		kv, err := b.js.KeyValue(ctx, b.name)
		if err != nil {
			return false, fmt.Errorf("reopen: %w", err)
		}
		b.kv, b.gen, b.created = kv, b.gen+1, created
		b.logf("bucket %q was deleted and created anew; following the new one", b.name)
		return true, nil
	}
	return false, nil
}
