package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// TestMain lets TestPrometheus run this test binary as the exporter
// (testproc), so that the exporter it starts is built as the test is.
func TestMain(m *testing.M) {
	os.Exit(testproc.Main(m, map[string]testproc.Role{tool: runMain}))
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, nil, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || cli.ExitCode(err) != 0 {
		t.Errorf("-h: %v (exit %d), want flag.ErrHelp (exit 0)", err, cli.ExitCode(err))
	}
	for _, want := range []string{"usage: seqshm-exporter", "seqshm_writer_state", "Examples:", "-listen ADDR", "Exit status"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-h output lacks %q", want)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("-h wrote on stderr: %q", stderr.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "seqshm-exporter: flag provided but not defined: -nope\n"},
		{[]string{"[a"}, "seqshm-exporter: bad GLOB \"[a\": syntax error in pattern\nhint: a GLOB"},
		{[]string{"-max-fields", "0"}, "seqshm-exporter: -max-fields 0 is not positive\n"},
		{[]string{"-max-size", "-1"}, "seqshm-exporter: invalid value \"-1\" for flag -max-size"},
		{[]string{"-listen", "9866"}, "seqshm-exporter: -listen \"9866\": address 9866: missing port in address\nhint: give HOST:PORT"},
		{[]string{"imu*", "-listen", ":1"}, "seqshm-exporter: flags go before GLOBs (got \"-listen\" after a GLOB)\n"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, nil, &stdout, &stderr)
		if code := cli.ExitCode(err); code != 2 {
			t.Errorf("%q: exit %d (%v), want 2", tt.args, code, err)
		}
		if !strings.HasPrefix(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "usage: seqshm-exporter") {
			t.Errorf("%q: stderr\n%s\nwant it to start with\n%s\nand give the synopsis", tt.args, stderr.String(), tt.want)
		}
	}
}

var servingRE = regexp.MustCompile(`serving http://([^/]+)/metrics`)

// startRun runs the exporter in this process with args until the test
// ends, and returns its address, its stderr, and a stop function that
// ends its context and returns what run returned.
func startRun(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, nil, io.Discard, stderr) }()
	var (
		once   sync.Once
		result error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				result = errors.New("exporter still running 20s after its context ended")
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr, stop
		}
		select {
		case err := <-done:
			t.Fatalf("exporter exited: %v; stderr:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not serving after 20s; stderr:\n%s", stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServe(t *testing.T) {
	testproc.SegDir(t)
	text, _ := schema.ForKind(schema.Text)
	pub, err := seqlock.Create("imu", &seqlock.Options{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Publish([]byte("ax=0.01 ay=-0.02 az=9.81"))
	other, err := seqlock.Create("other", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	addr, stderr, stop := startRun(t, "-listen", "127.0.0.1:0", "im?")
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 \"ok\\n\"", code, body)
	}
	code, body := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`seqshm_value{field="az",segment="imu"} 9.81`,
		`seqshm_up{segment="imu"} 1`,
		`seqshm_writer_state{segment="imu",state="alive"} 1`,
		"go_goroutines ",
		"process_open_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code != 200 || strings.Contains(body, `segment="other"`) {
		t.Errorf("/metrics: status %d; has the segment \"other\", which the glob does not match: %v", code, strings.Contains(body, `segment="other"`))
	}
	if code, _ := get(t, "http://"+addr+"/nothing"); code != 404 {
		t.Errorf("/nothing: status %d, want 404", code)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v, want nil (exit 0)", err)
	}
	if !strings.Contains(stderr.String(), "for the segments matching im? in ") {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestListenInUse(t *testing.T) {
	testproc.SegDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-listen", ln.Addr().String()}, nil, io.Discard, &stderr)
	if cli.ExitCode(err) != 1 {
		t.Errorf("exit %d (%v), want 1", cli.ExitCode(err), err)
	}
	want := "seqshm-exporter: cannot listen on " + ln.Addr().String() + ": address already in use\nhint: another seqshm-exporter"
	if !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant it to start with\n%s", stderr.String(), want)
	}
}

func TestMissingDir(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir()+"/none")
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0"}, nil, io.Discard, &stderr)
	if cli.ExitCode(err) != 1 || !strings.HasPrefix(stderr.String(), "seqshm-exporter: cannot list the segments in ") ||
		!strings.Contains(stderr.String(), "\nhint: ") {
		t.Errorf("exit %d, stderr:\n%s", cli.ExitCode(err), stderr.String())
	}
}

func TestLogsBadSegment(t *testing.T) {
	testproc.SegDir(t)
	text, _ := schema.ForKind(schema.Text)
	pub, err := seqlock.Create("big", &seqlock.Options{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Publish(bytes.Repeat([]byte("x"), 2000))
	addr, stderr, _ := startRun(t, "-listen", "127.0.0.1:0", "-max-size", "1KiB")
	for range 2 {
		if _, body := get(t, "http://"+addr+"/metrics"); !strings.Contains(body, `seqshm_up{segment="big"} 0`) {
			t.Errorf("/metrics lacks seqshm_up 0 for big")
		}
	}
	if n := strings.Count(stderr.String(), "seqshm-exporter: big: "); n != 1 {
		t.Errorf("stderr has %d lines about big, want 1:\n%s", n, stderr)
	}
}

// TestUsageNamesEveryFlag: the manual (-h) documents every flag, in its
// Options and in the synopsis.
func TestUsageNamesEveryFlag(t *testing.T) {
	clitest.UsageNamesEveryFlag(t, flags(&config{}), synopsis, usage)
}
