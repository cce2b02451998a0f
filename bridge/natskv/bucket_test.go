package natskv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
)

// deleteBucket deletes the bucket as an operator (or a server that lost
// its store) would.
func deleteBucket(t *testing.T, nc *nats.Conn, name string) {
	t.Helper()
	js, _ := jetstream.New(nc)
	if err := js.DeleteKeyValue(context.Background(), name); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}
}

// TestExportBucketGone: the bucket disappears under a running exporter;
// after a few failed writes it is created again, with a log line, and the
// newest value is written into it.
func TestExportBucketGone(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	log := &logRecorder{t: t}
	p := publisher(t, "lost")
	p.Publish([]byte("1"))
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "lost", &ExportOptions{Logf: log.logf}) })
	waitKey(t, kv, "lost", func(e Envelope) bool { return e.Seq == 1 })
	deleteBucket(t, nc, DefaultBucket)
	p.Publish([]byte("2"))
	log.wait("created it again")
	kv = bucket(t, nc, DefaultBucket)
	waitKey(t, kv, "lost", func(e Envelope) bool { return string(e.Value) == "2" })
}

// TestImportBucketRecreated: the bucket is deleted and created anew under
// a running importer: it notices within about a second (not the ~20 s of
// the client's missed heartbeats), says so, and imports from the new
// bucket. The wait below is 8 s, under those 20 s.
func TestImportBucketRecreated(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	log := &logRecorder{t: t}
	kv.Put(context.Background(), "k", Envelope{Owner: 1, Seq: 1, Value: []byte("old")}.Encode())
	start(t, func(ctx context.Context) error {
		return Import(ctx, connect(t, srv), "k", &ImportOptions{Capacity: 64, Logf: log.logf})
	})
	waitSegment(t, "k", func(m seqlock.Meta, v []byte) bool { return string(v) == "old" })
	deleteBucket(t, nc, DefaultBucket)
	kv = bucket(t, nc, DefaultBucket)
	kv.Put(context.Background(), "k", Envelope{Owner: 1, Seq: 2, Value: []byte("new")}.Encode())

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	s := openWait(t, "k")
	defer s.Close()
	for after := s.Seq(); ; {
		v, _, _ := s.ReadValue(nil)
		if string(v) == "new" {
			break
		}
		var err error
		if after, err = s.Wait(ctx, after); err != nil {
			t.Fatalf("imported segment still %q after the bucket was re-created: %v\nlog:\n%s", v, err, log)
		}
	}
	if log.count("created anew") == 0 && log.count("created it again") == 0 {
		t.Errorf("no log line about the bucket; log:\n%s", log)
	}
}

// TestImportBucketGone: the bucket is deleted and not created again; the
// importer opens (creates) it again after a bounded number of failures,
// and imports what is written to it then.
func TestImportBucketGone(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	log := &logRecorder{t: t}
	kv.Put(context.Background(), "g", Envelope{Owner: 1, Seq: 1, Value: []byte("before")}.Encode())
	start(t, func(ctx context.Context) error {
		return Import(ctx, connect(t, srv), "g", &ImportOptions{Capacity: 64, Logf: log.logf})
	})
	waitSegment(t, "g", func(m seqlock.Meta, v []byte) bool { return string(v) == "before" })
	deleteBucket(t, nc, DefaultBucket)
	log.wait("created it again")
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(context.Background(), "g", Envelope{Owner: 1, Seq: 2, Value: []byte("after")}.Encode())
	waitSegment(t, "g", func(m seqlock.Meta, v []byte) bool { return string(v) == "after" })
}

// openWait opens the named segment once it exists.
func openWait(t *testing.T, name string) *seqlock.Subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := openSegment(ctx, name, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
