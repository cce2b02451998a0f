package natskv

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/seqshm/seqshm/schema"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []Envelope{
		{Owner: 1, Seq: 0, UnixNano: 0, Value: []byte{}},
		{Owner: 0x0123456789abcdef, Seq: 42, UnixNano: 1_700_000_000_123_456_789, Value: []byte("hello")},
		{Owner: ^uint64(0), Seq: ^uint64(0), UnixNano: -1, Value: make([]byte, 1000)},
	} {
		b := e.Encode()
		if len(b) != HeaderSize+len(e.Value) {
			t.Errorf("len(Encode(%v)) = %d, want %d", e, len(b), HeaderSize+len(e.Value))
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%v)) error %v", e, err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("Decode(Encode(e)) mismatch (-want +got):\n%s", diff)
		}
	}
}

// TestEnvelopeBytes pins the byte layout documented in docs/bridge.md.
func TestEnvelopeBytes(t *testing.T) {
	b := Envelope{Owner: 0x1122334455667788, Seq: 2, UnixNano: 3, Value: []byte("v")}.Encode()
	want := []byte{
		's', 'q', 'b', 'r', 1, 32, 0, 0,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		2, 0, 0, 0, 0, 0, 0, 0,
		3, 0, 0, 0, 0, 0, 0, 0,
		'v',
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("Encode bytes mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Envelope{Owner: 7, Seq: 1, Value: []byte("x")}.Encode()
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", []byte("sqbr")},
		{"plain value", []byte("23.5 degrees, not an envelope")},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'S'; return b })},
		{"version 2", mod(func(b []byte) []byte { b[4] = 2; return b })},
		{"header size 16", mod(func(b []byte) []byte { b[5] = 16; return b })},
		{"header past end", mod(func(b []byte) []byte { b[5] = 200; return b })},
		{"truncated header", good[:20]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.in); !errors.Is(err, ErrEnvelope) {
				t.Errorf("Decode(%q) error = %v, want ErrEnvelope", tc.in, err)
			}
		})
	}
	// A longer header (a future minor version) is skipped.
	long := append(mod(func(b []byte) []byte { b[5] = 40; return b })[:HeaderSize], make([]byte, 8)...)
	long = append(long, "val"...)
	if e, err := Decode(long); err != nil || string(e.Value) != "val" {
		t.Errorf("Decode(40-byte header) = %q, %v, want \"val\", nil", e.Value, err)
	}
}

// TestEnvelopeSchemaBinary: the binary envelope carries the schema in its
// header (flag bit 1), which a reader that predates it skips.
func TestEnvelopeSchemaBinary(t *testing.T) {
	text := mustSchema(t, "text")
	b := Envelope{Owner: 0x1122334455667788, Seq: 2, UnixNano: 3, Value: []byte("v"), Schema: text}.Encode()
	want := []byte{
		's', 'q', 'b', 'r', 1, 48, 2, 0,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		2, 0, 0, 0, 0, 0, 0, 0,
		3, 0, 0, 0, 0, 0, 0, 0,
		'S', 'Q', 'S', 'C', 1, 1, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0,
		'v',
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("Encode bytes mismatch (-want +got):\n%s", diff)
	}
	pose := mustSchema(t, "float64 x; int32 n; bool ok; float32[3] v; char[8] name")
	value := make([]byte, pose.Size())
	value[0] = 7
	for _, e := range []Envelope{
		{Owner: 1, Seq: 2, Value: []byte("v"), Schema: text},
		{Owner: 1, Seq: 3, Value: value, Schema: pose, Released: true},
		{Owner: 1, Schema: pose},
	} {
		b := e.Encode()
		got, err := Decode(b)
		if err != nil || !cmp.Equal(e, got, cmpopts.EquateEmpty(), equateSchemas) {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", e, got, err)
		}
		// An older reader ignores flag bit 1 and skips the header.
		b[6] &^= flagSchema
		old, err := Decode(b)
		if err != nil || old.Schema != nil || !bytes.Equal(old.Value, e.Value) || old.Released != e.Released {
			t.Errorf("Decode without the schema flag = %+v, %v, want the value as bytes", old, err)
		}
	}
	// A schema too large for the header is left out: the value goes as bytes.
	var big strings.Builder
	for i := range 20 {
		fmt.Fprintf(&big, "float64 field_%d; ", i)
	}
	large := mustSchema(t, big.String())
	if BinaryCarries(large) || !BinaryCarries(pose) || !BinaryCarries(nil) {
		t.Errorf("BinaryCarries: %v for 20 fields, %v for 5, %v for nil", BinaryCarries(large), BinaryCarries(pose), BinaryCarries(nil))
	}
	e := Envelope{Owner: 1, Seq: 1, Value: make([]byte, large.Size()), Schema: large}
	if got, err := Decode(e.Encode()); err != nil || got.Schema != nil || len(got.Value) != large.Size() {
		t.Errorf("Decode(Encode(large schema)) = %+v, %v, want bytes without a schema", got, err)
	}
	// A damaged schema, or a struct value of the wrong size, is refused.
	bad := Envelope{Owner: 1, Seq: 1, Value: value, Schema: pose}.Encode()
	bad[HeaderSize+5] = 9 // kind
	short := Envelope{Owner: 1, Seq: 1, Value: value[:3], Schema: pose}.Encode()
	for _, b := range [][]byte{bad, short} {
		if _, err := Decode(b); !errors.Is(err, ErrEnvelope) {
			t.Errorf("Decode(% x) = %v, want ErrEnvelope", b, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Envelope{Owner: 1, Seq: 2, UnixNano: 3, Value: []byte("value")}.Encode())
	f.Add([]byte("sqbr\x01\x20"))
	f.Add(Envelope{Owner: 1, Seq: 2, UnixNano: 3, Value: []byte("value")}.Append(nil, FormatJSON))
	f.Add(Envelope{Owner: 1, Seq: 2, Value: []byte(`[1]`)}.Append(nil, FormatJSON))
	pose := mustSchema(f, "float64 x; int32 n; char[4] name")
	f.Add(Envelope{Owner: 1, Seq: 2, Value: make([]byte, pose.Size()), Schema: pose}.Append(nil, FormatJSON))
	f.Add(Envelope{Owner: 1, Seq: 2, Value: make([]byte, pose.Size()), Schema: pose}.Encode())
	f.Add(Envelope{Owner: 1, Seq: 2, Value: []byte(`{"a":1}`), Schema: mustSchema(f, "json")}.Append(nil, FormatJSON))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		if len(e.Value) > len(b) {
			t.Fatalf("Decode: value of %d bytes from %d bytes", len(e.Value), len(b))
		}
		formats := []Format{FormatBinary}
		if e.Owner != 0 {
			formats = append(formats, FormatJSON)
		}
		for _, f := range formats {
			if e.Schema != nil && f == FormatBinary && !BinaryCarries(e.Schema) {
				continue
			}
			if e2, err := Decode(e.Append(nil, f)); err != nil || !cmp.Equal(e, e2, cmpopts.EquateEmpty(), equateSchemas) {
				t.Fatalf("re-encode as %v: %v, %v, want %v", f, e2, err, e)
			}
		}
	})
}

func TestCheckNames(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"imu", true}, {"robot.pose-2_x", true}, {"a/b=c", true},
		{"", false}, {".hidden", false}, {"trailing.", false}, {"sp ace", false}, {"star*", false}, {"gt>", false},
	} {
		if err := CheckKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok %v", tc.key, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"seqshm", true}, {"my_bucket-1", true}, {"", false}, {"a.b", false}, {"a b", false},
	} {
		if err := CheckBucket(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckBucket(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@host:4222", "nats://xxxxx@host:4222"},
		{"nats://tok3n@host", "nats://xxxxx@host"},
		{"nats://a:b@h1:1, tls://h2:2", "nats://xxxxx@h1:1,tls://h2:2"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDecodeSchemaMemo: decoding with a memo gives what Decode gives,
// parses a schema once while the envelopes carry the same one, parses the
// next one when it changes, and keeps the last good one over a damaged
// envelope; in either format, and when a key's envelopes change format.
func TestDecodeSchemaMemo(t *testing.T) {
	s1, _ := schema.Parse("float64 x")
	s2, _ := schema.Parse("float64 x; int32 n")
	for _, f := range []Format{FormatBinary, FormatJSON} {
		t.Run(f.String(), func(t *testing.T) {
			env := func(sc *schema.Schema, seq uint64) []byte {
				return Envelope{Owner: 1, Seq: seq, Value: make([]byte, sc.Size()), Schema: sc}.Append(nil, f)
			}
			var memo schemaMemo
			first, err := decode(env(s1, 1), &memo)
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := Decode(env(s1, 1))
			if diff := cmp.Diff(plain, first, cmp.Comparer(func(a, b *schema.Schema) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("decode with a memo differs from Decode (-Decode +decode):\n%s", diff)
			}
			second, err := decode(env(s1, 2), &memo)
			if err != nil || second.Schema != first.Schema || second.Seq != 2 {
				t.Errorf("second envelope of the same schema: %v, schema %p, want the memo's %p", err, second.Schema, first.Schema)
			}
			bad := env(s1, 3)
			if f == FormatBinary {
				bad[HeaderSize+4] ^= 0xff // the schema's version byte
			} else {
				bad = bytes.Replace(bad, []byte(`"float64 x"`), []byte(`"float64"`), 1)
			}
			if _, err := decode(bad, &memo); !errors.Is(err, ErrEnvelope) {
				t.Errorf("damaged schema with a memo = %v, want ErrEnvelope", err)
			}
			other, err := decode(env(s2, 4), &memo)
			if err != nil || other.Schema == first.Schema || !other.Schema.Equal(s2) {
				t.Errorf("envelope of another schema: %v, %v, want %v parsed anew", err, other.Schema, s2)
			}
			back, err := decode(env(s1, 5), &memo)
			if err != nil || back.Schema == other.Schema || !back.Schema.Equal(s1) {
				t.Errorf("envelope of the first schema again: %v, %v, want %v", err, back.Schema, s1)
			}
		})
	}

	t.Run("switch", func(t *testing.T) {
		text, _ := schema.ForKind(schema.Text)
		var memo schemaMemo
		bin, err := decode(Envelope{Owner: 1, Seq: 1, Value: make([]byte, 8), Schema: s1}.Encode(), &memo)
		if err != nil {
			t.Fatal(err)
		}
		// A JSON envelope of the same schema reuses the one parsed from
		// the binary envelope.
		js, err := decode(Envelope{Owner: 1, Seq: 2, Value: make([]byte, 8), Schema: s1}.Append(nil, FormatJSON), &memo)
		if err != nil || js.Schema != bin.Schema {
			t.Errorf("json envelope after a binary one: %v, schema %p, want the memo's %p", err, js.Schema, bin.Schema)
		}
		// Another kind with the memo's schema text is not the memo's.
		if _, err := decode([]byte(`{"owner":"1","seq":3,"kind":"text","schema":"float64 x","value":"v"}`), &memo); !errors.Is(err, ErrEnvelope) {
			t.Errorf("kind text with a struct schema, memo holding that struct = %v, want ErrEnvelope", err)
		}
		// A kind without a schema text: ForKind's, once.
		t1, err := decode(Envelope{Owner: 1, Seq: 4, Value: []byte("a=1"), Schema: text}.Append(nil, FormatJSON), &memo)
		if err != nil || !t1.Schema.Equal(text) {
			t.Fatalf("text envelope: %v, %v", err, t1.Schema)
		}
		t2, err := decode(Envelope{Owner: 1, Seq: 5, Value: []byte("a=2"), Schema: text}.Append(nil, FormatJSON), &memo)
		if err != nil || t2.Schema != t1.Schema {
			t.Errorf("second text envelope: %v, schema %p, want the memo's %p", err, t2.Schema, t1.Schema)
		}
		// A binary envelope whose schema area is empty is still refused
		// with a memo filled by a JSON envelope.
		empty := Envelope{Owner: 1, Seq: 6}.Encode()
		empty[6] |= flagSchema
		if _, err := decode(empty, &memo); !errors.Is(err, ErrEnvelope) {
			t.Errorf("empty schema area after a json envelope = %v, want ErrEnvelope", err)
		}
		again, err := decode(Envelope{Owner: 1, Seq: 7, Value: make([]byte, 8), Schema: s1}.Encode(), &memo)
		if err != nil || !again.Schema.Equal(s1) {
			t.Errorf("binary envelope after json ones: %v, %v, want %v", err, again.Schema, s1)
		}
	})
}

// BenchmarkDecodeStruct: an envelope of an 8-field struct in either
// format, its schema parsed each time (Decode) or once (the importer's
// memo).
func BenchmarkDecodeStruct(b *testing.B) {
	sc, err := schema.Parse("int64 t; float64 x; float64 y; float64 z; float64 qw; float64 qx; float64 qy; float64 qz")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []Format{FormatBinary, FormatJSON} {
		buf := Envelope{Owner: 1, Seq: 2, UnixNano: 3, Schema: sc, Value: make([]byte, sc.Size())}.Append(nil, f)
		b.Run(f.String()+"/Decode", func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.String()+"/memo", func(b *testing.B) {
			var memo schemaMemo
			for b.Loop() {
				if _, err := decode(buf, &memo); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
