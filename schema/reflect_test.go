package schema_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/seqshm/seqshm/schema"
)

type pose struct {
	X      float64 `seqshm:"x,unit=m"`
	Y      float64 `seqshm:"y,unit=m"`
	Yaw    float64 `seqshm:"yaw,unit=rad"`
	Status uint32  `seqshm:"status"`
	Cov    [9]float64
	Frame  [8]byte `seqshm:"frame,char"`
}

type point struct{ X, Y float32 }

type stamp struct {
	Sec  int32
	Nsec uint32
}

type allTypes struct {
	B   bool
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
	Raw [3]byte
	pt  point // unexported fields are shared too
	Pts [2]point
	stamp
	_    [4]byte // padding where C puts padding
	Last float64
}

// align8 says whether Go aligns 8-byte numbers to 8 bytes, as C does on
// the platforms seqshm supports; elsewhere For refuses such structs.
var align8 = unsafe.Alignof(int64(0)) == 8 && unsafe.Alignof(float64(0)) == 8

func need8(t testing.TB) {
	if !align8 {
		t.Skip("Go aligns 8-byte numbers to 4 bytes here")
	}
}

var _ = allTypes{}.pt // shared, though unused by Go code

func TestOf(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		text string
	}{
		{reflect.TypeFor[pose](), "float64 x [m]; float64 y [m]; float64 yaw [rad]; uint32 status; float64[9] Cov; char[8] frame"},
		{reflect.TypeFor[point](), "float32 X; float32 Y"},
		{reflect.TypeFor[struct {
			A uint8 `seqshm:",unit=m/s"`
			B uint16
			C uint8
		}](), "uint8 A [m/s]; uint16 B; uint8 C"},
		{reflect.TypeFor[allTypes](), "bool B; int8 I8; int16 I16; int32 I32; int64 I64; uint8 U8; uint16 U16; uint32 U32; uint64 U64; " +
			"float32 F32; float64 F64; uint8[3] Raw; struct{float32 X; float32 Y} pt; struct{float32 X; float32 Y}[2] Pts; " +
			"struct{int32 Sec; uint32 Nsec} stamp; float64 Last"},
	}
	for _, tt := range tests {
		got, err := schema.Of(tt.typ)
		if errors.Is(err, schema.ErrLayout) && !align8 {
			continue // 8-byte fields are 4-aligned by Go here: refused, rightly
		}
		if err != nil {
			t.Errorf("Of(%v) = %v", tt.typ, err)
			continue
		}
		want := mustParse(t, tt.text)
		if !got.Equal(want) {
			t.Errorf("Of(%v) = %q, want %q", tt.typ, got, want)
		}
		if got.Size() != int(tt.typ.Size()) {
			t.Errorf("Of(%v).Size() = %d, want %d", tt.typ, got.Size(), tt.typ.Size())
		}
	}
	s, err := schema.For[pose]()
	if !align8 {
		if !errors.Is(err, schema.ErrLayout) {
			t.Errorf("For[pose]() = %v, %v, want ErrLayout where int64 is 4-aligned", s, err)
		}
		return
	}
	if err != nil || s.Fingerprint() != mustParse(t, tests[0].text).Fingerprint() {
		t.Errorf("For[pose]() = %v, %v", s, err)
	}
}

type hasInt struct{ N int }
type hasPtr struct {
	A int32
	P *int32
}
type deep struct{ In struct{ S []byte } }

func TestOfErrors(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		want error
		msg  string
	}{
		{reflect.TypeFor[int](), schema.ErrUnsupported, "int is not a struct"},
		{nil, schema.ErrUnsupported, "not a struct"},
		{reflect.TypeFor[hasInt](), schema.ErrUnsupported, "field hasInt.N: int has a platform-dependent size: use int32 or int64"},
		{reflect.TypeFor[struct{ U uint }](), schema.ErrUnsupported, "field struct.U: uint has a platform-dependent size"},
		{reflect.TypeFor[hasPtr](), schema.ErrUnsupported, "field hasPtr.P: type *int32 has no fixed layout"},
		{reflect.TypeFor[deep](), schema.ErrUnsupported, "field deep.In.S: type []uint8"},
		{reflect.TypeFor[struct{ S string }](), schema.ErrUnsupported, "field struct.S: type string"},
		{reflect.TypeFor[struct{ M map[int]int }](), schema.ErrUnsupported, "type map[int]int"},
		{reflect.TypeFor[struct{ C chan int }](), schema.ErrUnsupported, "type chan int"},
		{reflect.TypeFor[struct{ F func() }](), schema.ErrUnsupported, "type func()"},
		{reflect.TypeFor[struct{ I any }](), schema.ErrUnsupported, "type interface {}"},
		{reflect.TypeFor[struct{ U uintptr }](), schema.ErrUnsupported, "type uintptr"},
		{reflect.TypeFor[struct{ C complex128 }](), schema.ErrUnsupported, "type complex128"},
		{reflect.TypeFor[struct{ P unsafe.Pointer }](), schema.ErrUnsupported, "unsafe.Pointer"},
		{reflect.TypeFor[struct{ A [0]int32 }](), schema.ErrUnsupported, "zero-length array"},
		{reflect.TypeFor[struct{ M [3][3]float64 }](), schema.ErrUnsupported, "field struct.M: arrays of arrays"},
		{reflect.TypeFor[struct {
			N [4]int32 `seqshm:",char"`
		}](), schema.ErrUnsupported, "option char needs a [N]byte"},
		{reflect.TypeFor[struct {
			N int32 `seqshm:",char"`
		}](), schema.ErrUnsupported, "option char needs a [N]byte"},
		{reflect.TypeFor[struct {
			N int32 `seqshm:"-"`
		}](), schema.ErrInvalid, `field struct.N: tag "-"`},
		{reflect.TypeFor[struct {
			N int32 `seqshm:",omitempty"`
		}](), schema.ErrInvalid, `unknown tag option "omitempty"`},
		{reflect.TypeFor[struct {
			N int32 `seqshm:"9n"`
		}](), schema.ErrInvalid, `invalid name "9n"`},
		{reflect.TypeFor[struct {
			A int32 `seqshm:"a"`
			B int32 `seqshm:"a"`
		}](), schema.ErrInvalid, `field "a": duplicate name`},
		{reflect.TypeFor[struct {
			A int32 `seqshm:",unit=m]"`
		}](), schema.ErrInvalid, `not allowed`},
		{reflect.TypeFor[struct{}](), schema.ErrInvalid, "no fields"},
		{reflect.TypeFor[struct{ _ int64 }](), schema.ErrInvalid, "no fields"},
		{reflect.TypeFor[struct {
			A uint8
			_ [7]byte
			B uint8
		}](), schema.ErrLayout, "field struct.B: Go offset 8, C layout offset 1"},
		{reflect.TypeFor[struct {
			A uint8
			_ [7]byte
		}](), schema.ErrLayout, "struct: Go size 8, C layout size 1"},
		{reflect.TypeFor[struct {
			In struct {
				A uint8
				_ uint8
			}
		}](), schema.ErrLayout, "struct.In: Go size 2, C layout size 1"},
	}
	for _, tt := range tests {
		s, err := schema.Of(tt.typ)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Of(%v) = %v, %v, want error %v containing %q", tt.typ, s, err, tt.want, tt.msg)
		}
	}
}

func TestOfDeep(t *testing.T) {
	type l8 struct{ A int8 }
	type l7 struct{ B l8 }
	type l6 struct{ B l7 }
	type l5 struct{ B l6 }
	type l4 struct{ B l5 }
	type l3 struct{ B l4 }
	type l2 struct{ B l3 }
	type l1 struct{ B l2 }
	type l0 struct{ B l1 }
	if _, err := schema.For[l1](); err != nil {
		t.Errorf("For[l1]() (8 levels) = %v", err)
	}
	if _, err := schema.For[l0](); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("For[l0]() (9 levels) = %v, want ErrInvalid", err)
	}
}
