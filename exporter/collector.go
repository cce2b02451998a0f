package exporter

import (
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seqshm/seqshm/shmfile"
)

// Defaults of Options.
const (
	DefaultMaxValue  = 1 << 20 // bytes of one value the exporter reads
	DefaultMaxFields = 1000    // numbers exported from one value
)

// Options configure a Collector. A nil *Options means the defaults.
type Options struct {
	// Globs select the segments by name, as path.Match patterns ("imu*",
	// "robot.?"); a segment matching any is exported. None means all.
	Globs []string
	// Owner, if set, is the user (a name or a numeric uid) whose segments
	// alone are exported; see seqlock.OpenOptions.Owner.
	Owner string
	// MaxValue bounds the value the exporter reads from one segment, in
	// bytes: 0 means DefaultMaxValue. A larger value is not decoded (the
	// segment's seqshm_up is 0); the segment's other metrics are exported.
	MaxValue int
	// MaxFields bounds the numbers exported from one value: 0 means
	// DefaultMaxFields. The rest are skipped.
	MaxFields int
	// Log, if set, is told when a segment starts failing (err != nil) and
	// when it is readable again (err == nil): once per change, not at
	// every scrape. It is called from Collect, one call at a time.
	Log func(name string, err error)
}

// A Collector exports the segments matching its globs. It is a
// prometheus.Collector: register it with a registry. Collect may be called
// concurrently; scrapes are then done one after the other.
type Collector struct {
	opts Options

	mu       sync.Mutex
	segs     map[string]*segment // by name; the matching segments seen at the last scrape
	gen      uint64              // scrapes so far
	lastSize int                 // samples sent at the last scrape
	closed   bool
}

// ErrBadPattern: a glob of Options.Globs is malformed. It is
// path.ErrBadPattern.
var ErrBadPattern = path.ErrBadPattern

// New returns a Collector with opts. It fails only for a malformed glob
// (an error wrapping ErrBadPattern) or a negative limit.
func New(opts *Options) (*Collector, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	for _, g := range o.Globs {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
	}
	if len(o.Globs) == 0 {
		o.Globs = []string{"*"}
	}
	switch {
	case o.MaxValue < 0:
		return nil, fmt.Errorf("MaxValue %d is negative", o.MaxValue)
	case o.MaxFields < 0:
		return nil, fmt.Errorf("MaxFields %d is negative", o.MaxFields)
	case o.MaxValue == 0:
		o.MaxValue = DefaultMaxValue
	}
	if o.MaxFields == 0 {
		o.MaxFields = DefaultMaxFields
	}
	return &Collector{opts: o, segs: map[string]*segment{}}, nil
}

// Match reports whether the segment name is one the Collector exports.
func (c *Collector) Match(name string) bool {
	for _, g := range c.opts.Globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Describe sends nothing: the Collector is unchecked, because the label
// names of seqshm_value vary with the segment (see the package
// documentation).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every matching segment once and sends its metrics. A
// segment that cannot be read is reported by its seqshm_up and
// seqshm_read_errors_total; only a failure to list the segment directory
// is an error of the whole collection (an invalid metric).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		ch <- prometheus.NewInvalidMetric(descUp, errors.New("exporter: collector closed"))
		return
	}
	infos, err := shmfile.List()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descUp, fmt.Errorf("exporter: list the segments: %w", err))
		return
	}
	c.gen++
	out := &samples{ch: ch, size: c.lastSize}
	seen := 0
	for _, info := range infos {
		if !c.Match(info.Name) {
			continue
		}
		s := c.segs[info.Name]
		if s == nil {
			s = newSegment(info.Name)
			c.segs[info.Name] = s
		}
		s.gen = c.gen
		if s.collect(&c.opts, info, out) {
			seen++
		}
	}
	// Forget the segments that are gone (or no longer match).
	for name, s := range c.segs {
		if s.gen != c.gen {
			s.close()
			delete(c.segs, name)
		}
	}
	out.send(descSegments, nil, float64(seen), false)
	c.lastSize = out.count
}

// Close closes the segments the Collector holds open. Collect afterwards
// reports an error.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, s := range c.segs {
		s.close()
		delete(c.segs, name)
	}
	c.closed = true
	return nil
}
