//go:build unix

package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/seqlock"
)

// TestWaitInterrupted: subscriber -wait stopped by a signal before a value
// came exits 128+signal (130, 143), so that x=$(subscriber -wait 10s NAME)
// can tell; a -follow stopped by a signal is a clean stop (0).
func TestWaitInterrupted(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		for _, args := range [][]string{{"-wait", "20s", name}, {"-info", "-wait", "20s", name}} {
			sub := env.Start(t, "subscriber", args...)
			time.Sleep(100 * time.Millisecond) // let it install its handler and wait
			sub.Signal(tt.sig)
			if code := sub.Wait(); code != tt.code || !strings.Contains(sub.Stderr(), "interrupted") {
				t.Errorf("subscriber %q stopped by %v: exit %d, stderr %q; want %d", args, tt.sig, code, sub.Stderr(), tt.code)
			}
		}
	}
	env.MustRun(t, "publisher", name, "v")
	sub := env.Start(t, "subscriber", "-follow", name)
	sub.Line()
	sub.Signal(syscall.SIGINT)
	if code := sub.Wait(); code != 0 {
		t.Errorf("subscriber -follow stopped by SIGINT: exit %d, want 0", code)
	}
}

// TestFutureTimestamp: a value stamped in the future (a publisher with a
// clock ahead) is shown as such by -info, never as a negative age, and
// -stats leaves it out of the latency and counts it.
func TestFutureTimestamp(t *testing.T) {
	env := clitest.New(t, bins)
	t.Setenv("SEQSHM_DIR", env.Dir)
	p, err := seqlock.Create("skew", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.PublishAt([]byte("v"), time.Now().Add(time.Hour))
	out := env.MustRun(t, "subscriber", "-info", "skew")
	if !strings.Contains(out, "in the future: clock skew?") || strings.Contains(out, "-1h") {
		t.Errorf("subscriber -info of a value stamped an hour ahead:\n%s", out)
	}
	var st struct {
		Future     bool    `json:"future"`
		AgeSeconds float64 `json:"age_seconds"`
	}
	if err := json.Unmarshal([]byte(env.MustRun(t, "subscriber", "-info", "-json", "skew")), &st); err != nil || !st.Future || st.AgeSeconds != 0 {
		t.Errorf("subscriber -info -json: %+v, %v; want future, no age", st, err)
	}
	p.PublishAt([]byte("w"), time.Unix(5, 0))
	if out := env.MustRun(t, "subscriber", "-info", "skew"); !strings.Contains(out, "clock not set?") {
		t.Errorf("subscriber -info of a value stamped in 1970:\n%s", out)
	}

	stats := env.Start(t, "subscriber", "-stats", "-json", "-interval", "200ms", "skew")
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		p.PublishAt([]byte("x"), time.Now().Add(time.Hour))
		time.Sleep(10 * time.Millisecond)
	}
	var r struct {
		Future int    `json:"future"`
		P50    *int64 `json:"latency_p50_ns"`
	}
	for deadline := time.Now().Add(clitest.Timeout); r.Future == 0 && time.Now().Before(deadline); {
		json.Unmarshal([]byte(stats.Line()), &r)
	}
	if r.Future == 0 || r.P50 != nil {
		t.Errorf("subscriber -stats: future %d, p50 %v; want the future values counted, no latency from them", r.Future, r.P50)
	}
}
