package exporter_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/seqshm/seqshm/exporter"
	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

func newCollector(t *testing.T, opts *exporter.Options) *exporter.Collector {
	t.Helper()
	c, err := exporter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// publish creates the segment name with the kind's schema (nil: bytes),
// publishes value and closes the publisher.
func publish(tb testing.TB, name string, kind *schema.Schema, value string) {
	tb.Helper()
	pub, err := seqlock.Create(name, &seqlock.Options{Schema: kind})
	if err != nil {
		tb.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Publish([]byte(value)); err != nil {
		tb.Fatal(err)
	}
}

func kind(k schema.Kind) *schema.Schema {
	s, err := schema.ForKind(k)
	if err != nil {
		panic(err)
	}
	return s
}

// compare checks the families names of what c collects against want, in
// the text exposition format (without HELP and TYPE lines, which it adds).
func compare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	help := map[string]string{
		"seqshm_value":             "# HELP seqshm_value A number in the segment's newest value (bools as 0 and 1), by field path; index for struct array elements, unit as the schema gives it.\n# TYPE seqshm_value gauge\n",
		"seqshm_up":                "# HELP seqshm_up 1 if the segment was opened, read and its value decoded at this scrape, else 0.\n# TYPE seqshm_up gauge\n",
		"seqshm_read_errors_total": "# HELP seqshm_read_errors_total Scrapes at which the segment could not be opened, read or decoded.\n# TYPE seqshm_read_errors_total counter\n",
		"seqshm_writes_total":      "# HELP seqshm_writes_total Values written into the segment so far: the write number of the newest value.\n# TYPE seqshm_writes_total counter\n",
		"seqshm_value_bytes":       "# HELP seqshm_value_bytes Length of the newest value in bytes.\n# TYPE seqshm_value_bytes gauge\n",
		"seqshm_exporter_segments": "# HELP seqshm_exporter_segments Segments matching the exporter's globs at this scrape.\n# TYPE seqshm_exporter_segments gauge\n",
		"seqshm_writer_state":      "# HELP seqshm_writer_state State of the segment's publisher: 1 for the current state (alive, closed, died or none), 0 for the others.\n# TYPE seqshm_writer_state gauge\n",
	}
	var b strings.Builder
	var cur string
	for _, l := range strings.Split(strings.TrimSpace(want), "\n") {
		l = strings.TrimSpace(l)
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if name != cur {
			b.WriteString(help[name])
			cur = name
		}
		b.WriteString(l + "\n")
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(b.String()), names...); err != nil {
		t.Error(err)
	}
}

// gather collects c once into "name{labels}" → value, labels sorted by
// name as in the exposition format.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[key(mf.GetName(), m.GetLabel())] = value(m)
		}
	}
	return out
}

func key(name string, labels []*dto.LabelPair) string {
	var ls []string
	for _, l := range labels {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return math.NaN()
}

type pose struct {
	X     float64    `seqshm:"x,unit=m"`
	Y     float64    `seqshm:"y,unit=m"`
	Cov   [3]float32 `seqshm:"cov"`
	Pts   [2]point   `seqshm:"pts"`
	OK    bool       `seqshm:"ok"`
	Frame [8]byte    `seqshm:"frame,char"`
}

type point struct {
	V int32 `seqshm:"v,unit=mm"`
}

func TestStruct(t *testing.T) {
	testproc.SegDir(t)
	pub, err := seqlock.CreateTyped[pose]("pose", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	p := pose{X: 1.5, Y: -2, Cov: [3]float32{0.25, float32(math.Inf(1)), float32(math.NaN())}, OK: true}
	p.Pts[0].V, p.Pts[1].V = -7, 300
	copy(p.Frame[:], "map")
	if _, err := pub.Publish(p); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, nil)
	compare(t, c, `
		seqshm_value{field="cov",index="0",segment="pose"} 0.25
		seqshm_value{field="cov",index="1",segment="pose"} +Inf
		seqshm_value{field="cov",index="2",segment="pose"} NaN
		seqshm_value{field="ok",segment="pose"} 1
		seqshm_value{field="pts.v",index="0",segment="pose",unit="mm"} -7
		seqshm_value{field="pts.v",index="1",segment="pose",unit="mm"} 300
		seqshm_value{field="x",segment="pose",unit="m"} 1.5
		seqshm_value{field="y",segment="pose",unit="m"} -2
		seqshm_up{segment="pose"} 1
		seqshm_writer_state{segment="pose",state="alive"} 1
		seqshm_writer_state{segment="pose",state="closed"} 0
		seqshm_writer_state{segment="pose",state="died"} 0
		seqshm_writer_state{segment="pose",state="none"} 0
		seqshm_writes_total{segment="pose"} 1
	`, "seqshm_value", "seqshm_up", "seqshm_writer_state", "seqshm_writes_total")

	// The second scrape uses the cached label sets: same result, new value.
	p.X = 3
	pub.Publish(p)
	got := gather(t, c)
	if v := got[`seqshm_value{field=x,segment=pose,unit=m}`]; v != 3 {
		t.Errorf("x = %v after the second publish, want 3", v)
	}
	if v := got[`seqshm_capacity_bytes{segment=pose}`]; v != 48 {
		t.Errorf("capacity = %v, want 48 (the struct's size)", v)
	}
	if v := got[`seqshm_value_bytes{segment=pose}`]; v != 48 {
		t.Errorf("value bytes = %v, want 48", v)
	}
}

func TestJSON(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "doc", kind(schema.JSON), `{"a":{"b":[1,2,3.5]},"ok":true,"no":false,"s":"x","n":null,
		"k\"q":7,"d":1,"d":2,"arr":[{"x":-1},[5]],"empty":{},"big":1e999}`)
	publish(t, "num", kind(schema.JSON), ` 42 `)
	publish(t, "list", kind(schema.JSON), `[10, "a", {"y": 0.5}]`)
	c := newCollector(t, nil)
	compare(t, c, `
		seqshm_value{field="a.b[0]",segment="doc"} 1
		seqshm_value{field="a.b[1]",segment="doc"} 2
		seqshm_value{field="a.b[2]",segment="doc"} 3.5
		seqshm_value{field="arr[0].x",segment="doc"} -1
		seqshm_value{field="arr[1][0]",segment="doc"} 5
		seqshm_value{field="big",segment="doc"} +Inf
		seqshm_value{field="d",segment="doc"} 1
		seqshm_value{field="k\"q",segment="doc"} 7
		seqshm_value{field="no",segment="doc"} 0
		seqshm_value{field="ok",segment="doc"} 1
		seqshm_value{field="[0]",segment="list"} 10
		seqshm_value{field="[2].y",segment="list"} 0.5
		seqshm_value{field="value",segment="num"} 42
		seqshm_up{segment="doc"} 1
		seqshm_up{segment="list"} 1
		seqshm_up{segment="num"} 1
	`, "seqshm_value", "seqshm_up")
}

func TestText(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "imu", kind(schema.Text), "ax=0.01 ay=-0.02 az=9.81")
	publish(t, "misc", kind(schema.Text), "temp=21.5C, name=bob\tn=NaN,i=+Inf =3 x= y==2 lone\nq=1e3 temp=1")
	publish(t, "bare", kind(schema.Text), " -3.25\n")
	publish(t, "word", kind(schema.Text), "hello")
	c := newCollector(t, nil)
	compare(t, c, `
		seqshm_value{field="value",segment="bare"} -3.25
		seqshm_value{field="ax",segment="imu"} 0.01
		seqshm_value{field="ay",segment="imu"} -0.02
		seqshm_value{field="az",segment="imu"} 9.81
		seqshm_value{field="i",segment="misc"} +Inf
		seqshm_value{field="n",segment="misc"} NaN
		seqshm_value{field="q",segment="misc"} 1000
		seqshm_value{field="temp",segment="misc"} 1
		seqshm_up{segment="bare"} 1
		seqshm_up{segment="imu"} 1
		seqshm_up{segment="misc"} 1
		seqshm_up{segment="word"} 1
	`, "seqshm_value", "seqshm_up")
}

func TestBytes(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "raw", nil, "temp=21.5")
	publish(t, "bin", nil, "\xff\xfe=1")
	compare(t, newCollector(t, nil), `
		seqshm_up{segment="bin"} 1
		seqshm_up{segment="raw"} 1
		seqshm_value_bytes{segment="bin"} 4
		seqshm_value_bytes{segment="raw"} 9
	`, "seqshm_value", "seqshm_up", "seqshm_value_bytes")

}

func TestTimes(t *testing.T) {
	testproc.SegDir(t)
	pub, err := seqlock.Create("old", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	published := time.Now().Add(-10 * time.Second)
	pub.PublishAt([]byte("x"), published)
	pub2, err := seqlock.Create("unstamped", &seqlock.Options{NoTimestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub2.Close()
	pub2.Publish([]byte("y"))
	pub3, err := seqlock.Create("empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub3.Close()

	got := gather(t, newCollector(t, nil))
	if age := got["seqshm_value_age_seconds{segment=old}"]; age < 10 || age > 20 {
		t.Errorf("age = %v, want 10s and a little", age)
	}
	if ts, want := got["seqshm_value_timestamp_seconds{segment=old}"], float64(published.UnixNano())/1e9; math.Abs(ts-want) > 1e-6 {
		t.Errorf("timestamp = %v, want %v", ts, want)
	}
	for _, k := range []string{"seqshm_value_age_seconds{segment=unstamped}", "seqshm_value_timestamp_seconds{segment=unstamped}",
		"seqshm_value_age_seconds{segment=empty}", "seqshm_value_bytes{segment=empty}"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %v, want it absent", k, v)
		}
	}
	for k, want := range map[string]float64{
		"seqshm_writes_total{segment=empty}":             0,
		"seqshm_up{segment=empty}":                       1,
		"seqshm_writes_total{segment=unstamped}":         1,
		"seqshm_value_bytes{segment=unstamped}":          1,
		"seqshm_capacity_bytes{segment=unstamped}":       seqlock.DefaultCapacity,
		"seqshm_writer_state{segment=empty,state=alive}": 1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
}

func TestDiedWriter(t *testing.T) {
	testproc.SegDir(t)
	child := startChild(t, "publish-text", "room", "temp=21.5 hum=40")
	c := newCollector(t, nil)
	compare(t, c, `
		seqshm_value{field="hum",segment="room"} 40
		seqshm_value{field="temp",segment="room"} 21.5
		seqshm_writer_state{segment="room",state="alive"} 1
		seqshm_writer_state{segment="room",state="closed"} 0
		seqshm_writer_state{segment="room",state="died"} 0
		seqshm_writer_state{segment="room",state="none"} 0
	`, "seqshm_value", "seqshm_writer_state")

	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	compare(t, c, `
		seqshm_value{field="hum",segment="room"} 40
		seqshm_value{field="temp",segment="room"} 21.5
		seqshm_up{segment="room"} 1
		seqshm_writer_state{segment="room",state="alive"} 0
		seqshm_writer_state{segment="room",state="closed"} 0
		seqshm_writer_state{segment="room",state="died"} 1
		seqshm_writer_state{segment="room",state="none"} 0
	`, "seqshm_value", "seqshm_up", "seqshm_writer_state")
}

func TestGlobsAndForeignFiles(t *testing.T) {
	dir := testproc.SegDir(t)
	for _, n := range []string{"robot.a", "robot.b", "other"} {
		publish(t, n, nil, "v")
	}
	if err := os.WriteFile(filepath.Join(dir, "robot.junk"), []byte("not a segment, another program's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, &exporter.Options{Globs: []string{"robot.*", "nothing[0-9]"}})
	for range 2 { // the second scrape skips the junk without opening it
		compare(t, c, `
			seqshm_up{segment="robot.a"} 1
			seqshm_up{segment="robot.b"} 1
			seqshm_exporter_segments 2
		`, "seqshm_up", "seqshm_exporter_segments")
	}
	if _, err := exporter.New(&exporter.Options{Globs: []string{"[a"}}); !errors.Is(err, exporter.ErrBadPattern) {
		t.Errorf("New with glob [a: %v, want ErrBadPattern", err)
	}
}

func TestBadSegment(t *testing.T) {
	dir := testproc.SegDir(t)
	publish(t, "good", kind(schema.Text), "a=1")
	// A segment whose header was never written: its publisher died while
	// creating it.
	if err := os.WriteFile(filepath.Join(dir, "half"), make([]byte, 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		logs []string
	)
	c := newCollector(t, &exporter.Options{Log: func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, name+": "+errString(err))
	}})
	for range 2 {
		gather(t, c)
	}
	compare(t, c, `
		seqshm_value{field="a",segment="good"} 1
		seqshm_read_errors_total{segment="good"} 0
		seqshm_read_errors_total{segment="half"} 3
		seqshm_up{segment="good"} 1
		seqshm_up{segment="half"} 0
	`, "seqshm_value", "seqshm_up", "seqshm_read_errors_total")
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 1 || !strings.HasPrefix(logs[0], "half: ") {
		t.Errorf("logged %q, want one line about half", logs)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func TestInvalidJSON(t *testing.T) {
	testproc.SegDir(t)
	// A JSON segment written through the Writer, which does not check
	// values as Publish does: as a foreign writer might.
	pub, err := seqlock.Create("doc", &seqlock.Options{Schema: kind(schema.JSON)})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Writer().Write([]byte(`{"a":1,`)); err != nil {
		t.Fatal(err)
	}
	compare(t, newCollector(t, nil), `
		seqshm_read_errors_total{segment="doc"} 1
		seqshm_up{segment="doc"} 0
		seqshm_writes_total{segment="doc"} 1
	`, "seqshm_value", "seqshm_up", "seqshm_read_errors_total", "seqshm_writes_total")
}

func TestLimits(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "many", kind(schema.Text), "a=1 b=2 c=3 d=4 e=5")
	publish(t, "long", kind(schema.Text), "x=1 "+strings.Repeat("y", 100))
	compare(t, newCollector(t, &exporter.Options{MaxFields: 2, MaxValue: 64}), `
		seqshm_value{field="a",segment="many"} 1
		seqshm_value{field="b",segment="many"} 2
		seqshm_up{segment="long"} 0
		seqshm_up{segment="many"} 1
		seqshm_writes_total{segment="long"} 1
		seqshm_writes_total{segment="many"} 1
	`, "seqshm_value", "seqshm_up", "seqshm_writes_total")
}

func TestReplaced(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "s", kind(schema.Text), "a=1")
	c := newCollector(t, nil)
	compare(t, c, `seqshm_value{field="a",segment="s"} 1`, "seqshm_value")
	if err := seqlock.Remove("s"); err != nil {
		t.Fatal(err)
	}
	compare(t, c, `seqshm_exporter_segments 0`, "seqshm_value", "seqshm_exporter_segments")
	publish(t, "s", kind(schema.JSON), `{"b":2}`)
	compare(t, c, `
		seqshm_value{field="b",segment="s"} 2
		seqshm_writes_total{segment="s"} 1
	`, "seqshm_value", "seqshm_writes_total")
	// Replaced between two scrapes, without one in between.
	if err := seqlock.Remove("s"); err != nil {
		t.Fatal(err)
	}
	publish(t, "s", kind(schema.Text), "c=3")
	compare(t, c, `seqshm_value{field="c",segment="s"} 3`, "seqshm_value")
}

func TestConcurrentScrapes(t *testing.T) {
	testproc.SegDir(t)
	publish(t, "a", kind(schema.Text), "x=1 y=2")
	c := newCollector(t, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
