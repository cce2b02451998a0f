package natskv

import (
	"sync"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// A poller detects changes in many segments with one goroutine: every
// interval it loads each registered segment's write number (an atomic
// load, no system call) and signals the exporters whose segment has a new
// value. It replaces one goroutine sleeping in Subscriber.Wait per
// segment, whose bounded futex sleeps (every 100 ms) cost a third of a
// core for 1,000 idle segments when each also checked that its segment was
// not replaced (now at most once a second; docs/bridge.md, "Change
// detection with many segments"). A change is seen at most one interval
// late; ExportGlob polls at the rate cap, which bounds the delay of a
// write anyway. It is safe for concurrent use.
type poller struct {
	mu      sync.Mutex
	entries map[*pollEntry]struct{}
	stop    chan struct{}
}

type pollEntry struct {
	sub   *seqlock.Subscriber
	after uint64 // the write number signalled last; only the poller touches it
	newer chan<- struct{}
}

func newPoller(interval time.Duration) *poller {
	p := &poller{entries: map[*pollEntry]struct{}{}, stop: make(chan struct{})}
	go p.run(max(interval, time.Millisecond))
	return p
}

func (p *poller) run(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		for e := range p.entries {
			if seq := e.sub.Seq(); seq != e.after {
				e.after = seq
				select {
				case e.newer <- struct{}{}:
				default:
				}
			}
		}
		p.mu.Unlock()
	}
}

// watch registers sub: newer is signalled when its write number differs
// from after. stop unregisters it; sub may be closed after stop returns.
func (p *poller) watch(sub *seqlock.Subscriber, after uint64, newer chan<- struct{}) (stop func()) {
	e := &pollEntry{sub: sub, after: after, newer: newer}
	p.mu.Lock()
	p.entries[e] = struct{}{}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.entries, e)
		p.mu.Unlock()
	}
}

// close stops the poller's goroutine.
func (p *poller) close() { close(p.stop) }
