package schema_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/seqshm/seqshm/schema"
)

func TestEncodeJSON(t *testing.T) {
	tests := []struct {
		schema, in string
		want       []byte
	}{
		{"uint8 a; float64 b", `{}`, make([]byte, 16)},
		{"uint8 a; float64 b", `{"b":null,"a":null}`, make([]byte, 16)},
		{"uint8 a; float64 b", `{"b":-1.5,"a":255}`, lebytes(uint8(255), [7]byte{}, -1.5)},
		{"int8 a; int16 b; int32 c; int64 d", `{"a":-128,"b":-32768,"c":-2147483648,"d":-9223372036854775808}`,
			lebytes(int8(-128), int8(0), int16(-32768), int32(math.MinInt32), int64(math.MinInt64))},
		{"uint16 b; uint32 c; uint64 d", `{"b":65535,"c":4294967295,"d":18446744073709551615}`,
			lebytes(uint16(65535), uint16(0), uint32(math.MaxUint32), uint64(math.MaxUint64))},
		{"uint8 a; int8 b", `{"a":-0,"b":-0}`, []byte{0, 0}},
		{"float64 a; float64 b; float64 c; float32 d", `{"a":"+Inf","b":"-Inf","c":1e308,"d":"NaN"}`,
			lebytes(math.Inf(1), math.Inf(-1), 1e308, math.Float32bits(float32(math.NaN())), [4]byte{})},
		{"float32 a; float64 b", `{"a":1e-50,"b":12345678901234567890}`, lebytes(float32(0), [4]byte{}, 12345678901234567890.0)},
		{"bool a; bool b; bool c", `{"a":true,"b":false}`, []byte{1, 0, 0}},
		{"char[4] a; char[4] b; char[2] c", `{"a":"ab","b":"abcd","c":"é"}`, []byte("ab\x00\x00abcdé")},
		{"int16[3] v", `{"v":[1,-2]}`, lebytes(int16(1), int16(-2), int16(0))},
		{"int16[3] v", `{"v":[]}`, make([]byte, 6)},
		{"int16[3] v", `{"v":[null,5]}`, lebytes(int16(0), int16(5), int16(0))},
		{"struct{uint8 a; struct{int8 b}[2] in}[2] s", `{"s":[{"in":[{},{"b":-1}]},{"a":7}]}`, []byte{0, 0, 0xff, 7, 0, 0}},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.schema)
		got, err := s.EncodeJSON([]byte("pre"), []byte(tt.in))
		if err != nil || !bytes.Equal(got, append([]byte("pre"), tt.want...)) {
			t.Errorf("Parse(%q).EncodeJSON(%s) = % x, %v, want pre + % x", tt.schema, tt.in, got, err, tt.want)
		}
	}
	// dst with stale bytes in its capacity: missing fields must still be zero.
	s := mustParse(t, "uint64 a; uint64 b")
	dst := bytes.Repeat([]byte{0xff}, 16)[:0]
	got, err := s.EncodeJSON(dst, []byte(`{"a":1}`))
	if err != nil || !bytes.Equal(got, lebytes(uint64(1), uint64(0))) {
		t.Errorf("EncodeJSON(dirty dst, {a:1}) = % x, %v", got, err)
	}
}

func TestEncodeJSONErrors(t *testing.T) {
	s := mustParse(t, "uint8 u8; int8 i8; uint16 u16; int32 i32; uint64 u64; int64 i64; float32 f32; float64 f64; bool ok; char[4] name; int16[2] arr; struct{uint8 a; struct{int8 b}[2] in}[2] s")
	tests := []struct{ in, msg string }{
		{``, "EOF"},
		{`{`, "unexpected EOF"},
		{`{"u8":1} {}`, "data after the JSON value"},
		{`{"u8":1} x`, "data after the JSON value"},
		{`[]`, "want a JSON object, got an array"},
		{`null`, "want a JSON object, got null"},
		{`{"zz":1}`, `unknown field "zz"`},
		{`{"U8":1}`, `unknown field "U8"`},
		{`{"s":[{"in":[{"c":1}]}]}`, `unknown field "s[0].in[0].c"`},
		{`{"u8":256}`, "field u8: 256 out of range for uint8"},
		{`{"u8":-1}`, "field u8: negative -1 for uint8"},
		{`{"u64":-1}`, "field u64: negative -1 for uint64"},
		{`{"u64":18446744073709551616}`, "field u64: 18446744073709551616 out of range for uint64"},
		{`{"i8":128}`, "field i8: 128 out of range for int8"},
		{`{"i8":-129}`, "field i8: -129 out of range for int8"},
		{`{"i64":9223372036854775808}`, "field i64: 9223372036854775808 out of range for int64"},
		{`{"i32":1.5}`, "field i32: 1.5 is not an integer"},
		{`{"i32":1e3}`, "field i32: 1e3 is not an integer"},
		{`{"u16":1.0}`, "field u16: 1.0 is not an integer"},
		{`{"u16":-1.5}`, "field u16: -1.5 is not an integer"},
		{`{"i32":"1"}`, `field i32: int32 takes an integer, not string "1"`},
		{`{"i32":true}`, `field i32: int32 takes an integer, not true`},
		{`{"f32":1e39}`, "field f32: 1e39 out of range for float32"},
		{`{"f64":1e309}`, "field f64: 1e309 out of range for float64"},
		{`{"f64":"Inf"}`, `field f64: float64 takes a number, "NaN", "+Inf" or "-Inf", not string "Inf"`},
		{`{"f64":"nan"}`, `not string "nan"`},
		{`{"f64":[]}`, `field f64: float64 takes a number, not an array`},
		{`{"ok":1}`, "field ok: bool takes true or false, not number 1"},
		{`{"ok":"true"}`, "field ok: bool takes true or false"},
		{`{"name":"abcde"}`, "field name: string of 5 bytes, char[4] holds at most 4"},
		{`{"name":"a\u0000b"}`, "field name: string contains NUL"},
		{`{"name":5}`, "field name: char[4] takes a string, not number 5"},
		{`{"arr":[1,2,3]}`, "field arr: 3 elements, int16[2] holds at most 2"},
		{`{"arr":1}`, "field arr: int16[2] takes an array, not number 1"},
		{`{"arr":[1,70000]}`, "field arr[1]: 70000 out of range for int16"},
		{`{"s":{}}`, "field s: struct[2] takes an array"},
		{`{"s":[1]}`, "field s[0]: struct takes an object, not number 1"},
		{`{"s":[{"in":[{"b":-200}]}]}`, "field s[0].in[0].b: -200 out of range for int8"},
	}
	for _, tt := range tests {
		got, err := s.EncodeJSON([]byte("pre"), []byte(tt.in))
		if !errors.Is(err, schema.ErrEncode) || !strings.Contains(err.Error(), tt.msg) || string(got) != "pre" {
			t.Errorf("EncodeJSON(%s) = %q, %v, want pre, ErrEncode containing %q", tt.in, got, err, tt.msg)
		}
	}
}
