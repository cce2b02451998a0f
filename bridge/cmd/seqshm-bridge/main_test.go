package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/bridge/natstest"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

const hangGuard = 15 * time.Second

// syncBuffer is a bytes.Buffer safe for the bridge's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// exec runs the command line to its end and returns the exit status and
// output.
func exec(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	err := run(ctx, args, strings.NewReader(""), &out, &errb)
	code = report(&errb, err)
	return code, out.String(), errb.String()
}

// background runs the command line until the returned stop is called, and
// then returns its exit status and stderr.
func background(t *testing.T, args ...string) (stop func() (int, string)) {
	t.Helper()
	stop, _ = backgroundLog(t, args...)
	return stop
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing subcommand"},
		{[]string{"serve"}, `unknown subcommand "serve"`},
		{[]string{"export"}, "missing segment NAME"},
		{[]string{"import", "a", "b"}, "too many arguments"},
		{[]string{"export", "-key", "k", "a*"}, "-key goes with one NAME"},
		{[]string{"export", "../etc"}, "../etc"},
		{[]string{"export", "-nope", "x"}, "flag provided but not defined: -nope"},
		{[]string{"export", "-key", "a b", "x"}, `-key "a b"`},
		{[]string{"export", "-key", "a..b", "x"}, `-key "a..b"`},
		{[]string{"export", "-max-rate", "fast", "x"}, `invalid rate "fast"`},
		{[]string{"export", "-envelope", "xml", "x"}, `envelope format "xml"`},
		{[]string{"import", "a..>"}, `key pattern "a..>"`},
		{[]string{"import", "-prefix", "p", "x"}, "-strip and -prefix go with a key PATTERN"},
		{[]string{"run"}, "want one CONFIG file"},
		{[]string{"export", "-bucket", "a.b", "x"}, `-bucket "a.b"`},
		{[]string{"export", "-stale", "1s", "-heartbeat", "2s", "x"}, "-heartbeat must be positive and below -stale"},
		{[]string{"export", "-tlscert", "c.pem", "x"}, "-tlscert and -tlskey go together"},
		{[]string{"import", "-capacity", "lots", "x"}, `invalid size "lots"`},
		{[]string{"import", "-mode", "999", "x"}, `invalid mode "999"`},
		{[]string{"import", "x", "-capacity", "0"}, `invalid size "0"`},
		{[]string{"export", "-spin", "20ms", "x"}, "-spin must be from 0 to 10ms"},
		{[]string{"export", "-spin", "-1us", "x"}, "-spin must be from 0 to 10ms"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := exec(t, context.Background(), tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "usage: seqshm-bridge") {
				t.Errorf("run(%q) = exit %d, stderr:\n%s\nwant exit 2 with %q and the usage", tc.args, code, stderr, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"export", "-h"}, {"import", "-help"}} {
		code, stdout, stderr := exec(t, context.Background(), args...)
		if code != 0 || !strings.Contains(stdout, "usage: seqshm-bridge export") || stderr != "" {
			t.Errorf("run(%q) = exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, stdout, stderr)
		}
	}
}

// TestServerDownAtStart: no server; the bridge says so once, with the URL
// redacted, keeps trying, and works once the server comes; SIGINT then
// stops it cleanly.
func TestServerDownAtStart(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, nil)
	url := strings.Replace(srv.URL(), "nats://", "nats://alice:s3cret@", 1)
	srv.Shutdown()
	stop, stderr := backgroundLog(t, "import", "-server", url, "-reconnect-wait", "20ms", "late")
	waitFor(t, stderr, "cannot connect to nats://xxxxx@127.0.0.1")
	srv.Restart()
	waitFor(t, stderr, `key "late" has no value yet`) // connected, watching
	code, out := stop()
	if code != 0 || strings.Contains(out, "s3cret") || strings.Contains(out, "alice") || strings.Count(out, "cannot connect") != 1 {
		t.Errorf("import with the server late = exit %d, stderr:\n%s\nwant exit 0, one line about the failure, the URL redacted", code, out)
	}
}

// TestJetStreamHints: a server without JetStream, and a user without
// permission for it, are reported at once, with hints.
func TestJetStreamHints(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	for _, tc := range []struct {
		opts natstest.Options
		want string
	}{
		{natstest.Options{NoJetStream: true}, "hint: the bridge needs JetStream"},
		{natstest.Options{User: "u", Password: "p", DenyJetStream: true}, "hint: the user needs to publish to $JS.API.>"},
	} {
		srv := natstest.Start(t, &tc.opts)
		t.Setenv("NATS_USER", tc.opts.User)
		t.Setenv("NATS_PASSWORD", tc.opts.Password)
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		code, _, stderr := exec(t, ctx, "export", "-server", srv.URL(), "x")
		cancel()
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "natskv:") || strings.Contains(stderr, "deadline") {
			t.Errorf("export = exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, tc.want)
		}
	}
}

// TestCredentials: user and password from the environment; a wrong
// password is refused, and never printed.
func TestCredentials(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, &natstest.Options{User: "robot", Password: "rightpass"})
	t.Setenv("NATS_USER", "robot")
	t.Setenv("NATS_PASSWORD", "wrongpass")
	code, _, stderr := exec(t, context.Background(), "import", "-server", srv.URL(), "cred")
	if code != 1 || strings.Contains(stderr, "wrongpass") || !strings.Contains(stderr, "hint: check -creds") {
		t.Errorf("import with a wrong password = exit %d, stderr:\n%s\nwant exit 1, a hint, no password", code, stderr)
	}

	t.Setenv("NATS_PASSWORD", "rightpass")
	stop, log := backgroundLog(t, "import", "-server", srv.URL(), "cred")
	waitFor(t, log, `key "cred" has no value yet`) // connected, watching
	if code, stderr := stop(); code != 0 || strings.Contains(stderr, "rightpass") {
		t.Errorf("import with the right password = exit %d, stderr:\n%s\nwant exit 0, no password", code, stderr)
	}
}

// backgroundLog is background that also gives the live stderr.
func backgroundLog(t *testing.T, args ...string) (stop func() (int, string), stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb := new(syncBuffer)
	done := make(chan int, 1)
	go func() {
		var out syncBuffer
		done <- report(errb, run(ctx, args, strings.NewReader(""), &out, errb))
	}()
	var once sync.Once
	code := -1
	stop = func() (int, string) {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(hangGuard):
				t.Errorf("seqshm-bridge %q did not stop", args)
			}
		})
		return code, errb.String()
	}
	t.Cleanup(func() { stop() })
	return stop, errb
}

// waitFor waits until b holds sub.
func waitFor(t *testing.T, b *syncBuffer, sub string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(b.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in stderr:\n%s", sub, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openWait opens the named segment once it exists.
func openWait(t *testing.T, name string) *seqlock.Subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := seqlock.OpenWait(ctx, name, nil)
	if err != nil {
		t.Fatalf("segment %q never appeared: %v", name, err)
	}
	return s
}

// TestExportImport runs both subcommands against one server: a value
// published on one segment arrives in the other, and both stop cleanly
// (exit 0) when their context ends, as on SIGINT.
func TestExportImport(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, nil)
	p, err := seqlock.Create("src", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish([]byte("42"))
	stopExport := background(t, "export", "-server", srv.URL(), "-key", "answer", "src")
	stopImport := background(t, "import", "-server", srv.URL(), "-key", "answer", "-capacity", "1KiB", "dst")

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s := openWait(t, "dst")
	defer s.Close()
	buf := make([]byte, s.Capacity())
	for {
		m, err := s.Read(buf)
		if err == nil && string(buf[:m.Len]) == "42" {
			break
		}
		if _, err := s.Wait(ctx, m.Seq); err != nil {
			t.Fatalf("imported segment never held 42: %v", err)
		}
	}
	if s.Capacity() != 1024 {
		t.Errorf("imported segment capacity %d, want 1024 (-capacity 1KiB)", s.Capacity())
	}
	for name, stop := range map[string]func() (int, string){"export": stopExport, "import": stopImport} {
		if code, stderr := stop(); code != 0 {
			t.Errorf("%s stopped with exit %d, stderr:\n%s", name, code, stderr)
		}
	}
}

// TestSecondExporter: a second export of a key owned by a live exporter
// exits 1 with "another exporter owns key K" and hints.
func TestSecondExporter(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, nil)
	p, err := seqlock.Create("dup", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish([]byte("v"))
	args := []string{"export", "-server", srv.URL(), "-stale", "600ms", "-heartbeat", "100ms", "dup"}
	stop := background(t, args...)
	waitKey(t, srv.URL(), "dup")

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	code, _, stderr := exec(t, ctx, args...)
	if code != 1 || !strings.Contains(stderr, "seqshm-bridge: dup: another exporter owns key dup") || !strings.Contains(stderr, "-takeover") {
		t.Errorf("second export = exit %d, stderr:\n%s\nwant exit 1, \"another exporter owns key dup\", a hint", code, stderr)
	}
	if code, stderr := stop(); code != 0 {
		t.Errorf("first export stopped with exit %d, stderr:\n%s", code, stderr)
	}
}

// waitKey waits until the key exists in the default bucket.
func waitKey(t *testing.T, url, key string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		kv, err := js.KeyValue(ctx, natskv.DefaultBucket)
		if err == nil {
			_, err = kv.Get(ctx, key)
		}
		cancel()
		if err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("key %q never written", key)
}

// TestUsageNamesEveryFlag: the usage (-h) documents every flag of every
// subcommand, as a line of its own ("  -NAME ...").
func TestUsageNamesEveryFlag(t *testing.T) {
	var (
		p        plan
		a        exportArgs
		job      importJob
		capacity cli.Size
		mode     cli.Mode
	)
	for _, fs := range []*flag.FlagSet{exportFlags(&p, &a), importFlags(&p, &job, &capacity, &mode), runFlags(&p)} {
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(usage, "\n  -"+f.Name+" ") {
				t.Errorf("%s: the usage has no line for -%s", fs.Name(), f.Name)
			}
		})
	}
}
