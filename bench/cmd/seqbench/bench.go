package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// An inprocItem is one in-process loop: run(iters) returns ns/op.
type inprocItem struct {
	key, name string
	run       func(iters int) float64 // ns/op
	iters     int                     // calibrated
}

// An xprocItem is one cross-process ping-pong: run returns round trips.
type xprocItem struct {
	key, name string
	group     string // items compared with each other run back to back
	blocking  bool
	run       func(ctx context.Context, iters, warmup int) ([]int64, error)
}

// goLoop turns a Go loop into a timed sample on the pinned harness thread,
// with a warm-up of a tenth of the iterations (as the C loops do). loop(n)
// performs the operation n times, calling it directly as user code would:
// one call per operation, as the C loop calls seq_read or seq_write.
func goLoop(loop func(n int)) func(int) float64 {
	return func(iters int) float64 {
		loop(iters / 10)
		t0 := time.Now()
		loop(iters)
		return float64(time.Since(t0).Nanoseconds()) / float64(iters)
	}
}

// fixture holds the Go regions, writers and readers of the in-process loops.
type fixture struct {
	closers []func() error
}

func (f *fixture) close() {
	for _, c := range f.closers {
		c()
	}
}

func pair(capacity int, stamp bool) (*seqlock.Writer, *seqlock.Reader, []byte, error) {
	region := seqlock.MakeRegion(capacity)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: !stamp})
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := seqlock.NewReader(region)
	if err != nil {
		return nil, nil, nil, err
	}
	_, err = w.Write(make([]byte, capacity))
	return w, r, region, err
}

// writerWithoutWaiterArea returns a Writer on a region whose header says
// "no waiter area" (offset 104 = 0, docs/layout.md), the only way to get a
// seqlock.Writer that skips the waiter-word load: the reference for "what
// does notification support cost a publisher with nobody waiting".
func writerWithoutWaiterArea(capacity int) (*seqlock.Writer, error) {
	region := seqlock.MakeRegion(capacity)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: true})
	if err != nil {
		return nil, err
	}
	w.Close()
	const offNotify = 104
	binary.LittleEndian.PutUint64(region[offNotify:], 0)
	return seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity, NoTimestamp: true})
}

func inprocItems(f *fixture, runID string) ([]*inprocItem, error) {
	var items []*inprocItem
	add := func(key, name string, run func(int) float64) {
		items = append(items, &inprocItem{key: key, name: name, run: run})
	}
	for _, size := range []int{64, 4096} {
		w, r, _, err := pair(size, false)
		if err != nil {
			return nil, err
		}
		p, buf := make([]byte, size), make([]byte, size)
		sz := sizeName(size)
		add("go-read-"+sz, "Go Reader.Read "+sz, goLoop(func(n int) {
			for range n {
				r.Read(buf)
			}
		}))
		add("c-read-"+sz, "C seqlock read "+sz, cLoop(size, 'r'))
		add("go-write-"+sz, "Go Writer.Write "+sz, goLoop(func(n int) {
			for range n {
				w.Write(p)
			}
		}))
		add("c-write-"+sz, "C release-store write "+sz, cLoop(size, 'w'))

		var mu sync.RWMutex
		src := make([]byte, size)
		add("rwmutex-read-"+sz, "sync.RWMutex read "+sz, goLoop(func(n int) {
			for range n {
				mu.RLock()
				copy(buf, src)
				mu.RUnlock()
			}
		}))
		var ap atomic.Pointer[[]byte]
		ap.Store(&src)
		add("atomicptr-read-"+sz, "atomic.Pointer read "+sz, goLoop(func(n int) {
			for range n {
				copy(buf, *ap.Load())
			}
		}))
	}
	// Writer variants at 64 B.
	ws, _, _, err := pair(64, true)
	if err != nil {
		return nil, err
	}
	p := make([]byte, 64)
	add("go-write-stamped-64B", "Go Writer.Write 64B, stamped", goLoop(func(n int) {
		for range n {
			ws.Write(p)
		}
	}))
	wn, err := writerWithoutWaiterArea(64)
	if err != nil {
		return nil, err
	}
	add("go-write-nowaiter-64B", "Go Writer.Write 64B, no waiter area", goLoop(func(n int) {
		for range n {
			wn.Write(p)
		}
	}))
	add("c-writenotify-64B", "C write 64B + waiter-word check", cLoop(64, 'n'))
	var ap atomic.Pointer[[]byte]
	add("atomicptr-publish-64B", "atomic.Pointer publish 64B (alloc+copy)", goLoop(func(n int) {
		for range n {
			b := make([]byte, 64)
			copy(b, p)
			ap.Store(&b)
		}
	}))
	// The named-segment API: Publisher and Subscriber add fault handling.
	name := "seqbench-" + runID + "-inproc"
	pub, err := namedWriter(f, name, 0, false)
	if err != nil {
		return nil, err
	}
	sub, err := seqlock.Open(name, nil)
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, sub.Close)
	buf := make([]byte, 64)
	add("go-publish-64B", "Go Publisher.Publish 64B, no timestamp", goLoop(func(n int) {
		for range n {
			pub.Publish(p)
		}
	}))
	// The same, stamped (Options.NoTimestamp false, the default): one
	// monotonic clock read more per Publish.
	pubs, err := namedWriter(f, name+"-stamped", 0o600, true)
	if err != nil {
		return nil, err
	}
	add("go-publish-stamped-64B", "Go Publisher.Publish 64B, stamped (the default)", goLoop(func(n int) {
		for range n {
			pubs.Publish(p)
		}
	}))
	// Publish with nobody waiting on named segments: mode 0600 (only the
	// segment's own waiter word is loaded after the commit) and mode 0644
	// (the publisher also has a foreign waiter area for subscribers of
	// other users, and loads its word too). Through Publisher.Writer, the
	// hot-loop path, so that the two loads are a larger share.
	own, err := namedWriter(f, name+"-own", 0o600, false)
	if err != nil {
		return nil, err
	}
	foreign, err := namedWriter(f, name+"-foreign", 0o644, false)
	if err != nil {
		return nil, err
	}
	if !hasForeignArea(name + "-foreign") {
		return nil, fmt.Errorf("segment %s (mode 0644) has no foreign waiter area: no System V IPC here?", name+"-foreign")
	}
	wo, wf := own.Writer(), foreign.Writer()
	add("go-write-own-64B", "Go Publisher.Writer().Write 64B, mode 0600 (own waiter word)", goLoop(func(n int) {
		for range n {
			wo.Write(p)
		}
	}))
	add("go-write-foreign-64B", "Go Publisher.Writer().Write 64B, mode 0644 (own + foreign waiter word)", goLoop(func(n int) {
		for range n {
			wf.Write(p)
		}
	}))
	add("go-subread-64B", "Go Subscriber.Read 64B", goLoop(func(n int) {
		for range n {
			sub.Read(buf)
		}
	}))
	return items, nil
}

// namedWriter creates a 64-byte named segment of the given mode (0: the
// default), removed when f closes, and publishes a first value.
func namedWriter(f *fixture, name string, mode os.FileMode, stamp bool) (*seqlock.Publisher, error) {
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: 64, NoTimestamp: !stamp, Mode: mode})
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, pub.Close, func() error { return seqlock.Remove(name) })
	_, err = pub.Publish(make([]byte, 64))
	return pub, err
}

// hasForeignArea reports whether the named segment records a foreign
// waiter area (docs/layout.md: the waiter area's offset at 104, the System
// V id + 1 at 8 within it).
func hasForeignArea(name string) bool {
	b, err := os.ReadFile(filepath.Join(shmfile.Dir(), name))
	if err != nil || len(b) < 112 {
		return false
	}
	off := binary.LittleEndian.Uint64(b[104:])
	return off != 0 && off+16 <= uint64(len(b)) && binary.LittleEndian.Uint64(b[off+8:]) != 0
}

func xprocItems(c *config) []*xprocItem {
	const size = 64
	cpp := func(mode string) func(context.Context, int, int) ([]int64, error) {
		return func(ctx context.Context, iters, warmup int) ([]int64, error) {
			return cPingPong(ctx, c, mode, size, iters, warmup)
		}
	}
	// gpp runs a Go pair: pairProcs{} is this build, as this user.
	gpp := func(pp pairProcs, mode string) func(context.Context, int, int) ([]int64, error) {
		return func(ctx context.Context, iters, warmup int) ([]int64, error) {
			return goPingPong(ctx, c, pp, mode, size, iters, warmup)
		}
	}
	items := []*xprocItem{
		{key: "go-spin", group: "spin", name: "seqshm, spinning reader (Go)", run: gpp(pairProcs{}, "seqlock-spin")},
		{key: "c-spin", group: "spin", name: "C seqlock, spinning reader", run: cpp("pp-seqlock")},
		{key: "go-wait", group: "wake", name: "seqshm, Subscriber.Wait (Go)", blocking: true, run: gpp(pairProcs{}, "seqlock-wait")},
		{key: "c-futex", group: "wake", name: "raw futex wake (C)", blocking: true, run: cpp("pp-futex")},
		{key: "go-futex", group: "wake", name: "raw futex wake (Go)", blocking: true, run: gpp(pairProcs{}, "futex")},
		{key: "c-pipe", group: "pipe", name: "pipe (C)", blocking: true, run: cpp("pp-pipe")},
		{key: "c-uds", group: "uds", name: "Unix socket (C)", blocking: true, run: cpp("pp-uds")},
		{key: "go-uds", group: "uds", name: "Unix socket (Go net)", blocking: true, run: gpp(pairProcs{}, "uds")},
	}
	// -xuser: Wait between two processes of two other users, each reading
	// the other's mode-0644 segment through the foreign waiter area, in
	// the same passes as the same-user Wait and the raw futex pairs.
	if c.xuser[0] != nil {
		pp := pairProcs{exe: c.xuserExe, creds: c.xuser, outDir: c.xuserDir}
		items = append(items, &xprocItem{key: "go-wait-xuser", group: "wake",
			name: "seqshm, Subscriber.Wait, each side another user (foreign waiter area)", blocking: true, run: gpp(pp, "seqlock-wait-shared")})
	}
	// -alt: the same Go pairs from other builds of seqbench (another
	// checkout's seqlock), run back to back with this build's.
	for _, a := range c.alts {
		pp := pairProcs{exe: a.exe}
		items = append(items,
			&xprocItem{key: "go-spin-" + a.name, group: "spin", name: "seqshm, spinning reader (Go, " + a.name + ")", run: gpp(pp, "seqlock-spin")},
			&xprocItem{key: "go-wait-" + a.name, group: "wake", name: "seqshm, Subscriber.Wait (Go, " + a.name + ")", blocking: true, run: gpp(pp, "seqlock-wait")})
	}
	return items
}

// xgroups splits items into their groups, in the order groups first occur.
func xgroups(items []*xprocItem) [][]*xprocItem {
	var groups [][]*xprocItem
	at := make(map[string]int)
	for _, it := range items {
		i, ok := at[it.group]
		if !ok {
			i = len(groups)
			at[it.group] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], it)
	}
	return groups
}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// calibrate picks iterations so that one sample lasts about c.sampleMS.
func calibrate(c *config, it *inprocItem) {
	iters := 20000
	for range 2 {
		ns := max(it.run(iters), 0.1)
		iters = max(int(c.sampleMS*1e6/ns), 1000)
	}
	it.iters = iters
}

func bench(ctx context.Context, c *config, log io.Writer) (*Results, error) {
	res := &Results{Machine: machine(), Quick: c.quick, Rounds: c.rounds, CPUs: c.cpus}
	gcc, err := buildC(ctx, c)
	if err != nil {
		return nil, err
	}
	res.Machine.CC = gcc
	runID := fmt.Sprint(os.Getpid())
	if res.Layout, err = layoutCheck(ctx, c, runID); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "seqbench: %s\n", res.Layout)

	// The in-process loops run on this goroutine's thread, pinned to the
	// pong CPU; the ping CPU stays for the ping sides only.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return nil, err
	}
	// Restore the thread's CPUs afterwards: go test (-gotest) and anything
	// else started from this thread inherit its mask.
	defer unix.SchedSetaffinity(0, &orig)
	if err := pin(c.cpus[1]); err != nil {
		return nil, err
	}
	var f fixture
	defer f.close()
	items, err := inprocItems(&f, runID)
	if err != nil {
		return nil, err
	}
	items = slices.DeleteFunc(items, func(it *inprocItem) bool { return !c.run.MatchString(it.key) })
	res.Allocs, err = allocs(runID)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		calibrate(c, it)
	}
	xitems := slices.DeleteFunc(xprocItems(c), func(it *xprocItem) bool { return !c.run.MatchString(it.key) })
	groups := xgroups(xitems)
	ip := make(map[string][]float64)
	xp := make(map[string][][]int64)
	for round := range c.rounds {
		t0 := time.Now()
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		// Several short passes over every loop, each pass in its own
		// random order: the two sides of a ratio are measured
		// milliseconds apart, many times, and a burst of noise spoils
		// a few samples instead of a whole round. The round's figure
		// for a loop is the median of its passes.
		passes := make(map[string][]float64)
		for range c.passes {
			for _, i := range rng.Perm(len(items)) {
				it := items[i]
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				passes[it.key] = append(passes[it.key], it.run(it.iters))
			}
		}
		for k, v := range passes {
			ip[k] = append(ip[k], median(v))
		}
		// Cross-process pairs: passes too, and in each pass the two
		// sides of a ratio run back to back (in random order), because
		// where the host places the two virtual CPUs (one core's two
		// threads, two cores, two dies) moves the one-way latency
		// between about 70 and 500 ns from one minute to the next.
		for range c.xpasses {
			for _, g := range rng.Perm(len(groups)) {
				grp := groups[g]
				for _, i := range rng.Perm(len(grp)) {
					it := grp[i]
					// The warm-up round trips (not timed) let a new
					// process settle: page faults, the Go runtime's
					// start-up work, the CPU's caches and predictors.
					n := c.spin
					if it.blocking {
						n = c.blocking
					}
					s, err := it.run(ctx, n.iters, n.warmup)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", it.name, err)
					}
					xp[it.key] = append(xp[it.key], s)
				}
			}
		}
		fmt.Fprintf(log, "seqbench: round %d/%d done in %s\n", round+1, c.rounds, time.Since(t0).Round(time.Millisecond))
	}
	res.Machine.LoadEnd = loadavg()
	for _, it := range items {
		res.Inproc = append(res.Inproc, newInproc(it.key, it.name, ip[it.key]))
	}
	for _, it := range xitems {
		res.Xproc = append(res.Xproc, newXproc(it.key, it.name, it.blocking, xp[it.key]))
	}
	res.ratios()
	return res, nil
}

// layoutCheck publishes a value with the Go writer into a named segment
// and reads it back with the C reader.
func layoutCheck(ctx context.Context, c *config, runID string) (string, error) {
	for _, capacity := range []int{64, 4096} {
		name := fmt.Sprintf("seqbench-%s-layout-%d", runID, capacity)
		pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity})
		if err != nil {
			return "", err
		}
		want := make([]byte, capacity-3) // odd length: checks the length field too
		for i := range want {
			want[i] = byte(i*7 + capacity)
		}
		pub.Publish([]byte("first"))
		pub.Publish(want)
		seq, got, err := cCheck(ctx, c, name)
		pub.Close()
		seqlock.Remove(name)
		if err != nil {
			return "", err
		}
		if seq != 2 || !bytes.Equal(got, want) {
			return "", fmt.Errorf("layout check, capacity %d: C reader got write %d, %d bytes (equal: %v); want write 2, %d bytes",
				capacity, seq, len(got), bytes.Equal(got, want), len(want))
		}
	}
	return "layout check: the C reader reads values written by seqlock.Publisher (capacity 64 and 4096): ok", nil
}

// allocs measures heap allocations per operation with runtime.MemStats.
func allocs(runID string) ([]Alloc, error) {
	// MemStats counts every goroutine's allocations (the runtime's own
	// too), so the least of three tries is taken.
	per := func(op func()) float64 {
		op()
		best := math.Inf(1)
		for range 3 {
			runtime.GC()
			var a, b runtime.MemStats
			runtime.ReadMemStats(&a)
			const n = 10000
			for range n {
				op()
			}
			runtime.ReadMemStats(&b)
			best = min(best, float64(b.Mallocs-a.Mallocs)/n)
		}
		return best
	}
	w, r, _, err := pair(64, false)
	if err != nil {
		return nil, err
	}
	ws, _, _, err := pair(64, true)
	if err != nil {
		return nil, err
	}
	name := "seqbench-" + runID + "-allocs"
	pub, err := seqlock.Create(name, &seqlock.Options{Capacity: 64})
	if err != nil {
		return nil, err
	}
	defer seqlock.Remove(name)
	defer pub.Close()
	sub, err := seqlock.Open(name, nil)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	p, buf := make([]byte, 64), make([]byte, 64)
	pub.Publish(p)
	ctx := context.Background()
	return []Alloc{
		{"Writer.Write 64B", per(func() { w.Write(p) })},
		{"Writer.Write 64B, stamped", per(func() { ws.Write(p) })},
		{"Reader.Read 64B", per(func() { r.Read(buf) })},
		{"Publisher.Publish 64B (stamped)", per(func() { pub.Publish(p) })},
		{"Subscriber.Read 64B", per(func() { sub.Read(buf) })},
		{"Subscriber.Wait, value already there", per(func() { sub.Wait(ctx, 0) })},
	}, nil
}
