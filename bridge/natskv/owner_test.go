package natskv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Short ownership timings for tests: a live exporter rewrites its key
// every 100ms; a key unwritten for 400ms may be taken over.
func quick(t *testing.T) *ExportOptions {
	return &ExportOptions{Stale: 400 * time.Millisecond, Heartbeat: 100 * time.Millisecond, Logf: t.Logf}
}

// TestSecondExporterRefused: a second exporter of a key owned by a live one
// stops with ErrOwned, and the first keeps the key.
func TestSecondExporterRefused(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "shared")
	p.Publish([]byte("first"))
	a := start(t, func(ctx context.Context) error { return Export(ctx, nc, "shared", quick(t)) })
	envA := waitKey(t, kv, "shared", func(e Envelope) bool { return e.Seq == 1 })

	// B exports the same segment (it might as well be another machine's
	// segment of the same name) to the same key.
	nc2 := connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err := Export(ctx, nc2, "shared", quick(t))
	var owned *OwnedError
	if !errors.As(err, &owned) || !errors.Is(err, ErrOwned) {
		t.Fatalf("second Export = %v, want an *OwnedError", err)
	}
	if owned.Owner != envA.Owner || owned.Key != "shared" {
		t.Errorf("OwnedError names owner %x key %q, want %x %q", owned.Owner, owned.Key, envA.Owner, "shared")
	}
	if msg := err.Error(); !strings.Contains(msg, `another exporter owns key "shared"`) {
		t.Errorf("error text %q does not say another exporter owns the key", msg)
	}

	// A is undisturbed.
	seq, _ := p.Publish([]byte("second"))
	if env := waitKey(t, kv, "shared", func(e Envelope) bool { return e.Seq == seq }); env.Owner != envA.Owner {
		t.Errorf("owner after refusal = %x, want %x", env.Owner, envA.Owner)
	}
	select {
	case <-a.done:
		t.Fatalf("first exporter stopped: %v", a.err)
	default:
	}
}

// TestTakeover: -takeover claims the key at once; the previous exporter
// then stops with ErrOwned at its next write instead of fighting.
func TestTakeover(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "taken")
	p.Publish([]byte("v1"))
	a := start(t, func(ctx context.Context) error { return Export(ctx, nc, "taken", quick(t)) })
	envA := waitKey(t, kv, "taken", func(e Envelope) bool { return e.Seq == 1 })

	o := quick(t)
	o.Takeover = true
	nc2 := connect(t, srv)
	start(t, func(ctx context.Context) error { return Export(ctx, nc2, "taken", o) })
	waitKey(t, kv, "taken", func(e Envelope) bool { return e.Owner != envA.Owner })

	select {
	case <-a.done:
		if !errors.Is(a.err, ErrOwned) {
			t.Errorf("first exporter stopped with %v, want ErrOwned", a.err)
		}
	case <-time.After(hangGuard):
		t.Fatal("first exporter still running after losing its key")
	}
	seq, _ := p.Publish([]byte("v2"))
	waitKey(t, kv, "taken", func(e Envelope) bool { return e.Seq == seq && e.Owner != envA.Owner })
}

// TestRestartTakesOver: an exporter that stops (or dies) leaves its key;
// a new exporter of the same key takes it over once the key has gone
// unwritten for Stale, and goes on exporting.
func TestRestartTakesOver(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "restart")
	p.Publish([]byte("before"))
	a := start(t, func(ctx context.Context) error { return Export(ctx, nc, "restart", quick(t)) })
	envA := waitKey(t, kv, "restart", func(e Envelope) bool { return e.Seq == 1 })
	if err := a.stop(); err != nil {
		t.Fatalf("first exporter: %v", err)
	}

	seq, _ := p.Publish([]byte("after"))
	t0 := time.Now()
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "restart", quick(t)) })
	env := waitKey(t, kv, "restart", func(e Envelope) bool { return e.Seq == seq })
	if env.Owner == envA.Owner || string(env.Value) != "after" {
		t.Errorf("key = %q owner %x, want %q from a new owner (old %x)", env.Value, env.Owner, "after", envA.Owner)
	}
	t.Logf("took over after %v (stale %v)", time.Since(t0), quick(t).Stale)
}

// TestForeignValueTakenOver: a key holding something that is not an
// envelope (written by another program) is claimed once stale, like any
// other owner's.
func TestForeignValueTakenOver(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	if _, err := kv.Put(context.Background(), "foreign", []byte("plain text")); err != nil {
		t.Fatal(err)
	}
	p := publisher(t, "foreign")
	seq, _ := p.Publish([]byte("mine"))
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "foreign", quick(t)) })
	waitKey(t, kv, "foreign", func(e Envelope) bool { return e.Seq == seq })
}
