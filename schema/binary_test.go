package schema_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seqshm/seqshm/schema"
)

var binarySchemas = []string{
	"text", "json", "bytes",
	"uint8 a",
	"float64 x [m]; float64 y [m]; uint32 status; float64[9] cov; char[8] frame",
	"struct{float64 x; float64 y} pos; bool ok",
	"uint8 a; struct{uint8 b; struct{int16 c [°C]; char[3] d}[2] in; uint32 e}[3] s; int64[2] f",
	"bool a; int8 b; int16 c; int32 d; int64 e; uint8 f; uint16 g; uint32 h; uint64 i; float32 j; float64 k; char[1] l",
}

func TestBinaryRoundTrip(t *testing.T) {
	for _, text := range binarySchemas {
		s := mustParse(t, text)
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := schema.BinarySize(append(b, make([]byte, 100)...)); n != len(b) || err != nil {
			t.Errorf("BinarySize(%q encoding + 100 zeros) = %d, %v, want %d", text, n, err, len(b))
		}
		got, err := schema.UnmarshalBinary(b)
		if err != nil || !got.Equal(s) || got.String() != s.String() || got.Fingerprint() != s.Fingerprint() {
			t.Errorf("UnmarshalBinary(Parse(%q).MarshalBinary()) = %v, %v", text, got, err)
		}
		if a, _ := s.AppendBinary([]byte("x")); !bytes.Equal(a, append([]byte("x"), b...)) {
			t.Errorf("AppendBinary = % x", a)
		}
		// Every truncation is an error, never a panic.
		for n := range len(b) {
			if got, err := schema.UnmarshalBinary(b[:n]); err == nil {
				t.Errorf("UnmarshalBinary(%q encoding[:%d]) = %v, want an error", text, n, got)
			}
		}
		// Every one-byte change either fails or gives a schema that
		// re-marshals to exactly the changed bytes.
		for i := range b {
			for _, x := range []byte{0, 1, 0x80, 0xff, b[i] ^ 1, b[i] + 1} {
				c := bytes.Clone(b)
				c[i] = x
				got, err := schema.UnmarshalBinary(c)
				if err != nil {
					if !errors.Is(err, schema.ErrFormat) {
						t.Errorf("UnmarshalBinary(%q encoding with byte %d = %#x) = %v, not ErrFormat", text, i, x, err)
					}
					continue
				}
				if r, _ := got.MarshalBinary(); !bytes.Equal(r, c) {
					t.Errorf("UnmarshalBinary(%q encoding with byte %d = %#x) re-marshals differently", text, i, x)
				}
			}
		}
	}
}

// enc builds binary schemas for tests.
type enc struct{ b []byte }

func newEnc(kind byte, size uint32) *enc {
	e := &enc{b: []byte("SQSC\x01")}
	e.b = append(e.b, kind, 0, 0, 0, 0, 0, 0)
	e.b = binary.LittleEndian.AppendUint32(e.b, size)
	return e
}

func (e *enc) body(n uint16, align byte, size uint32) *enc {
	e.b = binary.LittleEndian.AppendUint16(e.b, n)
	e.b = append(e.b, align, 0)
	e.b = binary.LittleEndian.AppendUint32(e.b, size)
	return e
}

func (e *enc) field(typ byte, name, unit string, off, n uint32) *enc {
	e.b = append(e.b, typ, byte(len(name)), byte(len(unit)), 0)
	e.b = binary.LittleEndian.AppendUint32(e.b, off)
	e.b = binary.LittleEndian.AppendUint32(e.b, n)
	e.b = append(e.b, name...)
	e.b = append(e.b, unit...)
	return e
}

func (e *enc) raw(b ...byte) *enc { e.b = append(e.b, b...); return e }

// done sets the length field.
func (e *enc) done() []byte {
	binary.LittleEndian.PutUint32(e.b[8:], uint32(len(e.b)))
	return e.b
}

func TestUnmarshalBinaryHostile(t *testing.T) {
	good := newEnc(3, 16).body(2, 8, 16).field(6, "a", "", 0, 0).field(11, "b", "m", 8, 0).done()
	if s, err := schema.UnmarshalBinary(good); err != nil || s.String() != "uint8 a; float64 b [m]" {
		t.Fatalf("UnmarshalBinary(good) = %v, %v", s, err)
	}
	set := func(b []byte, at int, v ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[at:], v)
		return c
	}
	deep := newEnc(3, 1)
	for range 9 {
		deep.body(1, 1, 1).field(13, "s", "", 0, 0)
	}
	deep.body(1, 1, 1).field(6, "a", "", 0, 0)
	many := newEnc(3, 1025).body(1025, 1, 1025)
	for i := range 1025 {
		many.field(6, fmt.Sprintf("f%d", i), "", uint32(i), 0)
	}
	spread := newEnc(3, 0).body(2, 1, 0) // 2 × 600 nested fields: 1202 in all
	for range 2 {
		spread.field(13, fmt.Sprintf("s%d", len(spread.b)), "", 0, 0).body(600, 1, 600)
		for i := range 600 {
			spread.field(6, fmt.Sprintf("f%d", i), "", uint32(i), 0)
		}
	}
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"nil", nil, "shorter than the 16-byte header"},
		{"short", good[:15], "shorter than the 16-byte header"},
		{"magic", set(good, 0, 'X'), "bad magic"},
		{"version", set(good, 4, 2), "version 2, want 1"},
		{"kind", set(good, 5, 4), "unknown kind 4"},
		{"reserved header", set(good, 6, 1), "reserved header bytes"},
		{"length small", set(good, 8, 15, 0, 0, 0), "length 15 out of range"},
		{"length huge", set(good, 8, 0xff, 0xff, 0xff, 0xff), "length 4294967295 out of range"},
		{"larger than area", set(good, 8, byte(len(good)+1)), fmt.Sprintf("schema of %d bytes larger than its area of %d bytes", len(good)+1, len(good))},
		{"trailing", append(bytes.Clone(good), 0), "1 trailing bytes"},
		{"bytes after fields", set(append(bytes.Clone(good), 0, 0), 8, byte(len(good)+2)), "2 bytes after the last field"},
		{"value size", set(good, 12, 17), "header value size 17, struct size 16"},
		{"text with body", newEnc(1, 0).raw(0).done(), "a text schema has no fields"},
		{"text with size", newEnc(1, 4).done(), "a text schema has no fields"},
		{"no fields", newEnc(3, 0).body(0, 1, 0).done(), "struct has no fields"},
		{"count overflow", newEnc(3, 1).body(0xffff, 1, 1).field(6, "a", "", 0, 0).done(), "more than 1024 fields"},
		{"count beyond input", newEnc(3, 1).body(100, 1, 1).field(6, "a", "", 0, 0).done(), "100 fields needs 1200 bytes"},
		{"reserved body", set(good, 19, 1), "reserved byte is not zero"},
		{"reserved field", set(good, 27, 1), "reserved byte is not zero"},
		{"type 0", set(good, 24, 0), "unknown type code 0"},
		{"type 14", set(good, 24, 14), "unknown type code 14"},
		{"name too long", newEnc(3, 1).body(1, 1, 1).field(6, strings.Repeat("a", 65), "", 0, 0).done(), "longer than 64"},
		{"name empty", newEnc(3, 1).body(1, 1, 1).field(6, "", "", 0, 0).done(), "empty name"},
		{"name digit", newEnc(3, 1).body(1, 1, 1).field(6, "1a", "", 0, 0).done(), `invalid name "1a"`},
		{"name utf8", newEnc(3, 1).body(1, 1, 1).field(6, "é", "", 0, 0).done(), "invalid name"},
		{"name NUL", newEnc(3, 1).body(1, 1, 1).field(6, "a\x00", "", 0, 0).done(), "invalid name"},
		{"duplicate", newEnc(3, 2).body(2, 1, 2).field(6, "a", "", 0, 0).field(6, "a", "", 1, 0).done(), `field "a": duplicate name`},
		{"unit bad", newEnc(3, 1).body(1, 1, 1).field(6, "a", "m]", 0, 0).done(), "not allowed"},
		{"unit utf8", newEnc(3, 1).body(1, 1, 1).field(6, "a", "\xff", 0, 0).done(), "not valid UTF-8"},
		{"name past end", newEnc(3, 1).body(1, 1, 1).raw(6, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a').done(), "name and unit needs 9 bytes, 1 left"},
		{"offset wrong", set(good, 41, 4), `field "b": offset 4 recorded, C layout gives 8`},
		{"offset overlap", set(good, 41, 0), `field "b": offset 0 recorded, C layout gives 8`},
		{"offset huge", set(good, 41, 0, 0, 0, 0x80), "out of range"},
		{"size wrong", set(set(good, 20, 24), 12, 24), "size 24 and alignment 8 recorded, C layout gives 16 and 8"},
		{"align wrong", set(good, 18, 4), "size 16 and alignment 4 recorded"},
		{"char len 0", newEnc(3, 1).body(1, 1, 1).field(12, "c", "", 0, 0).done(), "char needs a length"},
		{"array huge", newEnc(3, 0).body(1, 8, 0).field(11, "a", "", 0, 1<<30).done(), "struct larger than"},
		{"array overflow", newEnc(3, 0).body(1, 8, 0).field(11, "a", "", 0, 0xffffffff).done(), "out of range"},
		{"nested array huge", newEnc(3, 0).body(1, 1, 0).field(13, "s", "", 0, 1<<30).body(1, 1, 2).field(12, "c", "", 0, 2).done(), "struct larger than"},
		{"nested no body", newEnc(3, 1).body(1, 1, 1).field(13, "s", "", 0, 0).done(), "struct header needs 8 bytes"},
		{"nested size", newEnc(3, 1).body(1, 1, 1).field(13, "s", "", 0, 0).body(1, 1, 2).field(6, "a", "", 0, 0).done(), `field "s": size 2 and alignment 1 recorded, C layout gives 1 and 1`},
		{"too deep", deep.done(), "nested deeper than 8"},
		{"too many", many.done(), "more than 1024 fields"},
		{"too many nested", spread.done(), "more than 1024 fields"},
	}
	for _, tt := range tests {
		s, err := schema.UnmarshalBinary(tt.b)
		if !errors.Is(err, schema.ErrFormat) || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "schema: ") {
			t.Errorf("UnmarshalBinary(%s) = %v, %v, want ErrFormat containing %q", tt.name, s, err, tt.msg)
		}
	}
}

func TestBinaryLimits(t *testing.T) {
	// The largest schema by encoding: MaxFields fields with the longest
	// names and units, in the deepest nesting, fits MaxBinarySize.
	var fields []schema.Field
	unit := strings.Repeat("u", schema.MaxUnitLen)
	for i := range schema.MaxFields - 7 {
		fields = append(fields, schema.Field{Name: fmt.Sprintf("%s%04d", strings.Repeat("n", schema.MaxNameLen-4), i), Type: schema.Float64, Len: 2, Unit: unit})
	}
	for range 7 {
		fields = []schema.Field{{Name: strings.Repeat("s", schema.MaxNameLen), Type: schema.Nested, Unit: unit, Fields: fields}}
	}
	s, err := schema.New(fields...)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.MarshalBinary()
	if len(b) > schema.MaxBinarySize {
		t.Errorf("largest schema encodes to %d bytes > MaxBinarySize %d", len(b), schema.MaxBinarySize)
	}
	if got, err := schema.UnmarshalBinary(b); err != nil || !got.Equal(s) {
		t.Errorf("UnmarshalBinary(largest) = %v", err)
	}
	if got, err := schema.Parse(s.String()); err != nil || !got.Equal(s) {
		t.Errorf("Parse(largest.String()) = %v", err)
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, text := range binarySchemas {
		s, err := schema.Parse(text)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("SQSC\x01\x03\x00\x00\x18\x00\x00\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := schema.UnmarshalBinary(b)
		if err != nil {
			if s != nil || !errors.Is(err, schema.ErrFormat) {
				t.Fatalf("UnmarshalBinary = %v, %v", s, err)
			}
			return
		}
		r, _ := s.MarshalBinary()
		if !bytes.Equal(r, b) {
			t.Fatalf("UnmarshalBinary(% x).MarshalBinary() = % x", b, r)
		}
		p, err := schema.Parse(s.String())
		if err != nil || !p.Equal(s) {
			t.Fatalf("Parse(%q) = %v, %v, want Equal", s.String(), p, err)
		}
		if s.Kind() == schema.Struct {
			v := make([]byte, s.Size())
			if _, err := s.AppendJSON(nil, v); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, text := range binarySchemas {
		f.Add(text)
	}
	f.Add("# c\nfloat64 x [m/s] # c\n\nstruct { int8 a; } s;")
	f.Add("float64[3] v; char[4] n; uint8 text")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := schema.Parse(text)
		if err != nil {
			if s != nil || !errors.Is(err, schema.ErrSyntax) && !errors.Is(err, schema.ErrInvalid) || !strings.HasPrefix(err.Error(), "schema: ") {
				t.Fatalf("Parse(%q) = %v, %v", text, s, err)
			}
			return
		}
		p, err := schema.Parse(s.String())
		if err != nil || !p.Equal(s) || p.String() != s.String() {
			t.Fatalf("Parse(%q) = %v, %v, want Equal to Parse(%q)", s.String(), p, err, text)
		}
		b, _ := s.MarshalBinary()
		u, err := schema.UnmarshalBinary(b)
		if err != nil || !u.Equal(s) {
			t.Fatalf("UnmarshalBinary(Parse(%q).MarshalBinary()) = %v, %v", text, u, err)
		}
		if s.Kind() == schema.Struct && s.Size() <= 1<<16 {
			v := make([]byte, s.Size())
			j, err := s.AppendJSON(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := s.EncodeJSON(nil, j)
			if err != nil || !bytes.Equal(v2, v) {
				t.Fatalf("EncodeJSON(AppendJSON(zero value)) = %v, want zero value", err)
			}
		}
	})
}
