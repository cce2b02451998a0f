package seqlock_test

import (
	"errors"
	"testing"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

type imuSample struct {
	Accel  [3]float64 `seqshm:"accel,unit=m/s2"`
	Gyro   [3]float64 `seqshm:"gyro,unit=rad/s"`
	Temp   float32    `seqshm:"temp,unit=C"`
	Status uint32     `seqshm:"status"`
}

// TestSchemaKept: the schema a publisher gives is kept in the segment and
// seen by every subscriber, which decodes values by field name.
func TestSchemaKept(t *testing.T) {
	segDir(t)
	p, err := seqlock.CreateTyped[imuSample]("imu", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish(imuSample{Accel: [3]float64{0.01, -0.02, 9.81}, Temp: 21.5, Status: 3})
	s, err := seqlock.Open("imu", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := s.Schema()
	if sc.Kind() != schema.Struct || sc.Size() != 56 {
		t.Fatalf("Schema() = %v (%d bytes), want a 56-byte struct", sc, sc.Size())
	}
	v, _, err := s.ReadValue(nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sc.AppendJSON(nil, v)
	if want := `{"accel":[0.01,-0.02,9.81],"gyro":[0,0,0],"temp":21.5,"status":3}`; err != nil || string(out) != want {
		t.Errorf("AppendJSON = %s, %v; want %s", out, err, want)
	}
	st, err := s.Stat()
	if err != nil || st.Kind() != schema.Struct || !st.Schema.Equal(sc) {
		t.Errorf("Stat() = kind %v, %v", st.Kind(), err)
	}
	// Another struct, a bytes publisher: both incompatible.
	other, _ := schema.Parse("float64 x")
	if _, err := seqlock.Create("imu", &seqlock.Options{Schema: other}); !errors.Is(err, seqlock.ErrBusy) {
		t.Errorf("Create while the publisher lives = %v, want ErrBusy", err)
	}
	p.Close()
	if _, err := seqlock.Create("imu", &seqlock.Options{Schema: other}); !errors.Is(err, seqlock.ErrIncompatible) {
		t.Errorf("Create with another struct schema = %v, want ErrIncompatible", err)
	}
	if _, err := seqlock.Create("imu", nil); !errors.Is(err, seqlock.ErrIncompatible) {
		t.Errorf("Create of bytes over a struct segment = %v, want ErrIncompatible", err)
	}
	if _, err := seqlock.OpenTyped[struct{ X float64 }]("imu", nil); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("OpenTyped of another type = %v, want ErrTypeMismatch", err)
	}
	ts, err := seqlock.OpenTyped[imuSample]("imu", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if got, _, err := ts.Read(); err != nil || got.Temp != 21.5 {
		t.Errorf("TypedSubscriber.Read = %+v, %v", got, err)
	}
}

// TestSchemaChecksValues: text and json segments refuse values that are
// not what they say; a bytes publisher adopts them.
func TestSchemaChecksValues(t *testing.T) {
	segDir(t)
	for _, tt := range []struct {
		kind      schema.Kind
		good, bad string
	}{
		{schema.Text, "héllo", "\xff\xfe"},
		{schema.JSON, `{"a":[1,2]}`, `{"a":`},
	} {
		sc, _ := schema.ForKind(tt.kind)
		name := tt.kind.String()
		p, err := seqlock.Create(name, &seqlock.Options{Schema: sc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Publish([]byte(tt.good)); err != nil {
			t.Errorf("%v: Publish(%q) = %v", tt.kind, tt.good, err)
		}
		if _, err := p.Publish([]byte(tt.bad)); !errors.Is(err, seqlock.ErrInvalid) {
			t.Errorf("%v: Publish(%q) = %v, want ErrInvalid", tt.kind, tt.bad, err)
		}
		p.Close()
		s, err := seqlock.Open(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k := s.Schema().Kind(); k != tt.kind {
			t.Errorf("Schema().Kind() = %v, want %v", k, tt.kind)
		}
		s.Close()
		p, err = seqlock.Create(name, nil)
		if err != nil {
			t.Errorf("a bytes publisher adopting a %v segment: %v", tt.kind, err)
			continue
		}
		if p.Kind() != tt.kind {
			t.Errorf("adopted Kind() = %v, want %v (the segment's)", p.Kind(), tt.kind)
		}
		p.Close()
	}
}

// TestSchemaAreaCorrupt: a schema area that does not decode is ErrCorrupt,
// and the decoder never reads outside it.
func TestSchemaAreaCorrupt(t *testing.T) {
	sc, _ := schema.Parse("float64 x; uint8[3] rgb")
	region := make([]byte, seqlock.SizeWith(sc.Size(), sc)+64)[:seqlock.SizeWith(sc.Size(), sc)]
	region = append(region[:0:0], region...) // fresh, 8-byte aligned by the allocator
	if _, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Schema: sc}); err != nil {
		t.Fatal(err)
	}
	r, err := seqlock.NewReader(region)
	if err != nil || !r.Schema().Equal(sc) {
		t.Fatalf("NewReader = %v; schema %v, want %v", err, r.Schema(), sc)
	}
	region[256+20] ^= 0xff // inside the first field record
	if _, err := seqlock.NewReader(region); !errors.Is(err, seqlock.ErrCorrupt) {
		t.Errorf("NewReader of a damaged schema area = %v, want ErrCorrupt", err)
	}
}

// TestAnySchema: with AnySchema, Create takes an existing segment over
// whatever its values are, and Schema applies only to a new segment.
func TestAnySchema(t *testing.T) {
	segDir(t)
	p, err := seqlock.CreateTyped[imuSample]("any", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	text, _ := schema.ForKind(schema.Text)
	q, err := seqlock.Create("any", &seqlock.Options{Schema: text, AnySchema: true})
	if err != nil {
		t.Fatalf("Create with AnySchema over a struct segment = %v", err)
	}
	if q.Kind() != schema.Struct {
		t.Errorf("Kind() = %v, want the segment's struct", q.Kind())
	}
	q.Close()
	r, err := seqlock.Create("new", &seqlock.Options{Schema: text, AnySchema: true})
	if err != nil || r.Kind() != schema.Text {
		t.Fatalf("Create with AnySchema of a new segment = %v, kind %v; want text", err, r.Kind())
	}
	r.Close()
}
