package natskv

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/seqlock"
)

func TestExport(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "export-1")
	seq, err := p.Publish([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "export-1", &ExportOptions{Logf: t.Logf}) })

	env := waitKey(t, kv, "export-1", func(e Envelope) bool { return e.Seq == seq })
	st, err := seqlock.Stat("export-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := st.Published.UnixNano(); string(env.Value) != "hello" || env.UnixNano != want || env.Owner == 0 {
		t.Errorf("key = %q, time %d, owner %x; want %q, time %d (the local publish time), owner != 0",
			env.Value, env.UnixNano, env.Owner, "hello", want)
	}

	// Later values follow, with the same owner.
	seq, _ = p.Publish([]byte("world"))
	env2 := waitKey(t, kv, "export-1", func(e Envelope) bool { return e.Seq == seq })
	if string(env2.Value) != "world" || env2.Owner != env.Owner {
		t.Errorf("key = %q owner %x, want %q owner %x", env2.Value, env2.Owner, "world", env.Owner)
	}
}

// TestExportKeyOption: -key and -bucket choose where the value goes; the
// exporter waits for a segment that does not exist yet.
func TestExportKeyOption(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	start(t, func(ctx context.Context) error {
		return Export(ctx, nc, "late", &ExportOptions{Bucket: "robots", Key: "r1.pose", Logf: t.Logf})
	})
	time.Sleep(50 * time.Millisecond)
	p := publisher(t, "late")
	seq, _ := p.Publish([]byte("x=1"))
	kv := bucket(t, nc, "robots")
	if env := waitKey(t, kv, "r1.pose", func(e Envelope) bool { return e.Seq == seq }); string(env.Value) != "x=1" {
		t.Errorf("key r1.pose = %q, want %q", env.Value, "x=1")
	}
}

// TestExportBurst: 100 000 local values as fast as the publisher can go
// end with the last one in the bucket, through far fewer writes (values
// coalesce), with no growing backlog.
func TestExportBurst(t *testing.T) {
	const n = 100_000
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "burst")
	p.Publish([]byte("start"))
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "burst", nil) })
	waitKey(t, kv, "burst", func(e Envelope) bool { return e.Seq == 1 })

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	revBefore := lastRevision(t, kv)
	t0 := time.Now()
	var last uint64
	for i := range n {
		last, _ = p.Publish([]byte("value " + strconv.Itoa(i)))
	}
	published := time.Since(t0)
	env := waitKey(t, kv, "burst", func(e Envelope) bool { return e.Seq == last })
	caughtUp := time.Since(t0)
	writes := lastRevision(t, kv) - revBefore
	runtime.GC()
	runtime.ReadMemStats(&after)

	if want := fmt.Sprintf("value %d", n-1); string(env.Value) != want {
		t.Errorf("key = %q, want %q", env.Value, want)
	}
	t.Logf("%d local values in %v; bucket had the last %v after the first, through %d writes", n, published, caughtUp, writes)
	if writes >= n/10 {
		t.Errorf("%d writes for %d values, want far fewer (coalescing)", writes, n)
	}
	// The heap after the burst is about what it was: nothing queued.
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 8<<20 {
		t.Errorf("heap grew by %d bytes over the burst, want no backlog", grow)
	}
}

// lastRevision returns the bucket's last revision: the number of writes to
// it so far, whatever its history setting.
func lastRevision(t *testing.T, kv jetstream.KeyValue) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
}

// TestExportFollowsReplacedSegment: a segment removed and created anew
// (publisher -rm, then a new publisher) is noticed at the next heartbeat,
// and its values are exported, although its write numbers start again.
func TestExportFollowsReplacedSegment(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p, err := seqlock.Create("phoenix", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Publish([]byte("old 1"))
	p.Publish([]byte("old 2"))
	start(t, func(ctx context.Context) error {
		return Export(ctx, nc, "phoenix", &ExportOptions{Stale: 300 * time.Millisecond, Heartbeat: 50 * time.Millisecond, Logf: t.Logf})
	})
	waitKey(t, kv, "phoenix", func(e Envelope) bool { return e.Seq == 2 })
	p.Close()
	if err := seqlock.Remove("phoenix"); err != nil {
		t.Fatal(err)
	}
	p2 := publisher(t, "phoenix")
	p2.Publish([]byte("new 1"))
	waitKey(t, kv, "phoenix", func(e Envelope) bool { return string(e.Value) == "new 1" })
	p2.Publish([]byte("new 2"))
	waitKey(t, kv, "phoenix", func(e Envelope) bool { return string(e.Value) == "new 2" && e.Seq == 2 })
}

// TestExportSpin: with Spin, the Wait loop looks at the segment before it
// sleeps; every value still arrives, whether it comes during the spin or
// after it (a sleep), from Export and from ExportGlob (where Spin takes a
// Wait loop per segment instead of the poller).
func TestExportSpin(t *testing.T) {
	srv := setup(t)
	kv := bucket(t, connect(t, srv), DefaultBucket)
	o := &ExportOptions{Spin: 2 * time.Millisecond, MaxRate: -1, Logf: t.Logf}
	one, glob := publisher(t, "spin-one"), publisher(t, "spin.glob")
	one.Publish([]byte("0"))
	glob.Publish([]byte("0"))
	nc := connect(t, srv)
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "spin-one", o) })
	start(t, func(ctx context.Context) error { return ExportGlob(ctx, nc, []ExportMapping{{Glob: "spin.*"}}, o) })
	for i := range 6 {
		if i%2 == 1 {
			time.Sleep(3 * o.Spin) // past the spin: the loop sleeps in Wait
		}
		for _, c := range []struct {
			p   *seqlock.Publisher
			key string
		}{{one, "spin-one"}, {glob, "spin.glob"}} {
			val := strconv.Itoa(i)
			seq, _ := c.p.Publish([]byte(val))
			if env := waitKey(t, kv, c.key, func(e Envelope) bool { return e.Seq >= seq }); string(env.Value) != val {
				t.Errorf("key %q = %q (seq %d), want %q (seq %d)", c.key, env.Value, env.Seq, val, seq)
			}
		}
	}
}
