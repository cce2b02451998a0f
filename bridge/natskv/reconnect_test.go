package natskv

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// TestServerRestart: the server goes away mid-stream and comes back on the
// same port and store; exporter and importer recover on their own, and
// the key and the imported segment end with the latest local value.
func TestServerRestart(t *testing.T) {
	srv := setup(t)
	ncA, ncB := connect(t, srv), connect(t, srv)
	p := publisher(t, "live")
	p.Publish([]byte("0"))
	start(t, func(ctx context.Context) error {
		return Export(ctx, ncA, "live", &ExportOptions{Timeout: 500 * time.Millisecond, Logf: t.Logf})
	})
	start(t, func(ctx context.Context) error {
		return Import(ctx, ncB, "live-copy", &ImportOptions{Key: "live", Capacity: 64, Logf: t.Logf})
	})
	waitSegment(t, "live-copy", func(m seqlock.Meta, v []byte) bool { return string(v) == "0" })

	// Publish steadily through the outage: the publisher never waits for
	// the network.
	var (
		stop atomic.Bool
		last atomic.Uint64
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; !stop.Load(); i++ {
			p.Publish([]byte(strconv.Itoa(i)))
			last.Store(uint64(i))
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	srv.Shutdown()
	time.Sleep(300 * time.Millisecond)
	srv.Restart()
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	want := strconv.FormatUint(last.Load(), 10)

	kv := bucket(t, connect(t, srv), DefaultBucket)
	waitKey(t, kv, "live", func(e Envelope) bool { return string(e.Value) == want })
	waitSegment(t, "live-copy", func(m seqlock.Meta, v []byte) bool { return string(v) == want })
}

// TestServerDownIdle: the server restarts while the segment is idle; after
// reconnecting, the exporter writes its latest value again, so a server
// that lost its store gets it back.
func TestServerDownIdle(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "idle")
	seq, _ := p.Publish([]byte("only value"))
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "idle", &ExportOptions{Logf: t.Logf}) })
	waitKey(t, kv, "idle", func(e Envelope) bool { return e.Seq == seq })
	// Simulate a server that lost the key across the restart.
	if err := kv.Purge(context.Background(), "idle"); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	waitKey(t, kv, "idle", func(e Envelope) bool { return e.Seq == seq })
}
