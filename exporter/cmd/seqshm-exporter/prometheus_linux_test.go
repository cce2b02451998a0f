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
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// e2eTimeout bounds each wait of the end-to-end test: a guard against
// hangs, not a timing assertion.
const e2eTimeout = 30 * time.Second

// TestPrometheus runs the real thing: the exporter and publisher binaries
// and a Prometheus server (Debian's package prometheus) scraping the
// exporter every second, and asks Prometheus's query API for what a
// publisher published, then for its death.
func TestPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus on $PATH (Debian: apt-get install prometheus)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	bins := buildBinaries(t)
	segDir := t.TempDir()
	t.Setenv("SEQSHM_DIR", segDir) // for this process and its children

	// A text segment, made here with its kind; the publisher command
	// (which makes bytes segments) adopts it.
	text, _ := schema.ForKind(schema.Text)
	made, err := seqlock.Create("room", &seqlock.Options{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	made.Close()

	exp := startProc(t, bins["seqshm-exporter"], "-bytes-as-text", "-listen", "127.0.0.1:0", "room", "quick")
	addr := exp.waitStderr(t, servingRE)[1]

	pub := startProc(t, bins["publisher"], "room")
	if _, err := io.WriteString(pub.stdin, "temp=21.5 hum=40\n"); err != nil {
		t.Fatal(err)
	}
	// A bytes segment, as in docs/exporter.md's quick start.
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
	prom := startProc(t, promBin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")

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

// buildBinaries builds the exporter and the publisher command, with -race
// if this test binary has it, into a temporary directory.
func buildBinaries(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, ".", "github.com/seqshm/seqshm/cmd/publisher")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return map[string]string{
		"seqshm-exporter": filepath.Join(dir, "seqshm-exporter"),
		"publisher":       filepath.Join(dir, "publisher"),
	}
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
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

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	// A race-enabled binary sleeps a second at exit unless told not to.
	p.cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
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
		t.Fatalf("start %s: %v", bin, err)
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
