package natskv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/bridge/natstest"
	"github.com/seqshm/seqshm/seqlock"
)

// hangGuard bounds every wait in these tests: generous, so that a slow
// machine (or -race) never fails them; they assert outcomes, not speed.
const hangGuard = 15 * time.Second

// setup starts an embedded server, points SEQSHM_DIR at a temporary
// directory and returns the server.
func setup(t testing.TB) *natstest.Server {
	t.Helper()
	t.Setenv("SEQSHM_DIR", t.TempDir())
	return natstest.Start(t, nil)
}

// connect connects a bridge (quick reconnects) to srv.
func connect(t testing.TB, srv *natstest.Server) *nats.Conn {
	t.Helper()
	nc, err := Connect(context.Background(), ConnOptions{URL: srv.URL(), Name: t.Name(), ReconnectWait: 50 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// bucket returns a plain client's handle on the bucket, creating it as
// the bridge would.
func bucket(t testing.TB, nc *nats.Conn, name string) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	kv, err := openBucket(ctx, js, name)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// publisher creates a local segment for the test.
func publisher(t testing.TB, name string) *seqlock.Publisher {
	t.Helper()
	p, err := seqlock.Create(name, &seqlock.Options{Capacity: 256})
	if err != nil {
		t.Fatalf("seqlock.Create(%q): %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// A bridge is an Export or Import running in a goroutine.
type bridge struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when it has returned
	err    error         // what it returned; read after done
}

// start runs f (Export or Import) in a goroutine until the test ends or
// stop is called.
func start(t testing.TB, f func(ctx context.Context) error) *bridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bridge{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = f(ctx)
	}()
	t.Cleanup(func() {
		if err := b.stop(); err != nil && !errors.Is(err, ErrOwned) {
			t.Errorf("bridge stopped with %v", err)
		}
	})
	return b
}

// stop cancels the bridge and returns its error.
func (b *bridge) stop() error {
	b.cancel()
	select {
	case <-b.done:
		return b.err
	case <-time.After(hangGuard):
		return errors.New("bridge did not stop")
	}
}

// waitKey waits until the key holds an envelope satisfying ok, and
// returns it.
func waitKey(t testing.TB, kv jetstream.KeyValue, key string, ok func(Envelope) bool) Envelope {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ent, err := kv.Get(ctx, key)
		cancel()
		if err == nil {
			env, err := Decode(ent.Value())
			if err == nil && ok(env) {
				return env
			}
			last = fmt.Sprintf("seq %d value %q (%v)", env.Seq, env.Value, err)
		} else {
			last = err.Error()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("key %q never held the expected value; last: %s", key, last)
	return Envelope{}
}

// waitSegment waits until the named segment holds a value satisfying ok,
// and returns it.
func waitSegment(t testing.TB, name string, ok func(seqlock.Meta, []byte) bool) (seqlock.Meta, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	s, err := openSegment(ctx, name, t.Logf)
	if err != nil {
		t.Fatalf("open segment %q: %v", name, err)
	}
	defer s.Close()
	buf := make([]byte, s.Capacity())
	for {
		m, err := s.Read(buf)
		if err == nil && ok(m, buf[:m.Len]) {
			return m, buf[:m.Len]
		}
		if _, err := s.Wait(ctx, m.Seq); err != nil {
			t.Fatalf("segment %q never held the expected value (last seq %d %q): %v", name, m.Seq, buf[:m.Len], err)
		}
	}
}

// logRecorder collects log lines, for tests that look for one, and
// passes them on to t.Logf.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	l.t.Log(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// count returns how many lines contain sub.
func (l *logRecorder) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// wait waits until a line containing sub was logged.
func (l *logRecorder) wait(sub string) {
	l.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for l.count(sub) == 0 {
		if time.Now().After(deadline) {
			l.t.Fatalf("no log line with %q; log:\n%s", sub, l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
