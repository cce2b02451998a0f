package natskv

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// pose is a typed value with every awkward case: a float64 that JSON
// cannot hold, a negative int32, a bool, a float32 array and a char field.
type pose struct {
	X    float64
	N    int32
	OK   bool
	V    [3]float32
	Name [8]byte `seqshm:"name,char"`
}

func poseBytes(p *pose) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// readSegment returns the named segment's schema and newest value.
func readSegment(t *testing.T, name string) (*schema.Schema, []byte) {
	t.Helper()
	s, err := seqlock.Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, _, err := s.ReadValue(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Schema(), v
}

// rawKey returns the key's value as a plain NATS client sees it (nats kv
// get), parsed as JSON.
func rawKey(t *testing.T, nc *nats.Conn, key string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ent, err := bucket(t, nc, DefaultBucket).Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(ent.Value(), &m); err != nil {
		t.Fatalf("key %q holds %q, not JSON: %v", key, ent.Value(), err)
	}
	return m
}

// TestExportImportStruct: a typed publisher's segment, exported and
// imported, arrives with an Equal schema and the same bytes (NaN and all),
// in both envelope formats; a plain client reads the JSON envelope's
// kind, schema and fields.
func TestExportImportStruct(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatBinary} {
		t.Run(f.String(), func(t *testing.T) {
			srv := setup(t)
			ncA, ncB := connect(t, srv), connect(t, srv)
			tp, err := seqlock.CreateTyped[pose]("origin", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tp.Close() })
			want := pose{X: math.Inf(-1), N: -7, OK: true, V: [3]float32{0.1, -2, float32(math.NaN())}}
			copy(want.Name[:], "base")
			if _, err := tp.Publish(want); err != nil {
				t.Fatal(err)
			}
			start(t, func(ctx context.Context) error {
				return Export(ctx, ncA, "origin", &ExportOptions{Key: "pose", Format: f, Logf: t.Logf})
			})
			start(t, func(ctx context.Context) error {
				return Import(ctx, ncB, "replica", &ImportOptions{Key: "pose", Logf: t.Logf})
			})
			waitSegment(t, "replica", func(m seqlock.Meta, v []byte) bool { return m.Seq >= 1 })
			sc, v := readSegment(t, "replica")
			origin := tp.Publisher().Schema()
			if !sc.Equal(origin) {
				t.Errorf("imported schema %q (%v), want %q", sc, sc.Kind(), origin)
			}
			if !bytes.Equal(v, poseBytes(&want)) {
				t.Errorf("imported bytes % x, want % x", v, poseBytes(&want))
			}
			// A typed subscriber of the same type reads the copy.
			ts, err := seqlock.OpenTyped[pose]("replica", nil)
			if err != nil {
				t.Fatalf("OpenTyped on the copy: %v", err)
			}
			got, _, err := ts.Read()
			ts.Close()
			if err != nil || got.N != -7 || !math.IsInf(got.X, -1) || !math.IsNaN(float64(got.V[2])) {
				t.Errorf("typed read of the copy = %+v, %v", got, err)
			}
			if f != FormatJSON {
				return
			}
			m := rawKey(t, ncA, "pose")
			fields, _ := m["fields"].(map[string]any)
			wantFields := map[string]any{"X": "-Inf", "N": -7.0, "OK": true, "V": []any{0.1, -2.0, "NaN"}, "name": "base"}
			if m["kind"] != "struct" || m["schema"] != origin.String() || !cmp.Equal(fields, wantFields) || m["base64"] == nil {
				t.Errorf("raw key = %v\nwant kind struct, schema %q, fields %v and base64", m, origin, wantFields)
			}
		})
	}
}

// TestExportImportKinds: text and json segments are imported as text and
// json segments, and read as such by a plain client.
func TestExportImportKinds(t *testing.T) {
	srv := setup(t)
	ncA, ncB := connect(t, srv), connect(t, srv)
	for _, tc := range []struct {
		kind  schema.Kind
		value string
		field string // where the raw envelope has the value
		want  any
	}{
		{schema.Text, "x=1 \"q\"", "value", "x=1 \"q\""},
		{schema.JSON, `{"a": [1, 2], "b": "c"}`, "json", map[string]any{"a": []any{1.0, 2.0}, "b": "c"}},
	} {
		name := tc.kind.String()
		sc, _ := schema.ForKind(tc.kind)
		p, err := seqlock.Create(name, &seqlock.Options{Schema: sc})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if _, err := p.Publish([]byte(tc.value)); err != nil {
			t.Fatal(err)
		}
		start(t, func(ctx context.Context) error {
			return Export(ctx, ncA, name, &ExportOptions{Logf: t.Logf})
		})
		start(t, func(ctx context.Context) error {
			return Import(ctx, ncB, "copy-"+name, &ImportOptions{Key: name, Capacity: 64, Logf: t.Logf})
		})
		waitSegment(t, "copy-"+name, func(m seqlock.Meta, v []byte) bool { return m.Seq >= 1 })
		got, v := readSegment(t, "copy-"+name)
		if got.Kind() != tc.kind || string(v) != tc.value {
			t.Errorf("%v: imported %v segment holding %q, want %v holding %q", name, got.Kind(), v, tc.kind, tc.value)
		}
		m := rawKey(t, ncA, name)
		if m["kind"] != name || !cmp.Equal(m[tc.field], tc.want) {
			t.Errorf("%v: raw key = %v, want kind %v and %s %v", name, m, name, tc.field, tc.want)
		}
	}
}

// TestImportOldEnvelope: envelopes without a kind, as older exporters
// write them, are imported into a segment of bytes as before.
func TestImportOldEnvelope(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	ctx := context.Background()
	old := `{"owner":"0000000000000009","seq":3,"time":"2025-01-02T03:04:05Z","json":{"x":1}}`
	if _, err := kv.Put(ctx, "old", []byte(old)); err != nil {
		t.Fatal(err)
	}
	start(t, func(ctx context.Context) error {
		return Import(ctx, nc, "old", &ImportOptions{Capacity: 64, Logf: t.Logf})
	})
	m, _ := waitSegment(t, "old", func(m seqlock.Meta, v []byte) bool { return m.Seq >= 1 })
	sc, v := readSegment(t, "old")
	if sc.Kind() != schema.Bytes || string(v) != `{"x":1}` || m.UnixNano != time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano() {
		t.Errorf("imported %v %q at %d, want bytes {\"x\":1} with the envelope's time", sc.Kind(), v, m.UnixNano)
	}
	// A binary envelope of an older exporter too.
	if _, err := kv.Put(ctx, "old", Envelope{Owner: 9, Seq: 4, Value: []byte{0xff, 1}}.Encode()); err != nil {
		t.Fatal(err)
	}
	waitSegment(t, "old", func(m seqlock.Meta, v []byte) bool { return bytes.Equal(v, []byte{0xff, 1}) })
}

// TestImportSchemaMismatch: a local segment that exists with another
// schema is refused with ErrSchemaMismatch and a hint, at once (Import),
// or skipped with one line (ImportKeys).
func TestImportSchemaMismatch(t *testing.T) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	text, _ := schema.ForKind(schema.Text)
	p, err := seqlock.Create("local", &seqlock.Options{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	p.Close() // no live publisher: only the schema is in the way
	sc, _ := schema.Parse("float64 x; int32 n")
	val := make([]byte, sc.Size())
	if _, err := kv.Put(context.Background(), "local", Envelope{Owner: 1, Seq: 1, Value: val, Schema: sc}.Append(nil, FormatJSON)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err = Import(ctx, nc, "local", &ImportOptions{Logf: t.Logf})
	if !errors.Is(err, ErrSchemaMismatch) || ctx.Err() != nil {
		t.Fatalf("Import into a text segment of a struct key = %v, want ErrSchemaMismatch at once", err)
	}
	t.Log(err)

	log := &logRecorder{t: t}
	start(t, func(ctx context.Context) error {
		return ImportKeys(ctx, nc, "local", &ImportOptions{Logf: log.logf})
	})
	log.wait(`key "local" skipped`)
	s, err := seqlock.Open("local", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Schema().Kind() != schema.Text || s.Seq() != 0 {
		t.Errorf("segment local became %v with seq %d", s.Schema().Kind(), s.Seq())
	}
}

// TestImportSchemaChange: when the key's schema changes under a running
// import, its values are skipped with one log line until they match the
// segment again; in both envelope formats (the binary one's schema is
// parsed once per change, not per value).
func TestImportSchemaChange(t *testing.T) {
	for _, f := range []struct {
		name   string
		format Format
	}{{"json", FormatJSON}, {"binary", FormatBinary}} {
		t.Run(f.name, func(t *testing.T) { testImportSchemaChange(t, "chg-"+f.name, f.format) })
	}
}

func testImportSchemaChange(t *testing.T, key string, format Format) {
	srv := setup(t)
	nc := connect(t, srv)
	kv := bucket(t, nc, DefaultBucket)
	ctx := context.Background()
	s1, _ := schema.Parse("float64 x")
	s2, _ := schema.Parse("float64 x; float64 y")
	put := func(seq uint64, sc *schema.Schema, x float64) {
		t.Helper()
		v, err := sc.EncodeJSON(nil, []byte(fmt.Sprintf(`{"x":%v}`, x)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, key, Envelope{Owner: 1, Seq: seq, Value: v, Schema: sc}.Append(nil, format)); err != nil {
			t.Fatal(err)
		}
	}
	put(1, s1, 1)
	log := &logRecorder{t: t}
	start(t, func(ctx context.Context) error {
		return Import(ctx, nc, key, &ImportOptions{Logf: log.logf})
	})
	waitSegment(t, key, func(m seqlock.Meta, v []byte) bool { return m.Seq == 1 })
	put(2, s2, 2)
	put(3, s2, 3)
	log.wait("its values are skipped")
	put(4, s1, 4)
	_, v := waitSegment(t, key, func(m seqlock.Meta, v []byte) bool { return m.Seq == 2 })
	if x := math.Float64frombits(binary.LittleEndian.Uint64(v)); x != 4 {
		t.Errorf("after the schema came back, x = %v, want 4", x)
	}
	put(5, s1, 5)
	_, v = waitSegment(t, key, func(m seqlock.Meta, v []byte) bool { return m.Seq == 3 })
	if x := math.Float64frombits(binary.LittleEndian.Uint64(v)); x != 5 {
		t.Errorf("the value after, x = %v, want 5", x)
	}
	if n := log.count("its values are skipped"); n != 1 {
		t.Errorf("%d lines about the change, want 1; log:\n%s", n, log)
	}
	if n := log.count("again, as segment"); n != 1 {
		t.Errorf("%d lines about the schema coming back, want 1; log:\n%s", n, log)
	}
}
