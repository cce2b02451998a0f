package natskv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// TestImport: values written to the key (by any exporter; here by hand)
// appear in the local segment with their original publish time.
func TestImport(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	ctx := context.Background()
	published := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	if _, err := kv.Put(ctx, "imu", Envelope{Owner: 9, Seq: 5, UnixNano: published, Value: []byte("ax=0.1")}.Encode()); err != nil {
		t.Fatal(err)
	}
	start(t, func(ctx context.Context) error {
		return Import(ctx, nc, "imu", &ImportOptions{Capacity: 64, Logf: t.Logf})
	})

	// The value present at start is published.
	m, v := waitSegment(t, "imu", func(m seqlock.Meta, v []byte) bool { return m.Seq >= 1 })
	if string(v) != "ax=0.1" || m.UnixNano != published {
		t.Errorf("segment = %q at %d, want %q at %d (the remote publish time)", v, m.UnixNano, "ax=0.1", published)
	}

	// A heartbeat (same owner and seq) is not published again; a claim
	// (seq 0) and a value that is not an envelope are skipped; then a new
	// value is published.
	for _, val := range [][]byte{
		Envelope{Owner: 9, Seq: 5, UnixNano: published, Value: []byte("ax=0.1")}.Encode(),
		Envelope{Owner: 10, Seq: 0}.Encode(),
		[]byte("not an envelope"),
		Envelope{Owner: 9, Seq: 6, UnixNano: published + 1, Value: []byte("ax=0.2")}.Encode(),
	} {
		if _, err := kv.Put(ctx, "imu", val); err != nil {
			t.Fatal(err)
		}
	}
	m, _ = waitSegment(t, "imu", func(m seqlock.Meta, v []byte) bool { return string(v) == "ax=0.2" })
	if m.Seq != 2 || m.UnixNano != published+1 {
		t.Errorf("segment after updates: seq %d time %d, want seq 2 (only one more publish) time %d", m.Seq, m.UnixNano, published+1)
	}

	// A deleted key leaves the last value in place.
	if err := kv.Delete(ctx, "imu"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "imu", Envelope{Owner: 9, Seq: 7, Value: []byte("ax=0.3")}.Encode()); err != nil {
		t.Fatal(err)
	}
	waitSegment(t, "imu", func(m seqlock.Meta, v []byte) bool { return string(v) == "ax=0.3" && m.Seq == 3 })
}

// TestImportTooLarge: a remote value larger than the local capacity stops
// the importer with ErrTooLarge rather than dropping values silently.
func TestImportTooLarge(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	if _, err := kv.Put(context.Background(), "big", Envelope{Owner: 1, Seq: 1, Value: make([]byte, 100)}.Encode()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err := Import(ctx, nc, "big", &ImportOptions{Capacity: 64})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Import of a 100-byte value into 64 bytes = %v, want ErrTooLarge", err)
	}
}

// TestExportImport: a segment exported on one side and imported on the
// other (here both on this machine, under two names) carries the values
// and their publish times end to end.
func TestExportImport(t *testing.T) {
	srv := setup(t)
	ncA, ncB := connect(t, srv), connect(t, srv)
	p := publisher(t, "origin")
	start(t, func(ctx context.Context) error {
		return Export(ctx, ncA, "origin", &ExportOptions{Key: "pose", Logf: t.Logf})
	})
	start(t, func(ctx context.Context) error {
		return Import(ctx, ncB, "replica", &ImportOptions{Key: "pose", Capacity: 256, Logf: t.Logf})
	})
	for _, v := range []string{"x=1", "x=2", "x=3"} {
		if _, err := p.Publish([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := seqlock.Stat("origin")
	m, _ := waitSegment(t, "replica", func(m seqlock.Meta, v []byte) bool { return string(v) == "x=3" })
	if m.UnixNano != st.Published.UnixNano() {
		t.Errorf("replica publish time %d, want the origin's %d", m.UnixNano, st.Published.UnixNano())
	}
}
