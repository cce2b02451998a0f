//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/internal/testproc"
)

// e2eTimeout bounds each wait of the end-to-end test: a guard against
// hangs, not a timing assertion.
const e2eTimeout = 30 * time.Second

// TestPrometheus runs the real thing: the exporter (this test binary in
// the command's role), the publisher binary and a Prometheus server
// (Debian's package prometheus) scraping the exporter every second, and
// asks Prometheus's query API for what a publisher published, then for its
// death.
func TestPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus on $PATH (Debian: apt-get install prometheus)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	bins, err := clitest.Build(t.TempDir(), "publisher")
	if err != nil {
		t.Fatal(err)
	}
	testproc.SegDir(t) // for this process and its children

	exp := startProc(t, testproc.Command(tool, "-listen", "127.0.0.1:0", "room", "quick"))
	addr := exp.waitStderr(t, servingRE)[1]

	// Text segments, as the publisher command makes by default: one fed on
	// stdin, one from a value argument as in docs/exporter.md's quick start.
	pub := startProc(t, exec.Command(bins["publisher"], "room"))
	if _, err := io.WriteString(pub.stdin, "temp=21.5 hum=40\n"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bins["publisher"], "quick", "temp=3.5").CombinedOutput(); err != nil {
		t.Fatalf("publisher quick temp=3.5: %v\n%s", err, out)
	}

	promAddr := freeAddr(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: seqshm
    scrape_interval: 1s
    static_configs:
      - targets: ['%s']
`, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := startProc(t, exec.Command(promBin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn"))

	query := func(q string) func() (string, bool) {
		return func() (string, bool) { return promQuery(promAddr, q) }
	}
	waitValue(t, prom, `seqshm_value{segment="room",field="temp"}`, "21.5", query(`seqshm_value{segment="room",field="temp"}`))
	waitValue(t, prom, `seqshm_value{segment="quick",field="temp"}`, "3.5", query(`seqshm_value{segment="quick",field="temp"}`))
	waitValue(t, prom, `seqshm_writer_state{segment="room",state="alive"}`, "1", query(`seqshm_writer_state{segment="room",state="alive"}`))

	pub.cmd.Process.Signal(syscall.SIGKILL)
	pub.wait()
	waitValue(t, prom, `seqshm_writer_state{segment="room",state="died"}`, "1", query(`seqshm_writer_state{segment="room",state="died"}`))
	waitValue(t, prom, `seqshm_up{segment="room"}`, "1", query(`seqshm_up{segment="room"}`))

	// SIGTERM stops the exporter cleanly.
	exp.cmd.Process.Signal(syscall.SIGTERM)
	if err := exp.wait(); err != nil {
		t.Errorf("exporter after SIGTERM: %v, want exit 0; stderr:\n%s", err, exp.stderr)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A proc is a child process of the test, killed (and waited for) when the
// test ends.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// startProc starts cmd, its output going to the proc's stderr.
func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	// A race-enabled binary sleeps a second at exit unless told not to.
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	p.cmd.Env = append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	// Killed with the test binary too, should it die (a -timeout panic
	// runs no cleanup).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
	return p
}

// wait waits for the process to exit and returns its Wait error.
func (p *proc) wait() error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(e2eTimeout):
		return fmt.Errorf("still running after %v", e2eTimeout)
	}
}

// waitStderr waits until the process's stderr matches re and returns the
// match.
func (p *proc) waitStderr(t *testing.T, re interface{ FindStringSubmatch(string) []string }) []string {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v; output:\n%s", p.cmd.Path, p.err, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no match for %v after %v; output:\n%s", p.cmd.Path, re, e2eTimeout, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// promQuery runs an instant query and returns the value of its single
// result, or false if it has none (yet) or Prometheus does not answer.
func promQuery(addr, q string) (string, bool) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) != 1 {
		return "", false
	}
	v, ok := r.Data.Result[0].Value[1].(string)
	return v, ok
}

// waitValue polls f until it gives want, and fails the test with what it
// last gave and Prometheus's output if it has not after e2eTimeout.
func waitValue(t *testing.T, prom *proc, what, want string, f func() (string, bool)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var last string
	for {
		v, ok := f()
		if ok && v == want {
			t.Logf("%s = %s", what, v)
			return
		}
		if ok {
			last = v
		}
		select {
		case <-prom.done:
			t.Fatalf("prometheus exited: %v; output:\n%s", prom.err, prom.stderr)
		case <-ctx.Done():
			t.Fatalf("%s: still not %s after %v (last %q); prometheus output:\n%s", what, want, e2eTimeout, last, prom.stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
