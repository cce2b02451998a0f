package natskv

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/seqshm/seqshm/bridge/natstest"
	"github.com/seqshm/seqshm/seqlock"
)

// BenchmarkLatency measures how long a value takes from a local Publish to
// the other side, through an embedded server on this machine, one value at
// a time (ping-pong, so nothing coalesces):
//
//   - watcher: to a NATS key-value watcher of the key (jetstream Watch);
//   - segment: through an importer, to a Wait on the imported segment.
//
// ns/op is the mean; p50-µs and p99-µs the median and 99th percentile.
// The numbers are in docs/benchmarks.md, "NATS bridge".
func BenchmarkLatency(b *testing.B) {
	b.Run("watcher", func(b *testing.B) {
		srv := setup(b)
		nc := connect(b, srv)
		p := publisher(b, "lat")
		p.Publish(make([]byte, 8))
		start(b, func(ctx context.Context) error { return Export(ctx, nc, "lat", nil) })
		kv := bucket(b, connect(b, srv), DefaultBucket)
		waitKey(b, kv, "lat", func(e Envelope) bool { return e.Seq == 1 })
		w, err := kv.Watch(context.Background(), "lat")
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		d := make([]time.Duration, 0, b.N)
		val := make([]byte, 8)
		b.ResetTimer()
		for i := range b.N {
			binary.LittleEndian.PutUint64(val, uint64(i+1))
			t0 := time.Now()
			seq, _ := p.Publish(val)
			for ent := range w.Updates() {
				if ent == nil {
					continue
				}
				if env, err := Decode(ent.Value()); err == nil && env.Seq == seq {
					break
				}
			}
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		percentiles(b, d)
	})
	b.Run("segment", func(b *testing.B) {
		p, s := pipe(b, setup(b), "lat", &ExportOptions{Key: "lat"})
		ctx := context.Background()
		d := make([]time.Duration, 0, b.N)
		val := make([]byte, 8)
		after := s.Seq()
		b.ResetTimer()
		for i := range b.N {
			binary.LittleEndian.PutUint64(val, uint64(i+1))
			t0 := time.Now()
			p.Publish(val)
			var err error
			if after, err = s.Wait(ctx, after); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		percentiles(b, d)
	})
}

// pipe exports segment key+"-src" under o (o.Key is the key) and imports
// the key into segment key+"-dst", each over its own connection to srv,
// and returns the source's publisher and the imported segment, once its
// first value has arrived.
func pipe(b *testing.B, srv *natstest.Server, key string, o *ExportOptions) (*seqlock.Publisher, *seqlock.Subscriber) {
	b.Helper()
	src, dst := key+"-src", key+"-dst"
	p := publisher(b, src)
	p.Publish(make([]byte, 8))
	ncA, ncB := connect(b, srv), connect(b, srv)
	start(b, func(ctx context.Context) error { return Export(ctx, ncA, src, o) })
	start(b, func(ctx context.Context) error {
		return Import(ctx, ncB, dst, &ImportOptions{Key: o.Key, Capacity: 64})
	})
	waitSegment(b, dst, func(m seqlock.Meta, v []byte) bool { return m.Seq >= 1 })
	s, err := seqlock.Open(dst, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return p, s
}

func percentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkLatencyRatio measures, in one run on one server, the median
// latency of a plain NATS client's kv.Put to its kv.Watch (put-watch) and
// of the bridge from a local Publish to the value in the imported segment
// (bridge), one value at a time, alternating, and reports both and their
// ratio (docs/benchmarks.md, "NATS bridge"), two ways:
//
//   - wait: the defaults; the exporter sleeps in Wait between values and
//     the reader of the imported segment in Wait;
//   - spin: the exporter with ExportOptions.Spin and a reader looking at
//     the segment's write number without sleeping, as a latency-bound
//     reader does: the time until the value is in the imported segment,
//     without the two wake-ups of sleeping threads.
//
// No assertion: speed is reported, not tested.
func BenchmarkLatencyRatio(b *testing.B) {
	for _, c := range []struct {
		name       string
		spin, read bool
	}{{"wait", false, false}, {"spin", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			o := &ExportOptions{Key: "ratio", MaxRate: -1}
			if c.spin {
				// Longer than a round of this loop, so that the next
				// value comes while the exporter still looks.
				o.Spin = time.Millisecond
			}
			latencyRatio(b, o, c.read)
		})
	}
}

func latencyRatio(b *testing.B, o *ExportOptions, spinRead bool) {
	srv := setup(b)
	ncPlain := connect(b, srv)
	kvPlain := bucket(b, ncPlain, "plain")
	w, err := kvPlain.Watch(context.Background(), "lat")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	p, s := pipe(b, srv, "ratio", o)
	ctx := context.Background()
	plain := make([]time.Duration, 0, b.N)
	bridged := make([]time.Duration, 0, b.N)
	val := make([]byte, 8)
	after := s.Seq()
	b.ResetTimer()
	for i := range b.N {
		binary.LittleEndian.PutUint64(val, uint64(i+1))
		t0 := time.Now()
		rev, err := kvPlain.Put(ctx, "lat", val)
		if err != nil {
			b.Fatal(err)
		}
		for ent := range w.Updates() {
			if ent != nil && ent.Revision() == rev {
				break
			}
		}
		plain = append(plain, time.Since(t0))

		t0 = time.Now()
		seq, _ := p.Publish(val)
		if spinRead {
			for s.Seq() < seq {
				if time.Since(t0) > time.Minute {
					b.Fatalf("value %d never arrived", seq)
				}
			}
			after = seq
		} else if after, err = s.Wait(ctx, after); err != nil {
			b.Fatal(err)
		}
		bridged = append(bridged, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(plain)
	slices.Sort(bridged)
	pp, bp := plain[len(plain)/2], bridged[len(bridged)/2]
	b.ReportMetric(float64(pp.Nanoseconds())/1e3, "put-watch-p50-µs")
	b.ReportMetric(float64(bp.Nanoseconds())/1e3, "bridge-p50-µs")
	b.ReportMetric(float64(bp)/float64(pp), "ratio")
}
