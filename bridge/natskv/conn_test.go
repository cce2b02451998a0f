package natskv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seqshm/seqshm/bridge/natstest"
)

// TestNoJetStream: a server without JetStream is reported at once as
// ErrNoJetStream, not as a raw "no responders".
func TestNoJetStream(t *testing.T) {
	srv := natstest.Start(t, &natstest.Options{NoJetStream: true})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err := Connect(ctx, ConnOptions{URL: srv.URL()})
	if !errors.Is(err, ErrNoJetStream) {
		t.Errorf("Connect to a server without JetStream = %v, want ErrNoJetStream", err)
	}
}

// TestJetStreamDenied: a user without permission for the JetStream API
// gets ErrPermission from the server's permissions violation, not a
// timeout.
func TestJetStreamDenied(t *testing.T) {
	srv := natstest.Start(t, &natstest.Options{User: "u", Password: "p", DenyJetStream: true})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err := Connect(ctx, ConnOptions{URL: srv.URL(), User: "u", Password: "p"})
	if !errors.Is(err, ErrPermission) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect without JetStream permissions = %v, want ErrPermission", err)
	}
}

// TestConnectWaitsForServer: with no server at start, Connect says so
// once and keeps trying; it connects when the server comes.
func TestConnectWaitsForServer(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, nil)
	url := srv.URL()
	srv.Shutdown()
	log := &logRecorder{t: t}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	go func() {
		nc, err := Connect(ctx, ConnOptions{URL: url, ReconnectWait: 20 * time.Millisecond, Logf: log.logf})
		if err == nil {
			nc.Close()
		}
		done <- err
	}()
	log.wait("cannot connect to")
	srv.Restart()
	if err := <-done; err != nil {
		t.Fatalf("Connect after the server came = %v", err)
	}
	if n := log.count("cannot connect to"); n != 1 {
		t.Errorf("%d lines about the failure, want 1; log:\n%s", n, log)
	}
}

// TestServerLossLog: losing the server and getting it back logs the loss
// and the reconnect, both with the user name redacted, and no misleading
// "outbound buffer" line.
func TestServerLossLog(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, &natstest.Options{User: "alice", Password: "s3cret"})
	log := &logRecorder{t: t}
	url := strings.Replace(srv.URL(), "nats://", "nats://alice:s3cret@", 1)
	nc, err := Connect(context.Background(), ConnOptions{URL: url, ReconnectWait: 20 * time.Millisecond, Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := publisher(t, "busy")
	p.Publish([]byte("0"))
	start(t, func(ctx context.Context) error {
		return Export(ctx, nc, "busy", &ExportOptions{MaxRate: -1, Logf: log.logf})
	})
	log.wait("exporting segment")
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }() // before the publisher's cleanup
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				p.Publish([]byte(fmt.Sprint(i)))
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	srv.Restart()
	log.wait("reconnected to")
	time.Sleep(50 * time.Millisecond)
	all := log.String()
	if strings.Contains(all, "alice") || strings.Contains(all, "s3cret") {
		t.Errorf("log shows the user or password:\n%s", all)
	}
	if strings.Contains(all, "outbound buffer") {
		t.Errorf("log blames the outbound buffer:\n%s", all)
	}
	if log.count("xxxxx@127.0.0.1") < 2 {
		t.Errorf("log does not name the server, redacted, on loss and reconnect:\n%s", all)
	}
}

// TestReleaseOnStop: an exporter stopped cleanly releases its key, so
// that the next one (a planned restart) takes it over at once, although
// Stale is a minute.
func TestReleaseOnStop(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "rel")
	seq, _ := p.Publish([]byte("v"))
	o := &ExportOptions{Stale: time.Minute, Logf: t.Logf}
	a := start(t, func(ctx context.Context) error { return Export(ctx, nc, "rel", o) })
	first := waitKey(t, kv, "rel", func(e Envelope) bool { return e.Seq == seq })
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if env := waitKey(t, kv, "rel", func(e Envelope) bool { return e.Released }); env.Seq != seq || string(env.Value) != "v" {
		t.Errorf("released key holds seq %d %q, want the last value, seq %d %q", env.Seq, env.Value, seq, "v")
	}
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "rel", o) })
	seq, _ = p.Publish([]byte("w"))
	if env := waitKey(t, kv, "rel", func(e Envelope) bool { return e.Seq == seq }); env.Owner == first.Owner {
		t.Errorf("key still owned by the stopped exporter")
	}
}

// TestRateCap: a 1 kHz source for half a second through a cap of 10
// writes per second makes a handful of writes, not hundreds, and the
// last value always arrives.
func TestRateCap(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "fast")
	p.Publish([]byte("start"))
	start(t, func(ctx context.Context) error {
		return Export(ctx, nc, "fast", &ExportOptions{MaxRate: 10, Logf: t.Logf})
	})
	waitKey(t, kv, "fast", func(e Envelope) bool { return e.Seq == 1 })
	before := lastRevision(t, kv)
	t0 := time.Now()
	var last uint64
	for i := 0; i < 500; i++ {
		last, _ = p.Publish([]byte(fmt.Sprint(i)))
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(t0)
	env := waitKey(t, kv, "fast", func(e Envelope) bool { return e.Seq == last })
	writes := lastRevision(t, kv) - before
	t.Logf("%d values in %v: %d writes", 500, elapsed, writes)
	if max := uint64(elapsed.Seconds()*10) + 3; writes > max {
		t.Errorf("%d writes in %v at a cap of 10/s, want at most %d", writes, elapsed, max)
	}
	if string(env.Value) != "499" {
		t.Errorf("key = %q, want the last value %q", env.Value, "499")
	}
}
