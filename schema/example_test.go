package schema_test

import (
	"fmt"

	"github.com/seqshm/seqshm/schema"
)

func Example() {
	s, err := schema.Parse(`
		float64 x [m]
		float64 y [m]
		uint32 status
		float64[3] cov
		char[8] frame
		struct{int32 sec; uint32 nsec} stamp`)
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	fmt.Println("size", s.Size())

	v, err := s.EncodeJSON(nil, []byte(`{"x":1,"y":2.5,"cov":[1,"NaN"],"frame":"map","stamp":{"sec":10}}`))
	if err != nil {
		panic(err)
	}
	out, _ := s.AppendJSON(nil, v)
	fmt.Println(string(out))
	out, _ = s.AppendLogfmt(out[:0], v)
	fmt.Println(string(out))

	a, _ := s.Lookup("cov[0]")
	f, _ := a.Float64(v)
	fmt.Println(a.Name(), "=", f)
	// Output:
	// float64 x [m]; float64 y [m]; uint32 status; float64[3] cov; char[8] frame; struct{int32 sec; uint32 nsec} stamp
	// size 64
	// {"x":1,"y":2.5,"status":0,"cov":[1,"NaN",0],"frame":"map","stamp":{"sec":10,"nsec":0}}
	// x=1 y=2.5 status=0 cov=[1,NaN,0] frame="map" stamp.sec=10 stamp.nsec=0
	// cov[0] = 1
}

func ExampleFor() {
	type Pose struct {
		X      float64  `seqshm:"x,unit=m"`
		Y      float64  `seqshm:"y,unit=m"`
		Status uint32   `seqshm:"status"`
		Frame  [12]byte `seqshm:"frame,char"`
	}
	s, err := schema.For[Pose]()
	if err != nil {
		panic(err)
	}
	fmt.Println(s, s.Size())
	_, err = schema.For[struct{ N int }]()
	fmt.Println(err)
	// Output:
	// float64 x [m]; float64 y [m]; uint32 status; char[12] frame 32
	// schema: unsupported type: field struct.N: int has a platform-dependent size: use int32 or int64
}

func ExampleSchema_Numbers() {
	s, _ := schema.Parse("float64 x; bool ok; struct{float32 v}[2] w")
	v, _ := s.EncodeJSON(nil, []byte(`{"x":-1,"ok":true,"w":[{"v":0.5},{"v":2}]}`))
	s.Numbers(v, func(name string, index []int, f float64) {
		fmt.Println(name, index, f)
	})
	// Output:
	// x [] -1
	// ok [] 1
	// w.v [0] 0.5
	// w.v [1] 2
}

func ExampleUnmarshalBinary() {
	s, _ := schema.Parse("uint8 a; float64 b [m/s]")
	b, _ := s.MarshalBinary()
	fmt.Printf("% x\n", b)
	area := append(b, make([]byte, 32)...) // a zero-padded header area
	n, _ := schema.BinarySize(area)
	t, err := schema.UnmarshalBinary(area[:n])
	fmt.Println(t, err, t.Fingerprint() == s.Fingerprint())
	// Output:
	// 53 51 53 43 01 03 00 00 35 00 00 00 10 00 00 00 02 00 08 00 10 00 00 00 06 01 00 00 00 00 00 00 00 00 00 00 61 0b 01 03 00 08 00 00 00 00 00 00 00 62 6d 2f 73
	// uint8 a; float64 b [m/s] <nil> true
}
