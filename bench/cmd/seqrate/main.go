// Command seqrate measures how many new values a seqshm Reader sees while a
// seqshm Writer publishes back to back, beside a minimal C
// seqlock reader (bench/c/ratereader.c) under the same Go writer, in the
// placements a user runs: each process's one thread locked and pinned
// ("locked"), processes pinned by taskset with GOMAXPROCS 1 and 2
// ("taskset/1", "taskset/2"), and nothing pinned ("unpinned"). Writer on
// CPU 0, reader on CPU 1. Runs are interleaved in random order per round.
//
//	go run ./cmd/seqrate [-rounds 3] [-dur 300ms] [-place locked,taskset/1,taskset/2,unpinned] [-load 0,1,2,3]
//	    [-impl go,c] [-go NAME=EXE,...] [-wrap 'strace -f -e trace=futex -c -o FILE']
//
// (from bench/; needs gcc and taskset). Columns: new values seen per second
// (median over rounds, min–max), ErrLapped (or the C reader giving up after
// 1000 attempts) as a share of Read calls, the reader process's voluntary
// context switches per second (all threads: the Go runtime's sysmon sleeps
// count), those of the reading thread alone where the reader is locked to
// it (futex sleeps: Read must make none), and go/C, the median of the
// per-round ratios of new values per second.
//
// Load 3 paces the writer at one write per µs and times each Write (two
// reads of the time-stamp counter around it); it runs with each reader at full rate
// and with no reader ("alone"), and a second table gives the writer's
// mean ns per Write, the same less the clock pair's own mean, and the
// median of the per-round ratios with a reader / alone.
//
// -go runs more Go readers: seqrate binaries built from other checkouts
// (copy this directory into that checkout's bench module and build it
// there), as readers under this build's writer. -wrap prefixes the Go
// reader's command line (e.g. strace), for checking its system calls.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

const childEnv = "SEQRATE_CHILD"

func main() {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "seqrate child:", err)
			os.Exit(1)
		}
		return
	}
	if err := drive(); err != nil {
		fmt.Fprintln(os.Stderr, "seqrate:", err)
		os.Exit(1)
	}
}

type placement struct {
	name    string
	taskset bool // pin each process with taskset -c
	lock    bool // each Go process locks its goroutine to a thread pinned to its CPU (the C reader pins itself)
	gmp     int  // GOMAXPROCS (0: default)
}

var placements = []placement{
	{name: "locked", lock: true},
	{name: "taskset/1", taskset: true, gmp: 1},
	{name: "taskset/2", taskset: true, gmp: 2},
	{name: "unpinned"},
}

type load struct {
	name   string
	size   int
	every  time.Duration // the reader's pace (0: back to back)
	wevery time.Duration // the writer's pace (0: back to back)
}

// The last load is the paced writer: one write per µs, timed write by write,
// with a full-rate reader of each kind and with none ("alone"), to show
// what a reader costs a writer that is not saturated.
var loads = []load{{"64 B full rate", 64, 0, 0}, {"64 B every 10 µs", 64, 10 * time.Microsecond, 0}, {"4 KiB full rate", 4096, 0, 0},
	{"64 B, writer paced 1/µs", 64, 0, time.Microsecond}}

// alone is the pseudo-reader of the paced-writer load: no reader at all.
const alone = "alone"

type result struct{ fresh, ops, lapped, vcsw, tvcsw, secs, wns, wnet float64 }

func drive() error {
	rounds := flag.Int("rounds", 3, "interleaved rounds")
	dur := flag.Duration("dur", 300*time.Millisecond, "window per run")
	places := flag.String("place", "", "comma-separated placements (default all)")
	impls := flag.String("impl", "go,c", "readers to run: go, c or both")
	others := flag.String("go", "", "more Go readers, as NAME=EXE,... (seqrate binaries built from other checkouts), run interleaved beside go and c")
	sizes := flag.String("load", "", "comma-separated loads by index: 0 = 64 B, 1 = 64 B every 10 µs, 2 = 4 KiB, 3 = 64 B with the writer paced at 1/µs (default all)")
	wrap := flag.String("wrap", "", "command prefix for the Go reader processes, split at spaces (e.g. 'strace -f -e trace=futex -c -o /tmp/futex.txt')")
	flag.Parse()
	exe, _ := os.Executable()
	tmp, err := os.MkdirTemp("", "seqrate")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := "c/ratereader.c"
	if _, err := os.Stat(src); err != nil {
		src = "bench/c/ratereader.c"
	}
	cbin := filepath.Join(tmp, "ratereader")
	if out, err := exec.Command("gcc", "-O2", "-o", cbin, src).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, out)
	}
	readerExe := map[string]string{"go": exe}
	implList := strings.Split(*impls, ",")
	if *others != "" {
		for _, o := range strings.Split(*others, ",") {
			n, e, ok := strings.Cut(o, "=")
			if !ok {
				return fmt.Errorf("-go %q: want NAME=EXE", o)
			}
			readerExe[n] = e
			implList = append(implList, n)
		}
	}
	var ps []placement
	for _, p := range placements {
		if *places == "" || slices.Contains(strings.Split(*places, ","), p.name) {
			ps = append(ps, p)
		}
	}
	type key struct {
		p    string
		l    string
		impl string
	}
	type run struct {
		p    placement
		l    load
		impl string
	}
	var runs []run
	for _, p := range ps {
		for li, l := range loads {
			if *sizes != "" && !slices.Contains(strings.Split(*sizes, ","), strconv.Itoa(li)) {
				continue
			}
			for _, impl := range implList {
				runs = append(runs, run{p, l, impl})
			}
			if l.wevery > 0 {
				runs = append(runs, run{p, l, alone})
			}
		}
	}
	res := map[key][]result{}
	for round := range *rounds {
		for _, i := range rand.Perm(len(runs)) {
			r := runs[i]
			name := fmt.Sprintf("seqrate-%d-%d-%d", os.Getpid(), round, i)
			start := time.Now().Add(300 * time.Millisecond).UnixNano()
			win := []string{"-name", name, "-size", strconv.Itoa(r.l.size), "-start", strconv.FormatInt(start, 10),
				"-dur", strconv.FormatInt(int64(*dur), 10), "-every", strconv.FormatInt(int64(r.l.every), 10),
				"-wevery", strconv.FormatInt(int64(r.l.wevery), 10)}
			gmp := r.p.gmp
			if gmp == 0 {
				gmp = runtime.NumCPU()
			}
			env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(gmp))
			mk := func(cpu int, argv ...string) *exec.Cmd {
				if r.p.taskset {
					argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
				}
				c := exec.Command(argv[0], argv[1:]...)
				c.Env = slices.Clone(env)
				c.Stderr = os.Stderr
				return c
			}
			lockArg := func(cpu int) []string {
				if r.p.lock {
					return []string{"-lock", strconv.Itoa(cpu)}
				}
				return nil
			}
			w := mk(0, append(append([]string{exe}, win...), lockArg(0)...)...)
			w.Env = append(w.Env, childEnv+"=writer")
			var rd *exec.Cmd
			if r.impl == alone {
				// No reader: a process that only waits out the window.
				rd = exec.Command("sleep", fmt.Sprintf("%.3f", (time.Until(time.Unix(0, start))+*dur).Seconds()))
			} else if e, ok := readerExe[r.impl]; ok {
				argv := append(append([]string{e}, win...), lockArg(1)...)
				if *wrap != "" {
					argv = append(strings.Fields(*wrap), argv...)
				}
				rd = mk(1, argv...)
				rd.Env = append(rd.Env, childEnv+"=reader")
			} else {
				cpu := -1
				if r.p.lock {
					cpu = 1
				}
				rd = mk(1, cbin, filepath.Join(shmfile.Dir(), name), strconv.Itoa(r.l.size), strconv.FormatInt(start, 10),
					strconv.FormatInt(int64(*dur), 10), strconv.FormatInt(int64(r.l.every), 10), strconv.Itoa(cpu))
			}
			var wout, rout bytes.Buffer
			w.Stdout, rd.Stdout = &wout, &rout
			if err := w.Start(); err != nil {
				return err
			}
			if err := rd.Start(); err != nil {
				return err
			}
			rerr, werr := rd.Wait(), w.Wait()
			seqlock.Remove(name)
			if err := errors.Join(werr, rerr); err != nil {
				return fmt.Errorf("%s %s %s: %w", r.p.name, r.l.name, r.impl, err)
			}
			kv, wkv := parseKV(rout.String()), parseKV(wout.String())
			res[key{r.p.name, r.l.name, r.impl}] = append(res[key{r.p.name, r.l.name, r.impl}], result{
				fresh: f(kv, "fresh"), ops: f(kv, "ops"), lapped: f(kv, "lapped"), vcsw: f(kv, "vcsw"), tvcsw: tf(kv), secs: f(kv, "secs"),
				wns: f(wkv, "wns"), wnet: f(wkv, "wnet")})
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", round+1, *rounds)
	}
	host, _ := os.Hostname()
	fmt.Printf("seqrate: %d rounds of %v, %d CPUs, %s, %s\n\n", *rounds, *dur, runtime.NumCPU(), host, runtime.Version())
	fmt.Println("| placement | load | reader | new values/s | ÷ C (median per round) | lapped (% of reads) | reader vcsw/s | reading thread vcsw/s |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|")
	fr := func(r result) float64 { return r.fresh / r.secs }
	vals := func(rs []result, fn func(result) float64) []float64 {
		var v []float64
		for _, r := range rs {
			v = append(v, fn(r))
		}
		return v
	}
	for _, p := range ps {
		for _, l := range loads {
			if l.wevery > 0 {
				continue // the paced writer's table below
			}
			c := res[key{p.name, l.name, "c"}]
			for _, impl := range implList {
				g := res[key{p.name, l.name, impl}]
				if len(g) == 0 {
					continue
				}
				var ratios []float64
				for i := range min(len(g), len(c)) {
					ratios = append(ratios, fr(g[i])/max(fr(c[i]), 1))
				}
				var lap, all float64
				for _, r := range g {
					lap += r.lapped
					all += r.lapped + r.ops
				}
				ratio := "—"
				if len(ratios) > 0 && impl != "c" {
					ratio = fmt.Sprintf("%.2f", med(ratios))
				}
				thread := "—"
				if g[0].tvcsw >= 0 {
					thread = mm(vals(g, func(r result) float64 { return r.tvcsw / r.secs }))
				}
				fmt.Printf("| %s | %s | %s | %s | %s | %.0f (%.4f%%) | %s | %s |\n", p.name, l.name, impl, mm(vals(g, fr)), ratio,
					lap, 100*lap/max(all, 1), mm(vals(g, func(r result) float64 { return r.vcsw / r.secs })), thread)
			}
		}
	}
	for _, l := range loads {
		if l.wevery == 0 || len(res[key{ps[0].name, l.name, alone}]) == 0 {
			continue
		}
		fmt.Printf("\n%s: the writer's ns per Write (mean of its per-write times under 1 µs, per run; median over rounds, min–max), the same less the mean of an empty pair of counter reads, and ÷ alone (median of the per-round ratios of the net figure; min–max).\n\n", l.name)
		fmt.Println("| placement | reader | ns/write | net ns/write | ÷ alone |")
		fmt.Println("|---|---|---:|---:|---:|")
		for _, p := range ps {
			a := res[key{p.name, l.name, alone}]
			for _, impl := range append([]string{alone}, implList...) {
				g := res[key{p.name, l.name, impl}]
				if len(g) == 0 {
					continue
				}
				var ratios []float64
				for i := range min(len(g), len(a)) {
					ratios = append(ratios, g[i].wnet/max(a[i].wnet, 0.1))
				}
				ratio := "—"
				if impl != alone && len(ratios) > 0 {
					ratio = fmt.Sprintf("%.2f (%.2f–%.2f)", med(ratios), slices.Min(ratios), slices.Max(ratios))
				}
				fmt.Printf("| %s | %s | %s | %s | %s |\n", p.name, impl, mm(vals(g, func(r result) float64 { return r.wns })),
					mm(vals(g, func(r result) float64 { return r.wnet })), ratio)
			}
		}
	}
	return nil
}

func med(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func mm(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", si(med(v)), si(slices.Min(v)), si(slices.Max(v)))
}

func si(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.3gM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.3gk", x/1e3)
	}
	return fmt.Sprintf("%.3g", x)
}

func parseKV(s string) map[string]string {
	m := map[string]string{}
	for _, fld := range strings.Fields(s) {
		if k, v, ok := strings.Cut(fld, "="); ok {
			m[k] = v
		}
	}
	return m
}

func f(m map[string]string, k string) float64 { v, _ := strconv.ParseFloat(m[k], 64); return v }

// ---- children ----

func fillWords(p []byte, x uint64) {
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], x)
	}
}

func isTorn(p []byte) bool {
	if len(p) < 8 {
		return false
	}
	a := binary.LittleEndian.Uint64(p)
	for i := 8; i+8 <= len(p); i += 8 {
		if binary.LittleEndian.Uint64(p[i:]) != a {
			return true
		}
	}
	return false
}

// csw returns the voluntary context switches of the whole process (all
// its threads: the Go runtime's sysmon sleeps count too).
func csw() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Nvcsw
}

// threadCsw returns those of the calling thread alone: the reading
// thread's, when the reader's goroutine is locked to it.
func threadCsw() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return ru.Nvcsw
}

// tf is the reading thread's voluntary switches of a result line, -1 if
// the line has none (the reader was not locked to one thread).
func tf(kv map[string]string) float64 {
	if _, ok := kv["tvcsw"]; !ok {
		return -1
	}
	return f(kv, "tvcsw")
}

func waitUntil(t int64) {
	if d := time.Until(time.Unix(0, t)) - 2*time.Millisecond; d > 0 {
		time.Sleep(d)
	}
	for time.Now().UnixNano() < t {
	}
}

// pacedWriter writes one value every `every` ns until end (Unix ns), times
// each Write with two reads of the time-stamp counter around it (ticks),
// and prints the mean of those times (wns) and the same less the mean of an
// empty pair of reads (wnet), in ns at the counter's rate over the window.
// Both clocks move in steps of about 20 ns on this VM, so a median of
// single ~10 ns writes says nothing; the mean of many is exact on average
// (the steps fall at random phases). Times of 1 µs or more (an interrupt or
// preemption inside the pair, not the write) are left out of both means and
// counted (wslow). It calibrates before the window's start, then waits for it.
func pacedWriter(w *seqlock.Writer, p []byte, i uint64, start, end, every int64) error {
	base := time.Now()
	k0 := ticks()
	time.Sleep(20 * time.Millisecond)
	perNs := float64(ticks()-k0) / float64(time.Since(base).Nanoseconds())
	limit := uint64(1000 * perNs)
	mean := func(v []uint64) (float64, int) {
		var sum, n uint64
		for _, x := range v {
			if x < limit {
				sum += x
				n++
			}
		}
		return float64(sum) / float64(max(n, 1)) / perNs, len(v) - int(n)
	}
	// The counter pair's own cost, measured here: what wnet subtracts.
	clk := make([]uint64, 100000)
	for k := range clk {
		t0 := ticks()
		clk[k] = ticks() - t0
	}
	c, _ := mean(clk)
	ts := make([]uint64, 0, 2*max(end-start, 0)/every+16)
	waitUntil(start)
	base = time.Now()
	next := time.Duration(0)
	for base.UnixNano()+int64(next) < end {
		i++
		fillWords(p, i)
		t0 := ticks()
		w.Write(p)
		ts = append(ts, ticks()-t0)
		next += time.Duration(every)
		for time.Since(base) < next {
		}
	}
	wns, slow := mean(ts)
	fmt.Printf("role=writer ops=%d secs=%.4f wns=%.2f clk=%.2f wnet=%.2f wslow=%d tsc_per_ns=%.3f\n", len(ts), time.Since(base).Seconds(), wns, c, wns-c, slow, perNs)
	time.Sleep(50 * time.Millisecond)
	return nil
}

func child(role string, args []string) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	name := fs.String("name", "", "")
	size := fs.Int("size", 64, "")
	start := fs.Int64("start", 0, "")
	dur := fs.Int64("dur", 0, "")
	every := fs.Int64("every", 0, "")
	wevery := fs.Int64("wevery", 0, "")
	lock := fs.Int("lock", -1, "lock the goroutine to its thread and pin the thread to this CPU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	go func() { time.Sleep(60 * time.Second); os.Exit(3) }()
	if *lock >= 0 {
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(*lock)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return err
		}
	}
	end := *start + *dur
	switch role {
	case "writer":
		pub, err := seqlock.Create(*name, &seqlock.Options{Capacity: *size, NoTimestamp: true})
		if err != nil {
			return err
		}
		defer pub.Close()
		w := pub.Writer()
		p := make([]byte, *size)
		i := uint64(1)
		fillWords(p, i)
		w.Write(p)
		if *wevery > 0 {
			return pacedWriter(w, p, i, *start, end, *wevery)
		}
		waitUntil(*start)
		var ops int64
		t0 := time.Now()
		for time.Now().UnixNano() < end {
			for range 64 {
				i++
				fillWords(p, i)
				w.Write(p)
			}
			ops += 64
		}
		fmt.Printf("role=writer ops=%d rate=%.0f\n", ops, float64(ops)/time.Since(t0).Seconds())
		// Keep the segment until the reader is done with its window.
		time.Sleep(50 * time.Millisecond)
		return nil
	case "reader":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sub, err := seqlock.OpenWait(ctx, *name, nil)
		cancel()
		if err != nil {
			return err
		}
		defer sub.Close()
		r := sub.Reader()
		buf := make([]byte, *size)
		var ops, torn, lapped, fresh, last uint64
		var other error
		one := func() {
			m, err := r.Read(buf)
			switch {
			case err == nil:
				ops++
				if isTorn(buf[:m.Len]) {
					torn++
				}
				if m.Seq != last {
					fresh++
					last = m.Seq
				}
			case errors.Is(err, seqlock.ErrLapped):
				lapped++
			default:
				other = err
			}
		}
		for r.Seq() == 0 { // the writer's first value, before the window
			time.Sleep(time.Millisecond)
		}
		waitUntil(*start)
		v0, tv0 := csw(), threadCsw()
		t0 := time.Now()
		if *every > 0 {
			for next := t0.UnixNano(); next < end; {
				one()
				next += *every
				for time.Now().UnixNano() < next {
				}
			}
		} else {
			for time.Now().UnixNano() < end {
				for range 64 {
					one()
				}
			}
		}
		secs := time.Since(t0).Seconds()
		fmt.Printf("role=reader impl=go ops=%d secs=%.4f rate=%.0f torn=%d lapped=%d fresh=%d vcsw=%d", ops, secs, float64(ops)/secs, torn, lapped, fresh, csw()-v0)
		if *lock >= 0 {
			fmt.Printf(" tvcsw=%d", threadCsw()-tv0)
		}
		fmt.Println()
		if torn > 0 {
			return fmt.Errorf("%d torn reads", torn)
		}
		return other
	}
	return fmt.Errorf("unknown role %q", role)
}
