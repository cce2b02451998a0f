//go:build windows

// Command wakebench measures, on Windows (or under wine), what
// scripts/wine/measure.sh reports:
//
//	wakebench pingpong N   round trips between two processes, N each way:
//	                       Subscriber.Wait woken by Publisher.Publish, and a
//	                       raw ping-pong of two named auto-reset events
//	                       (SetEvent / WaitForSingleObject), in the same run;
//	                       prints the one-way latency (half a round trip) of
//	                       each and their ratio.
//	wakebench publish N    the cost of Publisher.Publish of 64 bytes with
//	                       nobody waiting, in ns per publish.
//
// The child process of pingpong is this program again (WAKEBENCH_CHILD).
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"github.com/seqshm/seqshm/seqlock"
	"golang.org/x/sys/windows"
)

func main() {
	if role := os.Getenv("WAKEBENCH_CHILD"); role != "" {
		n, _ := strconv.Atoi(os.Getenv("WAKEBENCH_N"))
		if err := child(role, n); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wakebench pingpong|publish N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pingpong":
		err = pingpong(n)
	case "publish":
		err = publish(n)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wakebench:", err)
		os.Exit(1)
	}
}

func startChild(role string, n int) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "WAKEBENCH_CHILD="+role, "WAKEBENCH_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

// median of the per-round-trip times, in µs of one way.
func oneWay(rtts []time.Duration) (p50, p90 float64) {
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	at := func(q float64) float64 { return float64(rtts[int(q*float64(len(rtts)-1))]) / 2e3 }
	return at(0.5), at(0.9)
}

func pingpong(n int) error {
	// Alternate the two kinds in rounds, so that both see the same machine.
	var seq, ev []time.Duration
	for round := 0; round < 4; round++ {
		s, err := seqshmRound(n / 4)
		if err != nil {
			return err
		}
		e, err := eventRound(n / 4)
		if err != nil {
			return err
		}
		seq, ev = append(seq, s...), append(ev, e...)
	}
	s50, s90 := oneWay(seq)
	e50, e90 := oneWay(ev)
	fmt.Printf("one-way wake-up latency over %d round trips each (µs): seqshm Wait p50 %.1f p90 %.1f; named event p50 %.1f p90 %.1f; ratio p50 %.2f\n",
		len(seq), s50, s90, e50, e90, s50/e50)
	return nil
}

func seqshmRound(n int) ([]time.Duration, error) {
	seqlock.Remove("wakebench-ping")
	seqlock.Remove("wakebench-pong")
	ping, err := seqlock.Create("wakebench-ping", &seqlock.Options{Capacity: 64, NoTimestamp: true})
	if err != nil {
		return nil, err
	}
	defer func() { ping.Close(); seqlock.Remove("wakebench-ping") }()
	cmd, err := startChild("seqshm", n)
	if err != nil {
		return nil, err
	}
	defer cmd.Wait()
	ctx := context.Background()
	pong, err := seqlock.OpenWait(ctx, "wakebench-pong", nil)
	if err != nil {
		return nil, err
	}
	defer pong.Close()
	// The child publishes 0 into pong once it subscribed to ping.
	if _, err := pong.Wait(ctx, 0); err != nil {
		return nil, err
	}
	last := pong.Seq()
	buf := make([]byte, 8)
	rtts := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := ping.Publish(buf); err != nil {
			return nil, err
		}
		s, err := pong.Wait(ctx, last)
		if err != nil {
			return nil, err
		}
		rtts = append(rtts, time.Since(t))
		last = s
		// Let the child go back to sleep: a wake-up, not a spin, is
		// what is measured.
		time.Sleep(200 * time.Microsecond)
	}
	return rtts, nil
}

func eventRound(n int) ([]time.Duration, error) {
	ping, err := namedEvent(`Local\wakebench-ping`)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(ping)
	pong, err := namedEvent(`Local\wakebench-pong`)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(pong)
	cmd, err := startChild("event", n)
	if err != nil {
		return nil, err
	}
	defer cmd.Wait()
	if _, err := windows.WaitForSingleObject(pong, windows.INFINITE); err != nil { // child ready
		return nil, err
	}
	rtts := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t := time.Now()
		windows.SetEvent(ping)
		if _, err := windows.WaitForSingleObject(pong, windows.INFINITE); err != nil {
			return nil, err
		}
		rtts = append(rtts, time.Since(t))
		time.Sleep(200 * time.Microsecond)
	}
	return rtts, nil
}

func namedEvent(name string) (windows.Handle, error) {
	p, _ := windows.UTF16PtrFromString(name)
	h, err := windows.CreateEvent(nil, 0, 0, p) // auto reset
	if err == windows.ERROR_ALREADY_EXISTS {
		err = nil
	}
	return h, err
}

func child(role string, n int) error {
	ctx := context.Background()
	switch role {
	case "seqshm":
		pong, err := seqlock.Create("wakebench-pong", &seqlock.Options{Capacity: 64, NoTimestamp: true})
		if err != nil {
			return err
		}
		defer func() { pong.Close(); seqlock.Remove("wakebench-pong") }()
		ping, err := seqlock.OpenWait(ctx, "wakebench-ping", nil)
		if err != nil {
			return err
		}
		defer ping.Close()
		buf := make([]byte, 8)
		pong.Publish(buf) // ready
		var last uint64
		for i := 0; i < n; i++ {
			s, err := ping.Wait(ctx, last)
			if err != nil {
				return err
			}
			last = s
			if _, err := pong.Publish(buf); err != nil {
				return err
			}
		}
	case "event":
		ping, err := namedEvent(`Local\wakebench-ping`)
		if err != nil {
			return err
		}
		pong, err := namedEvent(`Local\wakebench-pong`)
		if err != nil {
			return err
		}
		windows.SetEvent(pong) // ready
		for i := 0; i < n; i++ {
			if _, err := windows.WaitForSingleObject(ping, windows.INFINITE); err != nil {
				return err
			}
			windows.SetEvent(pong)
		}
	}
	return nil
}

func publish(n int) error {
	seqlock.Remove("wakebench-pub")
	p, err := seqlock.Create("wakebench-pub", &seqlock.Options{Capacity: 64, NoTimestamp: true})
	if err != nil {
		return err
	}
	defer func() { p.Close(); seqlock.Remove("wakebench-pub") }()
	buf := make([]byte, 64)
	best := time.Duration(1 << 62)
	for round := 0; round < 5; round++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			p.Publish(buf)
		}
		best = min(best, time.Since(t))
	}
	fmt.Printf("Publish of 64 bytes, nobody waiting: %.1f ns/op (best of 5 x %d)\n", float64(best)/float64(n), n)
	return nil
}
