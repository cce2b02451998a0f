package natskv

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// ScanInterval is how often ExportGlob looks for new segments.
const ScanInterval = time.Second

// An ExportMapping selects segments for ExportGlob: those whose names
// match Glob (path.Match: '*' any run of characters, '?' one, [a-z] a
// class) are exported to the key Prefix + SegmentKey(name). Prefix is
// prepended as it is: give "site1." for a token of its own.
type ExportMapping struct {
	Glob   string
	Prefix string
}

// Key returns the key of segment name, or "" if name does not match.
func (m ExportMapping) Key(name string) string {
	if ok, _ := path.Match(m.Glob, name); !ok {
		return ""
	}
	return m.Prefix + SegmentKey(name)
}

// CheckExportMapping checks the glob's syntax and that the prefix makes
// valid keys.
func CheckExportMapping(m ExportMapping) error {
	if _, err := path.Match(m.Glob, ""); err != nil {
		return &Error{Op: "check glob " + m.Glob, Err: err}
	}
	if m.Prefix != "" {
		return CheckKey(m.Prefix + "x")
	}
	return nil
}

// ExportGlob exports every segment matched by one of maps (the first
// that matches decides the key), each as Export does, through one
// connection: one sender goroutine per segment sleeps between writes, and
// one poller goroutine detects new values in all segments at the rate cap
// (or, with ExportOptions.WaitPerSegment or Spin, one goroutine per segment
// blocked in Subscriber.Wait, as Export does). It looks for new segments
// every ScanInterval. A segment whose key another exporter owns, or that
// cannot be opened, is left alone, with a log line, and tried again after
// Stale, and so is one whose export fails otherwise.
// It returns nil when ctx ends, after releasing its keys.
func ExportGlob(ctx context.Context, nc *nats.Conn, maps []ExportMapping, opts *ExportOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	for _, m := range maps {
		if err := CheckExportMapping(m); err != nil {
			return err
		}
	}
	b, err := newBucketRef(ctx, nc, "export", o.Bucket, o.Logf)
	if err != nil {
		return err
	}
	var pl *poller
	if !o.WaitPerSegment && o.Spin <= 0 {
		interval := o.interval()
		if interval == 0 {
			interval = time.Second / DefaultMaxRate
		}
		pl = newPoller(interval)
		defer pl.close()
	}
	type result struct {
		name string
		err  error
	}
	var (
		running = map[string]string{}    // segment → key, of the segments being exported
		keys    = map[string]string{}    // key → segment, to refuse two segments on one key
		refused = map[string]time.Time{} // segment → when to try again
		done    = make(chan result)
		scan    = time.NewTicker(ScanInterval)
	)
	defer scan.Stop()
	start := func(name, key string) {
		sub, err := seqlock.Open(name, nil)
		if err != nil {
			if !notCreatedYet(err) {
				o.Logf("cannot open segment %q: %v", name, err)
				refused[name] = time.Now().Add(o.Stale)
			}
			return
		}
		running[name], keys[key] = key, name
		so := o
		so.Key = key
		go func() {
			done <- result{name, exportSegment(ctx, nc, b, sub, so, pl)}
		}()
	}
	for {
		infos, err := shmfile.List()
		if err != nil {
			o.Logf("cannot list segments: %v", err)
		}
		now := time.Now()
		for _, info := range infos {
			if running[info.Name] != "" || now.Before(refused[info.Name]) {
				continue
			}
			for _, m := range maps {
				key := m.Key(info.Name)
				switch {
				case key == "":
					continue
				case keys[key] != "" && keys[key] != info.Name:
					o.Logf("segment %q not exported: key %q is already segment %q's", info.Name, key, keys[key])
					refused[info.Name] = now.Add(time.Hour)
				default:
					start(info.Name, key)
				}
				break
			}
		}
	wait:
		select {
		case <-ctx.Done():
			for len(running) > 0 {
				r := <-done
				delete(running, r.name)
			}
			return nil
		case r := <-done:
			delete(keys, running[r.name])
			delete(running, r.name)
			// A failed export (a segment corrupt, truncated or beyond the
			// reader's limit) is tried again after Stale, as a segment
			// another exporter owns: not at every scan, with a line each.
			var owned *OwnedError
			if errors.As(r.err, &owned) {
				o.Logf("segment %q not exported: another exporter owns key %q; trying again in %v", r.name, owned.Key, o.Stale)
				refused[r.name] = time.Now().Add(o.Stale)
			} else if r.err != nil {
				o.Logf("segment %q: %v; trying again in %v", r.name, r.err, o.Stale)
				refused[r.name] = time.Now().Add(o.Stale)
			}
			goto wait
		case <-scan.C:
		}
	}
}
