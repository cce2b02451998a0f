package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

// window accumulates what -stats observes during one report interval.
type window struct {
	start     time.Time
	startSeq  uint64
	observed  int
	unstamped int
	future    int             // stamped after they were observed: clock skew
	latencies []time.Duration // publish to observation, of stamped values
}

// statsJSON is one -stats report as -json prints it.
type statsJSON struct {
	Name      string    `json:"name"`
	Time      time.Time `json:"time"` // end of the interval
	Seconds   float64   `json:"seconds"`
	Writes    uint64    `json:"writes"`
	Rate      float64   `json:"rate"` // writes per second
	Observed  int       `json:"observed"`
	Coalesced uint64    `json:"coalesced"`
	Future    int       `json:"future,omitzero"` // values stamped in the future, left out of the latency
	P50NS     *int64    `json:"latency_p50_ns,omitempty"`
	P99NS     *int64    `json:"latency_p99_ns,omitempty"`
	MaxNS     *int64    `json:"latency_max_ns,omitempty"`
}

// stats follows the segment and reports every cfg.interval how many values
// were written, how many of them it observed, and how long after their
// publish time it observed them.
func stats(ctx context.Context, cfg *config, out *bufio.Writer) error {
	s, err := openWithin(ctx, cfg)
	if err != nil {
		return stopped(ctx, err)
	}
	defer func() { s.Close() }()
	var buf []byte
	last := s.Seq() // the value there before we came is not observed
	w := window{start: time.Now(), startSeq: last}
	for {
		end := w.start.Add(cfg.interval)
		var err error
		if cfg.spin {
			last, err = observeSpinning(ctx, s, &buf, last, end, &w)
		} else {
			last, err = observeWaiting(ctx, s, &buf, last, end, &w)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && cfg.spin {
			// -spin does not Wait, which would say so: ask.
			if replaced, _ := s.Replaced(); replaced {
				err = seqlock.ErrRemoved
			}
		}
		if errors.Is(err, seqlock.ErrRemoved) {
			// Removed, or removed and created anew: report on the new
			// segment once it exists.
			if s, err = reopen(ctx, cfg, s); err != nil {
				return stopped(ctx, explain(cfg, err))
			}
			last = s.Seq()
			w = window{start: time.Now(), startSeq: last, latencies: w.latencies[:0]}
			continue
		}
		if err != nil {
			return explain(cfg, err)
		}
		now, seq := time.Now(), s.Seq()
		if err := w.report(out, cfg, now, seq); err != nil {
			return writeError(err)
		}
		w = window{start: now, startSeq: seq, latencies: w.latencies[:0]}
	}
}

// observe records a value with meta m, read at now.
func (w *window) observe(m seqlock.Meta, now time.Time) {
	w.observed++
	if m.UnixNano == 0 {
		w.unstamped++
		return
	}
	if l := now.Sub(m.Time()); l >= 0 {
		w.latencies = append(w.latencies, l)
	} else {
		w.future++
	}
}

// observeWaiting observes values, sleeping in Wait between them, until end.
func observeWaiting(ctx context.Context, s *seqlock.Subscriber, buf *[]byte, last uint64, end time.Time, w *window) (uint64, error) {
	wctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	for {
		if _, err := s.Wait(wctx, last); err != nil {
			if wctx.Err() != nil {
				return last, nil
			}
			return last, err
		}
		var err error
		if last, err = w.take(s, buf, last); err != nil {
			return last, err
		}
	}
}

// take reads the newest value and, if it is newer than last, observes it;
// it returns the newest write number seen.
func (w *window) take(s *seqlock.Subscriber, buf *[]byte, last uint64) (uint64, error) {
	value, m, err := s.ReadValue(*buf)
	now := time.Now()
	if errors.Is(err, seqlock.ErrLapped) {
		return last, nil // that value is gone; the next take sees a newer one
	}
	if err != nil {
		return last, err
	}
	*buf = value
	if m.Seq > last {
		last = m.Seq
		w.observe(m, now)
	}
	return last, nil
}

// observeSpinning observes values, polling the counter without pause,
// until end.
func observeSpinning(ctx context.Context, s *seqlock.Subscriber, buf *[]byte, last uint64, end time.Time, w *window) (uint64, error) {
	for i := 0; ; i++ {
		if i%256 == 0 && (ctx.Err() != nil || time.Now().After(end)) {
			return last, nil
		}
		// The Reader's Seq: an atomic load, without the fault guard of
		// Subscriber.Seq in the loop that measures latency; the Read
		// that follows has the guard.
		if s.Reader().Seq() <= last {
			continue
		}
		var err error
		if last, err = w.take(s, buf, last); err != nil {
			return last, err
		}
	}
}

// report prints the window's statistics, ended at now with the counter at
// seq.
func (w *window) report(out *bufio.Writer, cfg *config, now time.Time, seq uint64) error {
	writes := seq - w.startSeq
	secs := now.Sub(w.start).Seconds()
	coalesced := uint64(0)
	if writes > uint64(w.observed) {
		coalesced = writes - uint64(w.observed)
	}
	slices.Sort(w.latencies)
	var p50, p99, max time.Duration
	if n := len(w.latencies); n > 0 {
		p50, p99, max = w.latencies[(n-1)*50/100], w.latencies[(n-1)*99/100], w.latencies[n-1]
	}
	if cfg.json {
		j := statsJSON{Name: cfg.name, Time: now, Seconds: secs, Writes: writes, Rate: float64(writes) / secs,
			Observed: w.observed, Coalesced: coalesced, Future: w.future}
		if len(w.latencies) > 0 {
			a, b, c := int64(p50), int64(p99), int64(max)
			j.P50NS, j.P99NS, j.MaxNS = &a, &b, &c
		}
		if err := json.NewEncoder(out).Encode(j); err != nil {
			return err
		}
		return out.Flush()
	}
	latency := "latency n/a (no values)"
	switch {
	case len(w.latencies) > 0:
		latency = fmt.Sprintf("latency p50 %v p99 %v max %v", cli.RoundDuration(p50), cli.RoundDuration(p99), cli.RoundDuration(max))
	case w.unstamped > 0:
		latency = "latency n/a (unstamped)"
	}
	if w.future > 0 {
		latency += fmt.Sprintf(", %d stamped in the future (clock skew?)", w.future)
	}
	fmt.Fprintf(out, "%s: %.0f writes/s, %d observed, %d coalesced, %s\n",
		cfg.name, float64(writes)/secs, w.observed, coalesced, latency)
	return out.Flush()
}
