//go:build unix

package reliability_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// TestLoadSixteenFollowers: 16 `subscriber -follow -json` processes on a
// publisher process publishing as fast as it can. No subscriber reports an
// error, each one's write numbers strictly increase and each printed value
// is the one published under its number; the publisher's rate with the 16
// followers is reported next to its rate with none.
//
// Default: 3 s per run. SEQSHM_LONG=1: a minute per run.
func TestLoadSixteenFollowers(t *testing.T) {
	bin := binaries(t)
	segDir(t)
	d := 3 * time.Second
	if long() {
		d = time.Minute
	}
	const followers = 16

	alone := runLoad(t, bin, 0, d)
	if long() {
		for _, n := range []int{1, 4} {
			r := runLoad(t, bin, n, d)
			t.Logf("publisher with %d subscriber -follow: %.0f writes/s (%.0f%% of alone)", n, r.rate, 100*r.rate/alone.rate)
		}
	}
	loaded := runLoad(t, bin, followers, d)
	t.Logf("publisher alone: %.0f writes/s; with %d subscriber -follow processes: %.0f writes/s (%.0f%%); the subscribers printed %d values in all (%.0f/s), %d per subscriber at least",
		alone.rate, followers, loaded.rate, 100*loaded.rate/alone.rate, loaded.printed, float64(loaded.printed)/d.Seconds(), loaded.minPrinted)
}

type loadResult struct {
	rate       float64 // writes per second
	printed    int64   // values printed by all subscribers
	minPrinted int64   // by the one that printed fewest
}

func runLoad(t *testing.T, bin string, followers int, d time.Duration) loadResult {
	t.Helper()
	name := uniqueName(t)
	w := startChild(t, "load-writer", name)
	if line := w.readLine(30 * time.Second); line != "ready" {
		t.Fatalf("load writer said %q, want ready", line)
	}
	subs := make([]*child, followers)
	checks := make([]*followCheck, followers)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = startCmd(t, subscriberCmd(bin, "-follow", "-json", name))
		checks[i] = &followCheck{first: make(chan struct{})}
		wg.Add(1)
		go func(c *child, fc *followCheck) {
			defer wg.Done()
			for line := range c.lines {
				fc.line(line)
			}
		}(subs[i], checks[i])
	}
	for i, fc := range checks {
		select {
		case <-fc.first:
		case <-time.After(30 * time.Second):
			t.Fatalf("subscriber %d printed nothing in 30 s; stderr:\n%s", i, subs[i].stderr.String())
		}
	}
	fmt.Fprintf(w.stdin, "go %d\n", d.Nanoseconds())
	res := parseResult(t, w.readLine(d+time.Minute))
	for _, s := range subs {
		s.cmd.Process.Signal(syscall.SIGINT)
	}
	var out loadResult
	out.minPrinted = -1
	for i, s := range subs {
		s.wait(30 * time.Second)
		if s.err != nil || s.stderr.String() != "" {
			t.Errorf("subscriber %d: %v (want exit status 0 on SIGINT); stderr:\n%s", i, s.err, s.stderr.String())
		}
	}
	wg.Wait()
	for i, fc := range checks {
		if fc.err != nil {
			t.Errorf("subscriber %d: %v", i, fc.err)
		}
		out.printed += fc.n
		if out.minPrinted < 0 || fc.n < out.minPrinted {
			out.minPrinted = fc.n
		}
		if fc.last < uint64(res["writes"]) {
			t.Errorf("subscriber %d: last value printed is write %d, want the last one published, %d", i, fc.last, res["writes"])
		}
	}
	w.stop(time.Minute)
	out.rate = float64(res["writes"]) / (float64(res["ns"]) / 1e9)
	t.Logf("%d followers, %v: %d writes (%.0f/s), %d values printed", followers, d, res["writes"], out.rate, out.printed)
	return out
}

// followCheck checks the lines of one subscriber -follow -json: each is
// {"name":…,"seq":N,…,"value":"N"}, with N strictly increasing.
type followCheck struct {
	first chan struct{}
	n     int64
	last  uint64
	err   error
}

func (fc *followCheck) line(line string) {
	seq, value, ok := seqAndValue(line)
	if fc.n == 0 {
		close(fc.first)
	}
	fc.n++
	switch {
	case fc.err != nil:
	case !ok:
		fc.err = fmt.Errorf("line %d: %q is not a value in JSON", fc.n, line)
	case seq <= fc.last:
		fc.err = fmt.Errorf("line %d: write %d after write %d: not strictly increasing", fc.n, seq, fc.last)
	case value != strconv.FormatUint(seq, 10):
		fc.err = fmt.Errorf("line %d: write %d printed with the value %q", fc.n, seq, value)
	}
	fc.last = seq
}

// seqAndValue extracts "seq" and "value" from a line of subscriber -json
// without a JSON decoder, which would cost the parent more CPU than the
// subscribers' own work.
func seqAndValue(line string) (uint64, string, bool) {
	_, rest, ok := strings.Cut(line, `"seq":`)
	if !ok {
		return 0, "", false
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(rest[:end], 10, 64)
	if err != nil {
		return 0, "", false
	}
	_, rest, ok = strings.Cut(rest, `"value":"`)
	if !ok {
		return 0, "", false
	}
	value, _, ok := strings.Cut(rest, `"`)
	return seq, value, ok && strings.HasPrefix(line, "{") && strings.HasSuffix(line, "}")
}

// loadWriter: NAME. Publishes write 1, prints "ready", then on a line
// "go NS" on stdin publishes as fast as it can for NS nanoseconds, each
// value its write number in decimal, and prints "writes=N ns=T". It holds
// the segment until stdin ends.
func loadWriter(args []string) error {
	pub, err := seqlock.Create(args[0], &seqlock.Options{Capacity: 64})
	if err != nil {
		return err
	}
	defer pub.Close()
	if _, err := pub.Publish([]byte("1")); err != nil {
		return err
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "go ")), 10, 64)
	if err != nil {
		return err
	}
	var buf []byte
	start := time.Now()
	deadline := start.Add(time.Duration(ns))
	n := uint64(1)
	for {
		for range 256 {
			n++
			buf = strconv.AppendUint(buf[:0], n, 10)
			if m, err := pub.Publish(buf); err != nil || m != n {
				return fmt.Errorf("Publish(write %d) = %d, %v", n, m, err)
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("writes=%d ns=%d\n", n, elapsed.Nanoseconds())
	var rest bytes.Buffer
	rest.ReadFrom(in)
	return nil
}
