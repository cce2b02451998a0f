package natskv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
)

func TestSegmentKey(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"imu", "imu"},
		{"robot1.imu", "robot1.imu"},
		{"a..b", "a.=.b"},
		{"a.", "a.="},
		{"a...b..", "a.=.=.b.=.="},
	} {
		key := SegmentKey(tc.name)
		if key != tc.key {
			t.Errorf("SegmentKey(%q) = %q, want %q", tc.name, key, tc.key)
		}
		if err := CheckKey(key); err != nil {
			t.Errorf("SegmentKey(%q) = %q, not a valid key: %v", tc.name, key, err)
		}
		if name, err := SegmentName(key); name != tc.name || err != nil {
			t.Errorf("SegmentName(%q) = %q, %v, want %q", key, name, err, tc.name)
		}
	}
	for _, key := range []string{"a/b", "x=y", "=.a"} {
		if name, err := SegmentName(key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("SegmentName(%q) = %q, %v, want ErrInvalidKey", key, name, err)
		}
	}
}

// TestExportDotDot: a segment named with an empty token ("a..b", valid
// for seqshm, not for NATS) is exported under its escaped key, and
// imported back under its own name by a wildcard import.
func TestExportDotDot(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	p := publisher(t, "r1..imu.")
	seq, _ := p.Publish([]byte("dots"))
	start(t, func(ctx context.Context) error { return Export(ctx, nc, "r1..imu.", &ExportOptions{Logf: t.Logf}) })
	waitKey(t, kv, "r1.=.imu.=", func(e Envelope) bool { return e.Seq == seq })

	// The importer recreates the name (under a prefix: same machine).
	start(t, func(ctx context.Context) error {
		return ImportKeys(ctx, connect(t, srv), "r1.>", &ImportOptions{Prefix: "copy.", Capacity: 64, Logf: t.Logf})
	})
	waitSegment(t, "copy.r1..imu.", func(m seqlock.Meta, v []byte) bool { return string(v) == "dots" })
}

// TestImportInvalidKey: a key that maps to no segment name is skipped
// with one log line, and the other keys are imported; an invalid pattern
// is refused at once.
func TestImportInvalidKey(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	ctx := context.Background()
	for _, key := range []string{"bad/slash", "good"} {
		if _, err := kv.Put(ctx, key, Envelope{Owner: 1, Seq: 1, Value: []byte(key)}.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu  sync.Mutex
		log []string
	)
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, strings.TrimSpace(fmt.Sprintf(format, args...)))
	}
	start(t, func(ctx context.Context) error {
		return ImportKeys(ctx, nc, ">", &ImportOptions{Capacity: 64, Logf: logf})
	})
	waitSegment(t, "good", func(m seqlock.Meta, v []byte) bool { return string(v) == "good" })
	kv.Put(ctx, "bad/slash", Envelope{Owner: 1, Seq: 2, Value: []byte("again")}.Encode())
	kv.Put(ctx, "good", Envelope{Owner: 1, Seq: 2, Value: []byte("good 2")}.Encode())
	waitSegment(t, "good", func(m seqlock.Meta, v []byte) bool { return string(v) == "good 2" })
	mu.Lock()
	n := 0
	for _, l := range log {
		if strings.Contains(l, `key "bad/slash" skipped`) {
			n++
		}
	}
	mu.Unlock()
	if n != 1 {
		t.Errorf("%d log lines about key bad/slash, want 1; log:\n%s", n, strings.Join(log, "\n"))
	}

	err := ImportKeys(ctx, nc, "a..>", nil)
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), `key "a..>"`) {
		t.Errorf("ImportKeys(a..>) = %v, want ErrInvalidKey naming the key", err)
	}
}
