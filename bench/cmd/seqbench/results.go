package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Results is everything one run measured; results.json is this struct.
type Results struct {
	Machine Machine
	Quick   bool
	Rounds  int
	CPUs    [2]int
	Layout  string
	Allocs  []Alloc
	Inproc  []Inproc
	Xproc   []Xproc
	Ratios  []Ratio
	GoTest  string `json:",omitempty"`
	Elapsed string
}

type Machine struct {
	NumCPU    int
	CPU       string
	Kernel    string
	Go        string
	CC        string
	LoadStart string
	LoadEnd   string
}

type Alloc struct {
	Op          string
	AllocsPerOp float64
}

// Inproc is one in-process loop: ns/op per round.
type Inproc struct {
	Key, Name string
	PerRound  []float64
	Median    float64
	Min, Max  float64
}

// Xproc is one cross-process pair; latencies are one-way (round trip / 2).
type Xproc struct {
	Key, Name string
	Blocking  bool
	// Per pass (a few per round): median and p99 of that pass's samples,
	// ns.
	PassMedian, PassP99 []float64
	// Median of the pass medians and of the pass p99s; p99.9 and max of
	// all samples pooled.
	Median, P99, P999, Max float64
	oneWay                 []float64 // pooled samples, ns, sorted (for the plot)
}

// Ratio compares two contenders: in-process loops round by round (the
// medians of the round's passes), cross-process pairs pass by pass (in one
// pass; back to back when they are in one group). Median is the median of
// those ratios, so a slow stretch of time moves both sides of a ratio;
// P10 and P90 bound the middle 80 % of them.
type Ratio struct {
	Name             string
	Num, Den         string // keys
	PerPair          []float64
	Median, P10, P90 float64
	Goal             string `json:",omitempty"` // "≤ 1.3", "≥ 10"
	Met              *bool  `json:",omitempty"`
}

func machine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		if strings.Contains(string(b), " hypervisor") {
			m.CPU += " (virtual machine)"
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func median(v []float64) float64 { return quantile(sorted(v), 0.5) }

func sorted(v []float64) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}

// quantile of sorted s, nearest rank.
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func newInproc(key, name string, v []float64) Inproc {
	s := sorted(v)
	return Inproc{Key: key, Name: name, PerRound: v, Median: quantile(s, 0.5), Min: s[0], Max: s[len(s)-1]}
}

func newXproc(key, name string, blocking bool, rounds [][]int64) Xproc {
	x := Xproc{Key: key, Name: name, Blocking: blocking}
	for _, r := range rounds {
		ow := make([]float64, len(r))
		for i, rtt := range r {
			ow[i] = float64(rtt) / 2
		}
		slices.Sort(ow)
		x.PassMedian = append(x.PassMedian, quantile(ow, 0.5))
		x.PassP99 = append(x.PassP99, quantile(ow, 0.99))
		x.oneWay = append(x.oneWay, ow...)
	}
	slices.Sort(x.oneWay)
	x.Median, x.P99 = median(x.PassMedian), median(x.PassP99)
	x.P999, x.Max = quantile(x.oneWay, 0.999), x.oneWay[len(x.oneWay)-1]
	return x
}

func (r *Results) series(key string) []float64 {
	for _, it := range r.Inproc {
		if it.Key == key {
			return it.PerRound
		}
	}
	for _, x := range r.Xproc {
		if x.Key == key {
			return x.PassMedian
		}
	}
	if k, ok := strings.CutSuffix(key, ".p99"); ok {
		for _, x := range r.Xproc {
			if x.Key == k {
				return x.PassP99
			}
		}
	}
	return nil
}

// ratios computes the targets, and a few comparisons that explain
// them, from the per-round numbers.
func (r *Results) ratios() {
	type def struct {
		name, num, den string
		limit          float64
		atLeast        bool
	}
	defs := []def{
		{"read 64 B: Go Reader.Read / C seqlock read", "go-read-64B", "c-read-64B", 1.3, false},
		{"read 4 KiB: Go Reader.Read / C seqlock read", "go-read-4KiB", "c-read-4KiB", 1.05, false},
		{"write 64 B: Go Writer.Write / C release-store write", "go-write-64B", "c-write-64B", 1.5, false},
		// The issue's "a publisher with notification support and nobody
		// waiting costs within 1.1x of one without": the same writer
		// with and without the waiter-word check.
		{"publish, nobody waiting: Go Writer.Write / Go Writer.Write on a region without waiter area", "go-write-64B", "go-write-nowaiter-64B", 1.1, false},
		{"cross-process spin, median one-way: Go / C on the same layout", "go-spin", "c-spin", 1.1, false},
		{"cross-process spin, Go: p99 / median", "go-spin.p99", "go-spin", 2, false},
		{"cross-process: Unix socket (C) one-way / seqshm spin one-way", "c-uds", "go-spin", 10, true},
		{"blocking wake-up: Go Subscriber.Wait / raw futex wake (C)", "go-wait", "c-futex", 1.2, false},
		{"blocking wake-up, each side another user (foreign waiter area): Go Subscriber.Wait / raw futex wake (C)", "go-wait-xuser", "c-futex", 1.2, false},
		// The writer loads the foreign waiter word too when its segment
		// may be read by other users: nobody waiting, that must cost
		// nothing measurable.
		{"publish, nobody waiting: Writer of a mode-0644 segment (own + foreign waiter word) / of a mode-0600 one (own word)", "go-write-foreign-64B", "go-write-own-64B", 1.1, false},
		// Context, no goal.
		{"write 4 KiB: Go / C", "go-write-4KiB", "c-write-4KiB", 0, false},
		{"blocking wake-up: Go Subscriber.Wait / raw futex wake (Go)", "go-wait", "go-futex", 0, false},
		{"raw futex wake: Go / C", "go-futex", "c-futex", 0, false},
		{"blocking wake-up: Wait, each side another user / Wait, same user", "go-wait-xuser", "go-wait", 0, false},
		{"blocking wake-up, each side another user: Go Subscriber.Wait / raw futex wake (Go)", "go-wait-xuser", "go-futex", 0, false},
		{"publish, nobody waiting: Writer of a mode-0644 segment / Writer.Write on a region without waiter area", "go-write-foreign-64B", "go-write-nowaiter-64B", 0, false},
		{"Go Publisher.Publish stamped / unstamped, 64 B", "go-publish-stamped-64B", "go-publish-64B", 0, false},
		{"C write with waiter-word check / C write without", "c-writenotify-64B", "c-write-64B", 0, false},
		{"Go Writer.Write (checks the waiter word) / C write without check, 64 B", "go-write-64B", "c-write-64B", 0, false},
		{"Go Writer.Write stamped / unstamped, 64 B", "go-write-stamped-64B", "go-write-64B", 0, false},
		{"Go Publisher.Publish / Writer.Write, 64 B", "go-publish-64B", "go-write-64B", 0, false},
		{"Go Subscriber.Read / Reader.Read, 64 B", "go-subread-64B", "go-read-64B", 0, false},
		{"sync.RWMutex read / Go Reader.Read, 64 B", "rwmutex-read-64B", "go-read-64B", 0, false},
		{"C spin: p99 / median", "c-spin.p99", "c-spin", 0, false},
		{"Unix socket (Go net) one-way / seqshm spin one-way", "go-uds", "go-spin", 0, true},
		{"pipe (C) one-way / seqshm spin one-way", "c-pipe", "go-spin", 0, true},
	}
	// -alt builds: this build's pairs over each other build's, run back to
	// back in every pass.
	for _, x := range r.Xproc {
		for _, base := range []string{"go-spin", "go-wait"} {
			if alt, ok := strings.CutPrefix(x.Key, base+"-"); ok && alt != "xuser" {
				defs = append(defs, def{name: fmt.Sprintf("%s: this build / %s", base, alt), num: base, den: x.Key})
				if base == "go-wait" {
					defs = append(defs, def{name: fmt.Sprintf("blocking wake-up (%s): Go Subscriber.Wait / raw futex wake (C)", alt), num: x.Key, den: "c-futex"})
				} else {
					defs = append(defs, def{name: fmt.Sprintf("cross-process spin (%s): Go / C", alt), num: x.Key, den: "c-spin"})
				}
			}
		}
	}
	for _, d := range defs {
		num, den := r.series(d.num), r.series(d.den)
		ra := Ratio{Name: d.name, Num: d.num, Den: d.den}
		for i := range min(len(num), len(den)) {
			ra.PerPair = append(ra.PerPair, num[i]/den[i])
		}
		if len(ra.PerPair) == 0 {
			continue // a side not run (-run)
		}
		s := sorted(ra.PerPair)
		ra.Median, ra.P10, ra.P90 = quantile(s, 0.5), quantile(s, 0.1), quantile(s, 0.9)
		if d.limit != 0 {
			met := ra.Median <= d.limit
			ra.Goal = fmt.Sprintf("≤ %g", d.limit)
			if d.atLeast {
				met = ra.Median >= d.limit
				ra.Goal = fmt.Sprintf("≥ %g", d.limit)
			}
			ra.Met = &met
		}
		r.Ratios = append(r.Ratios, ra)
	}
}

func ns(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 100000:
		return fmt.Sprintf("%.0f µs", v/1000)
	case v >= 10000:
		return fmt.Sprintf("%.1f µs", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2f µs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ns", v)
	}
	return fmt.Sprintf("%.2f ns", v)
}

func (r *Results) markdown(c *config) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# seqbench results\n\n")
	if r.Quick {
		p("**-quick run: one short round, for checking the harness only; the numbers mean nothing.**\n\n")
	}
	p("Machine: %d CPUs, %s, %s, %s, %s. Load average %s at start, %s at end. %d interleaved rounds, ping side on CPU %d, pong side and in-process loops on CPU %d; took %s.\n\n",
		m.NumCPU, m.CPU, m.Kernel, m.Go, m.CC, m.LoadStart, m.LoadEnd, r.Rounds, r.CPUs[0], r.CPUs[1], r.Elapsed)
	p("%s.\n\n", strings.TrimSuffix(r.Layout, "."))

	p("## In-process, ns per operation\n\nMedian, minimum and maximum over the rounds of each round's median of %d samples of ~%g ms (C and Go loops alternate on one pinned thread of one process, in a new random order for every pass).\n\n", c.passes, c.sampleMS)
	p("| operation | median | min | max |\n|---|---:|---:|---:|\n")
	for _, it := range r.Inproc {
		p("| %s | %s | %s | %s |\n", it.Name, ns(it.Median), ns(it.Min), ns(it.Max))
	}
	p("\n## Cross-process one-way latency, 64 B\n\nRound trip / 2 of a ping-pong between two processes on different CPUs. %d rounds of %d passes; in each pass the Go and C sides of a ratio run back to back. Median and p99: medians over the passes of each pass's median and p99; p99.9 and max: all samples pooled.\n\n", r.Rounds, c.xpasses)
	p("| transport | median | p99 | p99.9 | max | samples |\n|---|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Xproc {
		p("| %s | %s | %s | %s | %s | %d |\n", x.Name, ns(x.Median), ns(x.P99), ns(x.P999), ns(x.Max), len(x.oneWay))
	}
	p("\n## Targets and comparisons\n\nEach ratio is computed per round for in-process loops (from the medians of the round's passes) and per pass for cross-process pairs (the Go and C sides of a target ran back to back); the median of those ratios is shown, with the middle 80 %% of them (10th to 90th percentile).\n\n")
	p("| ratio | median | p10–p90 | goal | |\n|---|---:|---:|---:|---|\n")
	for _, ra := range r.Ratios {
		verdict := ""
		if ra.Met != nil {
			verdict = "met"
			if !*ra.Met {
				verdict = "**missed**"
			}
			if r.Quick {
				verdict += " (quick run)"
			}
		}
		p("| %s | %.2f | %.2f–%.2f | %s | %s |\n", ra.Name, ra.Median, ra.P10, ra.P90, ra.Goal, verdict)
	}
	p("\n## Allocations per operation\n\n| operation | allocs/op |\n|---|---:|\n")
	for _, a := range r.Allocs {
		p("| %s | %g |\n", a.Op, a.AllocsPerOp)
	}
	if r.GoTest != "" {
		p("\n## go test -bench ./seqlock\n\n```\n%s```\n", r.GoTest)
	}
	return b.String()
}

func (r *Results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
