package natskv

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
)

// TestExportValueLimit: a segment holding a value larger than the reader's
// limit (seqlock.DefaultMaxValue; the exporter sets none of its own) stops
// the exporter with an *Error wrapping seqlock.ErrLimit, without allocating
// for the value: whether the value comes while it exports (the key keeps
// the last value it could read) or is there when it starts (the key is not
// written).
func TestExportValueLimit(t *testing.T) {
	const name = "limit"
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p, err := seqlock.Create(name, &seqlock.Options{Capacity: seqlock.DefaultMaxValue + 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	seq, err := p.Publish([]byte("small"))
	if err != nil {
		t.Fatal(err)
	}
	huge := make([]byte, seqlock.DefaultMaxValue+1) // allocated before the measures below

	// Exporting, then a value beyond the limit.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Export(ctx, nc, name, &ExportOptions{Logf: t.Logf}) }()
	waitKey(t, kv, name, func(e Envelope) bool { return e.Seq == seq && string(e.Value) == "small" })
	alloc := allocated()
	if _, err := p.Publish(huge); err != nil {
		t.Fatal(err)
	}
	var got error
	select {
	case got = <-done:
	case <-time.After(hangGuard):
		cancel()
		<-done // no logging after the test
		t.Fatalf("Export still running %v after a value beyond its limit", hangGuard)
	}
	checkLimitError(t, "a value beyond the limit while exporting", got, name, alloc)
	if ent, err := kv.Get(context.Background(), name); err != nil || string(mustDecode(t, ent.Value()).Value) != "small" {
		t.Errorf("key after the export stopped: %v, want the last value read, %q", err, "small")
	}

	// Starting on a segment that holds it.
	if err := kv.Purge(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), hangGuard) // a hang returns nil
	defer cancel()
	alloc = allocated()
	got = Export(ctx, nc, name, &ExportOptions{Logf: t.Logf})
	checkLimitError(t, "a value beyond the limit at start", got, name, alloc)
	if ent, err := kv.Get(context.Background(), name); err == nil {
		t.Errorf("key after an export that could not read the value: %q, want none written", ent.Value())
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) {
		t.Errorf("key after an export that could not read the value: %v, want none written", err)
	}

	// Through a glob: the failed segment is tried again after Stale, not
	// at every scan (ScanInterval) with a log line each.
	log := &logRecorder{t: t}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	globDone := make(chan error, 1)
	go func() {
		globDone <- ExportGlob(ctx, nc, []ExportMapping{{Glob: name}}, &ExportOptions{Stale: time.Minute, Logf: log.logf})
	}()
	log.wait(`segment "limit": `)
	time.Sleep(3 * ScanInterval) // three scans; the test passes either way
	cancel()
	<-globDone
	if n, want := log.count(`segment "limit": `), `trying again in 1m0s`; n != 1 || log.count(want) != 1 {
		t.Errorf("ExportGlob logged the failed segment %d times in three scans, %d of them saying %q; want once", n, log.count(want), want)
	}
}

// checkLimitError fails the test unless err is an export *Error for key
// wrapping seqlock.ErrLimit, and less than the value was allocated since
// the count before.
func checkLimitError(t *testing.T, what string, err error, key string, before uint64) {
	t.Helper()
	grew := allocated() - before
	t.Logf("%s: %v (%d bytes allocated meanwhile)", what, err, grew)
	if grew > seqlock.DefaultMaxValue/4 {
		t.Errorf("%s: %d bytes allocated meanwhile, want far less than the value", what, grew)
	}
	var e *Error
	if !errors.Is(err, seqlock.ErrLimit) || !errors.As(err, &e) || e.Op != "export" || e.Key != key {
		t.Fatalf("%s: Export returned %v, want an export *Error of key %q wrapping seqlock.ErrLimit", what, err, key)
	}
	if msg := "value of 67108865 bytes, the limit is 67108864"; !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %q does not say %q", what, err, msg)
	}
}

// allocated returns the bytes this process has allocated on the heap so
// far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func mustDecode(t *testing.T, b []byte) Envelope {
	t.Helper()
	env, err := Decode(b)
	if err != nil {
		t.Fatalf("not an envelope: %q: %v", b, err)
	}
	return env
}
