package main

import (
	"bytes"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/bridge/natstest"
	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/seqlock"
)

// TestScale1000 is the 1,000-segment run of docs/bridge.md: one export
// process (glob) and one import process (wildcard), 1,000 segments each
// published at 10 Hz for 10 s; it reports the CPU time of both processes,
// and how many segments held their latest value on the other side two
// intervals (200 ms) after the last round. It takes about 25 s, so it runs
// only with SEQSHM_BRIDGE_SCALE=1 (scripts/bridge-test.sh sets it).
func TestScale1000(t *testing.T) {
	if os.Getenv("SEQSHM_BRIDGE_SCALE") == "" {
		t.Skip("set SEQSHM_BRIDGE_SCALE=1 for the 1,000-segment run")
	}
	const (
		n      = 1000
		hz     = 10
		rounds = 100
	)
	dir := t.TempDir()
	t.Setenv("SEQSHM_DIR", dir)
	bin := filepath.Join(t.TempDir(), "seqshm-bridge")
	if out, err := osexec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := natstest.Start(t, nil)
	pubs := make([]*seqlock.Publisher, n)
	for i := range pubs {
		p, err := seqlock.Create(fmt.Sprintf("scale.s%04d", i), &seqlock.Options{Capacity: 64})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Publish([]byte("0"))
		pubs[i] = p
	}
	start := func(args ...string) *osexec.Cmd {
		cmd := osexec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SEQSHM_DIR="+dir)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
		return cmd
	}
	exp := start("export", "-q", "-server", srv.URL(), "-max-rate", "10/s", "scale.*")
	imp := start("import", "-q", "-server", srv.URL(), "-prefix", "copy.", "-capacity", "64", "scale.>")
	subs := make([]*seqlock.Subscriber, n)
	deadline := time.Now().Add(60 * time.Second)
	for i := range subs {
		for {
			s, err := seqlock.Open(fmt.Sprintf("copy.scale.s%04d", i), nil)
			if err == nil {
				subs[i] = s
				defer s.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("copy of segment %d never appeared: %v", i, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("all %d segments imported", n)

	// Idle: what 1,000 Waits and heartbeats cost with nothing published.
	idle0 := cpuTime(t, exp.Process.Pid)
	time.Sleep(5 * time.Second)
	t.Logf("export process idle: %v CPU over 5s with %d segments: %.1f%% of one core",
		cpuTime(t, exp.Process.Pid)-idle0, n, 100*(cpuTime(t, exp.Process.Pid)-idle0).Seconds()/5)

	cpu0 := map[string]time.Duration{"export": cpuTime(t, exp.Process.Pid), "import": cpuTime(t, imp.Process.Pid)}
	t0 := time.Now()
	tick := time.NewTicker(time.Second / hz)
	for r := 1; r <= rounds; r++ {
		<-tick.C
		v := []byte(strconv.Itoa(r))
		for _, p := range pubs {
			p.Publish(v)
		}
	}
	tick.Stop()
	elapsed := time.Since(t0)
	time.Sleep(2 * time.Second / hz)
	want := strconv.Itoa(rounds)
	late := 0
	for _, s := range subs {
		if v, _, _ := s.ReadValue(nil); string(v) != want {
			late++
		}
	}
	for name, pid := range map[string]int{"export": exp.Process.Pid, "import": imp.Process.Pid} {
		cpu := cpuTime(t, pid) - cpu0[name]
		t.Logf("%s process: %v CPU over %v of %d segments at %d Hz: %.1f%% of one core",
			name, cpu.Round(time.Millisecond), elapsed.Round(time.Millisecond), n, hz, 100*cpu.Seconds()/elapsed.Seconds())
	}
	t.Logf("%d of %d segments held their latest value 2 intervals after the last round", n-late, n)
	if late > 0 {
		t.Errorf("%d segments without their latest value after 2 intervals", late)
	}
}

// cpuTime returns the CPU time process pid has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	d, err := clitest.CPUTime(pid)
	if err != nil {
		t.Skip(err)
	}
	return d
}
