package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The metric families. Their label sets are documented in the package
// documentation; seqshm_value's vary (index and unit only where they
// apply), which is why the Collector is unchecked (Describe sends nothing).
var (
	descUp = prometheus.NewDesc("seqshm_up",
		"1 if the segment was opened, read and its value decoded at this scrape, else 0.", nil, nil)
	descReadErrors = prometheus.NewDesc("seqshm_read_errors_total",
		"Scrapes at which the segment could not be opened, read or decoded.", nil, nil)
	descWrites = prometheus.NewDesc("seqshm_writes_total",
		"Values written into the segment so far: the write number of the newest value.", nil, nil)
	descValueBytes = prometheus.NewDesc("seqshm_value_bytes",
		"Length of the newest value in bytes.", nil, nil)
	descCapacity = prometheus.NewDesc("seqshm_capacity_bytes",
		"Largest value the segment can hold, in bytes.", nil, nil)
	descTimestamp = prometheus.NewDesc("seqshm_value_timestamp_seconds",
		"Publish time of the newest value, in seconds since the Unix epoch; absent if unstamped.", nil, nil)
	descAge = prometheus.NewDesc("seqshm_value_age_seconds",
		"Seconds from the publish time of the newest value to the scrape; absent if unstamped.", nil, nil)
	descWriterState = prometheus.NewDesc("seqshm_writer_state",
		"State of the segment's publisher: 1 for the current state (alive, closed, died or none), 0 for the others.", nil, nil)
	descValue = prometheus.NewDesc("seqshm_value",
		"A number in the segment's newest value (bools as 0 and 1), by field path; index for struct array elements, unit as the schema gives it.", nil, nil)
	descSegments = prometheus.NewDesc("seqshm_exporter_segments",
		"Segments matching the exporter's globs at this scrape.", nil, nil)
)

// Label names, shared by every label pair (never modified).
var (
	lnSegment = "segment"
	lnState   = "state"
	lnField   = "field"
	lnIndex   = "index"
	lnUnit    = "unit"
)

// writerStates are the values of the state label, indexed by
// seqlock.WriterState.
var writerStates = [...]string{"none", "alive", "closed", "died"}

// A sample is one metric of one scrape. Its label pairs are built once per
// segment (or field) and shared between scrapes, read-only; the sample
// itself is never changed after it is sent, so a registry may write it
// while the next scrape runs.
type sample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair // sorted by name
	value   float64
	counter bool
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	v := s.value
	if s.counter {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// samples sends the samples of one scrape to ch, allocating them in
// chunks, so that a scrape makes a few allocations rather than one a
// metric.
type samples struct {
	ch    chan<- prometheus.Metric
	chunk []sample
	size  int // the size of the first chunk
	count int // samples sent
}

// send sends the sample of d with labels and v.
func (p *samples) send(d *prometheus.Desc, labels []*dto.LabelPair, v float64, counter bool) {
	if len(p.chunk) == cap(p.chunk) {
		p.chunk = make([]sample, 0, max(p.size, 64))
	}
	p.count++
	p.chunk = p.chunk[:len(p.chunk)+1]
	m := &p.chunk[len(p.chunk)-1]
	*m = sample{desc: d, labels: labels, value: v, counter: counter}
	p.ch <- m
}

// labelPair returns a label pair of the shared name and a value.
func labelPair(name *string, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: name, Value: &value}
}
