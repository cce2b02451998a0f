package natskv

import (
	"context"
	"errors"
	"fmt"

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
		return nil, fmt.Errorf("natskv: bucket %q: %w", bucket, err)
	}
	return kv, nil
}
