package exporter_test

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/seqshm/seqshm/exporter"
	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// scrapeSegments is the number of segments of the scrape measurements.
const scrapeSegments = 1000

// makeSegments creates n segments in the test's segment directory, a
// quarter of each kind: struct (pose, 8 numbers), json (5), text (3),
// bytes. Their publishers are closed.
func makeSegments(tb testing.TB, n int) {
	tb.Helper()
	for i := range n {
		name := fmt.Sprintf("seg%04d", i)
		switch i % 4 {
		case 0:
			pub, err := seqlock.CreateTyped[pose](name, nil)
			if err == nil {
				_, err = pub.Publish(pose{X: float64(i), Y: 2, Cov: [3]float32{1, 2, 3}, OK: true})
				pub.Close()
			}
			if err != nil {
				tb.Fatal(err)
			}
		case 1:
			publish(tb, name, kind(schema.JSON), fmt.Sprintf(`{"pos":{"x":%d,"y":2.5},"v":[1,2],"ok":true,"id":"abc"}`, i))
		case 2:
			publish(tb, name, kind(schema.Text), fmt.Sprintf("ax=0.01 ay=-0.02 az=%d", i))
		case 3:
			publish(tb, name, nil, "opaque bytes, exported as facts only")
		}
	}
}

// scrapeHandler is /metrics as seqshm-exporter serves it, over the
// segments of the test's directory.
// The scrape returns the size of the response body; gzip asks for it
// compressed, as Prometheus does.
func scrapeHandler(tb testing.TB) (*exporter.Collector, func(gzip bool) int) {
	c, err := exporter.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return c, func(gzip bool) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			tb.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
		}
		return rec.Body.Len()
	}
}

// TestScrape1000 measures a whole scrape (list, read, decode, encode as
// text) of 1,000 segments and logs it: go test -run Scrape1000 -v. It
// asserts no time; docs/exporter.md has the numbers.
func TestScrape1000(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	testproc.SegDir(t)
	start := time.Now()
	makeSegments(t, scrapeSegments)
	t.Logf("created %d segments in %v", scrapeSegments, time.Since(start).Round(time.Millisecond))
	c, scrape := scrapeHandler(t)
	defer c.Close()
	start = time.Now()
	size := scrape(false) // opens every segment
	first := time.Since(start)
	t.Logf("%s/%s, %d CPUs; first scrape (opening every segment) %v", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), first.Round(time.Microsecond))
	for _, gzip := range []bool{false, true} {
		var times []time.Duration
		for range 20 {
			start := time.Now()
			size = scrape(gzip)
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		t.Logf("scrape of %d segments, gzip %v (%d bytes): median %v, min %v, max %v over %d",
			scrapeSegments, gzip, size, times[len(times)/2].Round(time.Microsecond),
			times[0].Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond), len(times))
	}
}

// BenchmarkScrape1000 is one scrape of 1,000 segments, in the steady
// state (segments open, label sets cached).
func BenchmarkScrape1000(b *testing.B) {
	testproc.SegDir(b)
	makeSegments(b, scrapeSegments)
	c, scrape := scrapeHandler(b)
	defer c.Close()
	scrape(false)
	b.ReportAllocs()
	for b.Loop() {
		scrape(false)
	}
}

// BenchmarkCollect1000 is the Collector's part alone: Collect into a
// channel drained by another goroutine, without the registry's checks
// and the encoding.
func BenchmarkCollect1000(b *testing.B) {
	testproc.SegDir(b)
	makeSegments(b, scrapeSegments)
	c, err := exporter.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	collect := func() {
		ch := make(chan prometheus.Metric, 256)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		c.Collect(ch)
		close(ch)
		<-done
	}
	collect()
	b.ReportAllocs()
	for b.Loop() {
		collect()
	}
}
