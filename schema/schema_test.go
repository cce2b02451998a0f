package schema_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/seqshm/seqshm/schema"
)

func mustParse(t testing.TB, text string) *schema.Schema {
	t.Helper()
	s, err := schema.Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", text, err)
	}
	return s
}

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"float64 x; float64 y", "float64 x; float64 y"},
		{"float64 x\nfloat64 y\n", "float64 x; float64 y"},
		{"  float64   x ;;; float64 y ;", "float64 x; float64 y"},
		{"float64 x; float64 y; float64 yaw; uint32 status; float64[9] cov", "float64 x; float64 y; float64 yaw; uint32 status; float64[9] cov"},
		{"# pose\nfloat64 x [m] # east\nfloat64 speed [ m/s ]", "float64 x [m]; float64 speed [m/s]"},
		{"float64 [3] v", "float64[3] v"},
		{"byte b; char[16] name", "uint8 b; char[16] name"},
		{"bool ok\r\nint8 a\r\nint16 b; int32 c; int64 d; uint8 e; uint16 f; uint32 g; uint64 h; float32 i", "bool ok; int8 a; int16 b; int32 c; int64 d; uint8 e; uint16 f; uint32 g; uint64 h; float32 i"},
		{"struct{float64 x; float64 y} pos", "struct{float64 x; float64 y} pos"},
		{"struct {\n  float64 x [m]\n  float64 y [m]\n} pos [m]; bool ok", "struct{float64 x [m]; float64 y [m]} pos [m]; bool ok"},
		{"struct{struct{int8 a}[2] in; int8 b;}[3] out", "struct{struct{int8 a}[2] in; int8 b}[3] out"},
		{"float64 t [°C]", "float64 t [°C]"},
		{"text", "text"},
		{" json # a document\n", "json"},
		{"bytes", "bytes"},
		{"uint8 text", "uint8 text"},
	}
	for _, tt := range tests {
		s, err := schema.Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.in, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		s2, err := schema.Parse(s.String())
		if err != nil || !s2.Equal(s) {
			t.Errorf("Parse(%q) = %v, %v, want a schema Equal to Parse(%q)", s.String(), s2, err, tt.in)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{"", schema.ErrSyntax, "no fields"},
		{"# nothing", schema.ErrSyntax, "no fields"},
		{"struct", schema.ErrSyntax, "want { after struct"},
		{"float64", schema.ErrSyntax, "want a field name after float64"},
		{"float64 x y", schema.ErrSyntax, `unexpected 'y' after field x`},
		{"float x", schema.ErrSyntax, "use float32"},
		{"string s", schema.ErrSyntax, "use char[N]"},
		{"int n", schema.ErrSyntax, "platform-dependent"},
		{"time t", schema.ErrSyntax, "time is not a primitive"},
		{"quaternion q", schema.ErrSyntax, `unknown type "quaternion"`},
		{"char name", schema.ErrSyntax, "char needs a length"},
		{"float64[] v", schema.ErrSyntax, "only fixed-size arrays"},
		{"float64[<=3] v", schema.ErrSyntax, "only fixed-size arrays"},
		{"float64[0] v", schema.ErrSyntax, "out of range"},
		{"float64[99999999999999999999] v", schema.ErrSyntax, "out of range"},
		{"float64[3][3] m", schema.ErrSyntax, "arrays of arrays"},
		{"float64[3 v", schema.ErrSyntax, "want an array length"},
		{"float64 x [m", schema.ErrSyntax, "missing ]"},
		{"float64 x []", schema.ErrSyntax, "empty unit"},
		{"float64 x [m;s]", schema.ErrSyntax, "not allowed"},
		{"float64 x [m\ts]", schema.ErrSyntax, "not allowed"},
		{"float64 x = 1", schema.ErrSyntax, "unexpected '='"},
		{"int32 X=1", schema.ErrSyntax, "unexpected '='"},
		{"float64 9x", schema.ErrSyntax, "invalid name"},
		{"float64 é", schema.ErrSyntax, "want a field name"},
		{"float64 " + strings.Repeat("a", 65), schema.ErrSyntax, "longer than 64"},
		{"struct{} e", schema.ErrSyntax, "struct has no fields"},
		{"struct{int8 a", schema.ErrSyntax, "missing }"},
		{"int8 a}", schema.ErrSyntax, "unexpected '}'"},
		{"}", schema.ErrSyntax, "unexpected }"},
		{strings.Repeat("struct{", 8) + "int8 a" + strings.Repeat("}x", 8), schema.ErrSyntax, "nested deeper than 8"},
		{strings.Repeat("struct{", 100000), schema.ErrSyntax, "nested deeper than 8"},
		{"float64 x; float64 x", schema.ErrInvalid, `field "x": duplicate name`},
		{"struct{int8 a; int8 a} s", schema.ErrInvalid, `field "s.a": duplicate name`},
		{"uint8[1073741824] a; uint8 b", schema.ErrInvalid, "larger than"},
		{"float64[1073741824] a", schema.ErrInvalid, "larger than"},
		{strings.Repeat("int8 a\n", 1025), schema.ErrSyntax, "more than 1024 fields"},
		{strings.Repeat(" ", schema.MaxTextSize+1), schema.ErrSyntax, "longer than"},
	}
	for _, tt := range tests {
		s, err := schema.Parse(tt.in)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "schema: ") {
			in := tt.in
			if len(in) > 60 {
				in = in[:60] + "..."
			}
			t.Errorf("Parse(%q) = %v, %v, want error %v containing %q", in, s, err, tt.want, tt.msg)
		}
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		in      string
		offsets []int
		size    int
		align   int
	}{
		{"uint8 a; float64 b", []int{0, 8}, 16, 8},
		{"uint8 a; uint16 b; uint8 c", []int{0, 2, 4}, 6, 2},
		{"float64 a; uint8 b", []int{0, 8}, 16, 8},
		{"uint8 a; char[3] s; uint32 n", []int{0, 1, 4}, 8, 4},
		{"bool a; int16[3] b; int32 c; int8 d", []int{0, 2, 8, 12}, 16, 4},
		{"uint8 a; struct{uint8 b; uint32 c} s; uint8 d", []int{0, 4, 12}, 16, 4},
		{"uint8 a; struct{uint8 b; uint8 c}[3] s; uint8 d", []int{0, 1, 7}, 8, 1},
		{"uint16 a; struct{float32 x; uint8 y}[2] s; uint8 d", []int{0, 4, 20}, 24, 4},
		{"float32 a; float64 b; float32 c", []int{0, 8, 16}, 24, 8},
		{"char[5] a", []int{0}, 5, 1},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.in)
		var got []int
		for _, f := range s.Fields() {
			got = append(got, f.Offset)
		}
		if !reflect.DeepEqual(got, tt.offsets) || s.Size() != tt.size || s.Align() != tt.align {
			t.Errorf("Parse(%q): offsets %v, size %d, align %d; want %v, %d, %d", tt.in, got, s.Size(), s.Align(), tt.offsets, tt.size, tt.align)
		}
	}
}

func TestFields(t *testing.T) {
	s := mustParse(t, "uint8 a [x]; struct{uint8 b; float32[2] c} s; char[4] n")
	want := []schema.Field{
		{Name: "a", Type: schema.Uint8, Unit: "x"},
		{Name: "s", Type: schema.Nested, Offset: 4, Fields: []schema.Field{
			{Name: "b", Type: schema.Uint8},
			{Name: "c", Type: schema.Float32, Len: 2, Offset: 4},
		}},
		{Name: "n", Type: schema.Char, Len: 4, Offset: 16},
	}
	if diff := cmp.Diff(want, s.Fields()); diff != "" {
		t.Errorf("Fields() mismatch (-want +got):\n%s", diff)
	}
	s2, err := schema.New(want...)
	if err != nil || !s2.Equal(s) {
		t.Errorf("New(Fields()) = %v, %v, want %v", s2, err, s)
	}
	if _, err := schema.New(); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("New() = _, %v, want ErrInvalid", err)
	}
	bad := []schema.Field{
		{Name: "a", Type: 0},
		{Name: "a", Type: 14},
		{Name: "a", Type: schema.Char},
		{Name: "a", Type: schema.Int8, Len: -1},
		{Name: "a", Type: schema.Int8, Fields: []schema.Field{{Name: "b", Type: schema.Int8}}},
		{Name: "a", Type: schema.Nested},
		{Name: "", Type: schema.Int8},
		{Name: "a", Type: schema.Int8, Unit: " m"},
		{Name: "a", Type: schema.Int8, Unit: "m\x00"},
		{Name: "a", Type: schema.Int8, Unit: "\xff"},
		{Name: "a", Type: schema.Int8, Unit: strings.Repeat("m", 65)},
	}
	for _, f := range bad {
		if s, err := schema.New(f); !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("New(%+v) = %v, %v, want ErrInvalid", f, s, err)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, k := range []schema.Kind{schema.Bytes, schema.Text, schema.JSON, schema.Struct} {
		got, err := schema.ParseKind(k.String())
		if got != k || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v, want %v", k.String(), got, err, k)
		}
	}
	if _, err := schema.ParseKind("xml"); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("ParseKind(xml) = _, %v, want ErrInvalid", err)
	}
	if got := schema.Kind(9).String(); got != "kind(9)" {
		t.Errorf("Kind(9).String() = %q", got)
	}
	if got := schema.Type(0).String(); got != "type(0)" {
		t.Errorf("Type(0).String() = %q", got)
	}
	if _, err := schema.ForKind(schema.Struct); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("ForKind(Struct) = _, %v, want ErrInvalid", err)
	}
	tests := []struct {
		kind         schema.Kind
		in           string // JSON given to EncodeJSON
		value        string
		json, logfmt string
	}{
		{schema.Text, `"héllo \"x\"\n"`, "héllo \"x\"\n", `"héllo \"x\"\n"`, `value="héllo \"x\"\n"`},
		{schema.JSON, ` { "a" : [1, 2] } `, `{"a":[1,2]}`, `{"a":[1,2]}`, `value="{\"a\":[1,2]}"`},
		{schema.Bytes, `"AAEC/w=="`, "\x00\x01\x02\xff", `"AAEC/w=="`, `value="AAEC/w=="`},
	}
	for _, tt := range tests {
		s, err := schema.ForKind(tt.kind)
		if err != nil {
			t.Fatal(err)
		}
		if s.Kind() != tt.kind || s.Size() != 0 || s.Fields() != nil || s.String() != tt.kind.String() {
			t.Errorf("ForKind(%v) = kind %v size %d fields %v text %q", tt.kind, s.Kind(), s.Size(), s.Fields(), s)
		}
		v, err := s.EncodeJSON([]byte("pre"), []byte(tt.in))
		if string(v) != "pre"+tt.value || err != nil {
			t.Errorf("%v: EncodeJSON(%s) = %q, %v, want %q", tt.kind, tt.in, v, err, tt.value)
		}
		j, err := s.AppendJSON(nil, []byte(tt.value))
		if string(j) != tt.json || err != nil {
			t.Errorf("%v: AppendJSON(%q) = %s, %v, want %s", tt.kind, tt.value, j, err, tt.json)
		}
		l, err := s.AppendLogfmt(nil, []byte(tt.value))
		if string(l) != tt.logfmt || err != nil {
			t.Errorf("%v: AppendLogfmt(%q) = %s, %v, want %s", tt.kind, tt.value, l, err, tt.logfmt)
		}
		if _, err := s.Lookup("x"); !errors.Is(err, schema.ErrNotFound) {
			t.Errorf("%v: Lookup(x) = _, %v, want ErrNotFound", tt.kind, err)
		}
		if err := s.Numbers(nil, nil); err != nil {
			t.Errorf("%v: Numbers = %v", tt.kind, err)
		}
	}
	js, _ := schema.ForKind(schema.JSON)
	if _, err := js.AppendJSON(nil, []byte("{")); !errors.Is(err, schema.ErrValue) {
		t.Errorf("json: AppendJSON({) = _, %v, want ErrValue", err)
	}
	if _, err := js.EncodeJSON(nil, []byte("{} {}")); !errors.Is(err, schema.ErrEncode) {
		t.Errorf("json: EncodeJSON({} {}) = _, %v, want ErrEncode", err)
	}
	tx, _ := schema.ForKind(schema.Text)
	if _, err := tx.EncodeJSON(nil, []byte("1")); !errors.Is(err, schema.ErrEncode) {
		t.Errorf("text: EncodeJSON(1) = _, %v, want ErrEncode", err)
	}
	by, _ := schema.ForKind(schema.Bytes)
	if _, err := by.EncodeJSON(nil, []byte(`"!!"`)); !errors.Is(err, schema.ErrEncode) {
		t.Errorf("bytes: EncodeJSON(!!) = _, %v, want ErrEncode", err)
	}
}

func TestFingerprint(t *testing.T) {
	a := mustParse(t, "float64 x [m]; float64 y [m]; uint32 status; float64[9] cov; char[8] frame")
	if got, want := a.Fingerprint(), uint64(0xc3b546a2cfe42e7a); got != want {
		t.Errorf("Fingerprint() = %#x, want %#x (the binary format or the hash changed)", got, want)
	}
	seen := map[uint64]string{}
	for _, text := range []string{"text", "json", "bytes", "float64 x", "float64 y", "float64 x [m]", "float32 x", "float64[1] x", "struct{float64 x} x", "char[8] x", "uint8[8] x"} {
		fp := mustParse(t, text).Fingerprint()
		if fp == 0 {
			t.Errorf("Parse(%q).Fingerprint() = 0", text)
		}
		if other, ok := seen[fp]; ok {
			t.Errorf("Parse(%q).Fingerprint() = Parse(%q).Fingerprint() = %#x", text, other, fp)
		}
		seen[fp] = text
	}
}
