package schema_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/seqshm/seqshm/schema"
)

// lebytes concatenates the little-endian encodings of fixed-size values.
func lebytes(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		var err error
		b, err = binary.Append(b, binary.LittleEndian, p)
		if err != nil {
			panic(err)
		}
	}
	return b
}

// memOf returns the in-memory bytes of *v: what a seqlock typed writer
// shares. (Test only: the package itself does not use unsafe.)
func memOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func TestAppendJSONAndLogfmt(t *testing.T) {
	tests := []struct {
		schema       string
		value        []byte
		json, logfmt string
	}{
		{"bool a; bool b; bool c", []byte{0, 1, 2},
			`{"a":false,"b":true,"c":true}`, `a=false b=true c=true`},
		{"int8 a; int16 b; int32 c; int64 d", lebytes(int8(-128), int8(0), int16(-32768), int32(math.MinInt32), int64(math.MinInt64)),
			`{"a":-128,"b":-32768,"c":-2147483648,"d":-9223372036854775808}`, `a=-128 b=-32768 c=-2147483648 d=-9223372036854775808`},
		{"int8 a; int16 b; int32 c; int64 d", lebytes(int8(127), int8(0), int16(32767), int32(math.MaxInt32), int64(math.MaxInt64)),
			`{"a":127,"b":32767,"c":2147483647,"d":9223372036854775807}`, `a=127 b=32767 c=2147483647 d=9223372036854775807`},
		{"uint8 a; uint16 b; uint32 c; uint64 d", lebytes(uint8(255), uint8(0), uint16(65535), uint32(math.MaxUint32), uint64(math.MaxUint64)),
			`{"a":255,"b":65535,"c":4294967295,"d":18446744073709551615}`, `a=255 b=65535 c=4294967295 d=18446744073709551615`},
		{"float64 a; float64 b; float64 c; float64 d", lebytes(math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)),
			`{"a":"NaN","b":"+Inf","c":"-Inf","d":-0}`, `a=NaN b=+Inf c=-Inf d=-0`},
		{"float64 a; float64 b; float64 c; float64 d; float64 e; float64 f; float64 g", lebytes(1e21, 123456789.0, 1e-7, 0.000001, math.MaxFloat64, 5e-324, -2.5),
			`{"a":1e+21,"b":123456789,"c":1e-7,"d":0.000001,"e":1.7976931348623157e+308,"f":5e-324,"g":-2.5}`,
			`a=1e+21 b=123456789 c=1e-7 d=0.000001 e=1.7976931348623157e+308 f=5e-324 g=-2.5`},
		{"float32 a; float32 b; float32 c; float32 d; float32 e", lebytes(float32(0.1), float32(math.MaxFloat32), float32(1e-7), float32(16777216), float32(math.NaN())),
			`{"a":0.1,"b":3.4028235e+38,"c":1e-7,"d":16777216,"e":"NaN"}`, `a=0.1 b=3.4028235e+38 c=1e-7 d=16777216 e=NaN`},
		{"char[4] a; char[4] b; char[4] c; char[1] d", []byte("ab\x00zabcd\x00\x00\x00\x00x"),
			`{"a":"ab","b":"abcd","c":"","d":"x"}`, `a="ab" b="abcd" c="" d="x"`},
		{"char[12] s", []byte("\"\\\n\t\x01\xff<é\u2028"),
			`{"s":"\"\\\n\t\u0001\ufffd<é\u2028"}`, `s="\"\\\n\t\u0001\ufffd<é\u2028"`},
		{"int16[3] v; struct{uint8 a; int32 b} s; struct{int8 x}[2] p", lebytes(int16(1), int16(-2), int16(3), int16(0), uint8(1), [3]byte{}, int32(-1), int8(1), int8(2), [2]byte{}),
			`{"v":[1,-2,3],"s":{"a":1,"b":-1},"p":[{"x":1},{"x":2}]}`, `v=[1,-2,3] s.a=1 s.b=-1 p[0].x=1 p[1].x=2`},
		{"float32[3] f; bool[2] b", lebytes(float32(1), float32(math.Inf(-1)), float32(-1.5), true, false, [2]byte{}),
			`{"f":[1,"-Inf",-1.5],"b":[true,false]}`, `f=[1,-Inf,-1.5] b=[true,false]`},
		{"struct{struct{uint8 a}[2] in}[2] out", []byte{1, 2, 3, 4},
			`{"out":[{"in":[{"a":1},{"a":2}]},{"in":[{"a":3},{"a":4}]}]}`, `out[0].in[0].a=1 out[0].in[1].a=2 out[1].in[0].a=3 out[1].in[1].a=4`},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.schema)
		if len(tt.value) != s.Size() {
			t.Fatalf("%q: test value has %d bytes, size is %d", tt.schema, len(tt.value), s.Size())
		}
		got, err := s.AppendJSON([]byte("> "), tt.value)
		if string(got) != "> "+tt.json || err != nil {
			t.Errorf("Parse(%q).AppendJSON(% x) = %s, %v, want %s", tt.schema, tt.value, got, err, tt.json)
		}
		if !json.Valid(got[2:]) {
			t.Errorf("Parse(%q).AppendJSON(% x) = %s: not valid JSON", tt.schema, tt.value, got)
		}
		got, err = s.AppendLogfmt([]byte("> "), tt.value)
		if string(got) != "> "+tt.logfmt || err != nil {
			t.Errorf("Parse(%q).AppendLogfmt(% x) = %s, %v, want %s", tt.schema, tt.value, got, err, tt.logfmt)
		}
	}
}

func TestValueSize(t *testing.T) {
	s := mustParse(t, "uint8 a; float64 b")
	for _, n := range []int{0, 15, 17} {
		v := make([]byte, n)
		if got, err := s.AppendJSON([]byte("x"), v); !errors.Is(err, schema.ErrValue) || string(got) != "x" {
			t.Errorf("AppendJSON(%d bytes) = %q, %v, want x, ErrValue", n, got, err)
		}
		if got, err := s.AppendLogfmt([]byte("x"), v); !errors.Is(err, schema.ErrValue) || string(got) != "x" {
			t.Errorf("AppendLogfmt(%d bytes) = %q, %v, want x, ErrValue", n, got, err)
		}
		if err := s.Numbers(v, func(string, []int, float64) {}); !errors.Is(err, schema.ErrValue) {
			t.Errorf("Numbers(%d bytes) = %v, want ErrValue", n, err)
		}
	}
}

// telemetry has 32 fields of mixed types; see also the benchmarks.
type telemetry struct {
	Time             int64
	X, Y, Z          float64
	Roll, Pitch, Yaw float64
	VX, VY, VZ       float64
	Cov              [9]float64
	Acc, Gyro        [3]float32
	Temp             float32
	Mode, Flags      uint8
	OK, Armed        bool
	Seq              uint32
	Count, Err       int32
	Sats, Fix        uint8
	Volt, Current    float32
	RPM              [4]int32
	Level            int16
	Heading          uint16
	Alt              float64
	ID               uint64
	Thrust           [4]uint16
	Valid            [4]bool
}

func randTelemetry(r *rand.Rand) telemetry {
	f := func() float64 { return r.NormFloat64() * math.Pow(10, float64(r.IntN(600)-300)) }
	g := func() float32 { return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))) }
	v := telemetry{
		Time: r.Int64() - r.Int64(), X: f(), Y: r.NormFloat64(), Z: float64(r.Int32()),
		Roll: f(), Pitch: f(), Yaw: f(), VX: r.Float64(), VY: -r.Float64(), VZ: 1e-9 * r.Float64(),
		Temp: g(), Mode: uint8(r.Uint32()), Flags: uint8(r.Uint32()), OK: r.IntN(2) == 0, Armed: r.IntN(2) == 0,
		Seq: r.Uint32(), Count: int32(r.Uint32()), Err: -int32(r.Uint32() >> 1), Sats: 12, Fix: 3,
		Volt: g(), Current: g(), Level: int16(r.Uint32()), Heading: uint16(r.Uint32()),
		Alt: f(), ID: r.Uint64(),
	}
	for i := range v.Cov {
		v.Cov[i] = f()
	}
	for i := range 3 {
		v.Acc[i], v.Gyro[i] = g(), g()
	}
	for i := range 4 {
		v.RPM[i], v.Thrust[i], v.Valid[i] = int32(r.Uint32()), uint16(r.Uint32()), r.IntN(2) == 0
	}
	return v
}

// TestMatchesGo checks, on the in-memory bytes of a Go struct, that
// AppendJSON gives what encoding/json gives, and that EncodeJSON of that
// JSON gives back the Go bytes.
func TestMatchesGo(t *testing.T) {
	need8(t)
	s, err := schema.For[telemetry]()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Fields()); n != 32 {
		t.Fatalf("For[telemetry]() has %d fields, want 32", n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var buf, enc []byte
	for i := range 2000 {
		v := randTelemetry(r)
		if i == 0 {
			v = telemetry{Time: math.MinInt64, ID: math.MaxUint64, X: math.MaxFloat64, Y: math.SmallestNonzeroFloat64, Temp: math.MaxFloat32, Volt: math.SmallestNonzeroFloat32}
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		mem := memOf(&v)
		buf, err = s.AppendJSON(buf[:0], mem)
		if err != nil || string(buf) != string(want) {
			t.Fatalf("AppendJSON(%+v) =\n%s, %v\nwant (encoding/json)\n%s", v, buf, err, want)
		}
		enc, err = s.EncodeJSON(enc[:0], want)
		if err != nil || string(enc) != string(mem) {
			t.Fatalf("EncodeJSON(%s) = % x, %v\nwant % x", want, enc, err, mem)
		}
		var back telemetry
		if err := json.Unmarshal(buf, &back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("json.Unmarshal(AppendJSON(%+v)) = %+v, %v", v, back, err)
		}
	}
}

func TestNumbers(t *testing.T) {
	s := mustParse(t, "bool ok; char[3] name; int64 n; float32[2] v; struct{uint8 a; struct{int8 b}[2] in}[2] s; uint64 u")
	v, err := s.EncodeJSON(nil, []byte(`{"ok":true,"name":"abc","n":-5,"v":[1.5,"NaN"],"s":[{"a":1,"in":[{"b":2},{"b":3}]},{"a":4,"in":[{"b":5}]}],"u":18446744073709551615}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.Numbers(v, func(name string, index []int, x float64) {
		got = append(got, fmt.Sprint(name, index, "=", x))
	})
	want := "ok[]=1 n[]=-5 v[0]=1.5 v[1]=NaN s.a[0]=1 s.in.b[0 0]=2 s.in.b[0 1]=3 s.a[1]=4 s.in.b[1 0]=5 s.in.b[1 1]=0 u[]=1.8446744073709552e+19"
	if strings.Join(got, " ") != want || err != nil {
		t.Errorf("Numbers() visited\n%s, %v\nwant\n%s", strings.Join(got, " "), err, want)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = s.Numbers(v, func(string, []int, float64) {})
	})
	if allocs > 1 {
		t.Errorf("Numbers() allocates %v times, want at most 1", allocs)
	}
}

func TestLookup(t *testing.T) {
	s := mustParse(t, "float64 x [m]; float64[3] cov; char[4] name; struct{int32 a [s]; uint8[2] b} pos; struct{float32 x; bool ok}[2] pts")
	v, err := s.EncodeJSON(nil, []byte(`{"x":1.5,"cov":[1,2,3],"name":"ab","pos":{"a":-7,"b":[8,9]},"pts":[{"x":0.25,"ok":true},{"x":"-Inf"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, name string
		typ        schema.Type
		len        int
		unit       string
		off, size  int
		json, text string
		num        float64
		ok         bool
	}{
		{"x", "x", schema.Float64, 0, "m", 0, 8, `1.5`, `1.5`, 1.5, true},
		{"cov", "cov", schema.Float64, 3, "", 8, 24, `[1,2,3]`, `[1,2,3]`, 0, false},
		{"cov[2]", "cov[2]", schema.Float64, 0, "", 24, 8, `3`, `3`, 3, true},
		{"cov[02]", "cov[2]", schema.Float64, 0, "", 24, 8, `3`, `3`, 3, true},
		{"name", "name", schema.Char, 4, "", 32, 4, `"ab"`, `ab`, 0, false},
		{"pos", "pos", schema.Nested, 0, "", 36, 8, `{"a":-7,"b":[8,9]}`, `a=-7 b=[8,9]`, 0, false},
		{"pos.a", "pos.a", schema.Int32, 0, "s", 36, 4, `-7`, `-7`, -7, true},
		{"pos.b[1]", "pos.b[1]", schema.Uint8, 0, "", 41, 1, `9`, `9`, 9, true},
		{"pts", "pts", schema.Nested, 2, "", 44, 16, `[{"x":0.25,"ok":true},{"x":"-Inf","ok":false}]`, `[0].x=0.25 [0].ok=true [1].x=-Inf [1].ok=false`, 0, false},
		{"pts[1]", "pts[1]", schema.Nested, 0, "", 52, 8, `{"x":"-Inf","ok":false}`, `x=-Inf ok=false`, 0, false},
		{"pts[0].ok", "pts[0].ok", schema.Bool, 0, "", 48, 1, `true`, `true`, 1, true},
		{"pts[1].x", "pts[1].x", schema.Float32, 0, "", 52, 4, `"-Inf"`, `-Inf`, math.Inf(-1), true},
	}
	for _, tt := range tests {
		a, err := s.Lookup(tt.path)
		if err != nil {
			t.Errorf("Lookup(%q) = %v", tt.path, err)
			continue
		}
		if a.Name() != tt.name || a.Type() != tt.typ || a.Len() != tt.len || a.Unit() != tt.unit || a.Offset() != tt.off || a.Size() != tt.size {
			t.Errorf("Lookup(%q) = name %q type %v len %d unit %q off %d size %d, want %q %v %d %q %d %d",
				tt.path, a.Name(), a.Type(), a.Len(), a.Unit(), a.Offset(), a.Size(), tt.name, tt.typ, tt.len, tt.unit, tt.off, tt.size)
		}
		if got, err := a.AppendJSON(nil, v); string(got) != tt.json || err != nil {
			t.Errorf("Lookup(%q).AppendJSON() = %s, %v, want %s", tt.path, got, err, tt.json)
		}
		if got, err := a.AppendText(nil, v); string(got) != tt.text || err != nil {
			t.Errorf("Lookup(%q).AppendText() = %s, %v, want %s", tt.path, got, err, tt.text)
		}
		if got, ok := a.Float64(v); got != tt.num || ok != tt.ok {
			t.Errorf("Lookup(%q).Float64() = %v, %v, want %v, %v", tt.path, got, ok, tt.num, tt.ok)
		}
		if _, ok := a.Float64(v[1:]); ok {
			t.Errorf("Lookup(%q).Float64(short value) = _, true", tt.path)
		}
		if _, err := a.AppendJSON(nil, v[1:]); !errors.Is(err, schema.ErrValue) {
			t.Errorf("Lookup(%q).AppendJSON(short value) = _, %v, want ErrValue", tt.path, err)
		}
	}
	bad := []struct{ path, msg string }{
		{"", `no field ""`},
		{"z", `no field "z"`},
		{"pos.z", `no field "z" in pos`},
		{"x[0]", "x is not an array"},
		{"name[0]", "name is not an array"},
		{"cov[3]", "index 3 out of range for cov[3]"},
		{"cov[-1]", "bad index"},
		{"cov[]", "bad index"},
		{"cov[1", "want NAME or NAME[INDEX]"},
		{"x.y", "x is not a struct"},
		{"pts.x", "pts is not a struct"},
		{"pos.", `no field "" in pos`},
		{"cov[99999999999999999999999]", "bad index"},
	}
	for _, tt := range bad {
		if a, err := s.Lookup(tt.path); !errors.Is(err, schema.ErrNotFound) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Lookup(%q) = %v, %v, want ErrNotFound containing %q", tt.path, a, err, tt.msg)
		}
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	need8(t)
	s, err := schema.For[telemetry]()
	if err != nil {
		t.Fatal(err)
	}
	v := randTelemetry(rand.New(rand.NewPCG(3, 4)))
	mem := memOf(&v)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = s.AppendJSON(buf[:0], mem) }); n != 0 {
		t.Errorf("AppendJSON into a reused buffer allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = s.AppendLogfmt(buf[:0], mem) }); n != 0 {
		t.Errorf("AppendLogfmt into a reused buffer allocates %v times, want 0", n)
	}
}
