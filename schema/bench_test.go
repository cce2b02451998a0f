package schema_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/seqshm/seqshm/schema"
)

// The benchmarks use a 32-field struct (telemetry: float64, float32,
// int64, int32, int16, uint*, bool and arrays, 264 bytes): its values
// printed, walked and encoded, and its schema decoded.

func benchValue(b *testing.B) (*schema.Schema, telemetry, []byte) {
	need8(b)
	s, err := schema.For[telemetry]()
	if err != nil {
		b.Fatal(err)
	}
	v := randTelemetry(rand.New(rand.NewPCG(5, 6)))
	return s, v, memOf(&v)
}

func BenchmarkAppendJSON(b *testing.B) { benchAppend(b, (*schema.Schema).AppendJSON) }

func BenchmarkAppendLogfmt(b *testing.B) { benchAppend(b, (*schema.Schema).AppendLogfmt) }

// benchAppend times appendFn (AppendJSON, AppendLogfmt) on the value.
func benchAppend(b *testing.B, appendFn func(s *schema.Schema, dst, value []byte) ([]byte, error)) {
	s, _, mem := benchValue(b)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(mem)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendFn(s, buf[:0], mem)
	}
}

func BenchmarkEncodingJSONMarshal(b *testing.B) {
	_, v, mem := benchValue(b)
	b.SetBytes(int64(len(mem)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(&v)
	}
}

func BenchmarkNumbers(b *testing.B) {
	s, _, mem := benchValue(b)
	var sum float64
	b.SetBytes(int64(len(mem)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Numbers(mem, func(_ string, _ []int, v float64) { sum += v })
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	s, v, mem := benchValue(b)
	js, _ := json.Marshal(&v)
	buf := make([]byte, 0, len(mem))
	b.SetBytes(int64(len(mem)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.EncodeJSON(buf[:0], js)
	}
}

func BenchmarkUnmarshalBinary(b *testing.B) {
	s, _, _ := benchValue(b)
	enc, _ := s.MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = schema.UnmarshalBinary(enc)
	}
}
