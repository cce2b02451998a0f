package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/seqlock"
)

// TestStructValues: publisher -schema makes a struct segment that takes JSON
// objects; subscriber prints it as logfmt, as a JSON object with -json, one
// field with -field (also while following), and -info shows the schema.
func TestStructValues(t *testing.T) {
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	const decl = "float64 x [m]; float64 y [m]; int32 turns; bool ok; float32[3] rgb; char[8] frame"
	env.MustRun(t, "publisher", "-schema", decl, name, `{"x":1.5,"y":-2,"turns":-3,"ok":true,"rgb":[0.5,1],"frame":"map"}`)
	if got, want := env.MustRun(t, "subscriber", name), "x=1.5 y=-2 turns=-3 ok=true rgb=[0.5,1,0] frame=\"map\"\n"; got != want {
		t.Errorf("subscriber = %q, want %q", got, want)
	}
	var v struct {
		Value json.RawMessage
	}
	out := env.MustRun(t, "subscriber", "-json", name)
	if err := json.Unmarshal([]byte(out), &v); err != nil || string(v.Value) != `{"x":1.5,"y":-2,"turns":-3,"ok":true,"rgb":[0.5,1,0],"frame":"map"}` {
		t.Errorf("subscriber -json = %s (%v), want the value as an object", out, err)
	}
	if got := env.MustRun(t, "subscriber", "-field", "rgb[1]", name); got != "1\n" {
		t.Errorf("subscriber -field rgb[1] = %q, want 1", got)
	}
	info := env.MustRun(t, "subscriber", "-info", name)
	if !strings.Contains(info, "schema:") || !strings.Contains(info, "float64 x [m]; float64 y [m]; int32 turns") {
		t.Errorf("subscriber -info does not show the schema:\n%s", info)
	}

	// A Go program with the matching struct reads it typed.
	dir := env.Dir
	t.Setenv("SEQSHM_DIR", dir)
	type pose struct {
		X     float64    `seqshm:"x,unit=m"`
		Y     float64    `seqshm:"y,unit=m"`
		Turns int32      `seqshm:"turns"`
		OK    bool       `seqshm:"ok"`
		RGB   [3]float32 `seqshm:"rgb"`
		Frame [8]byte    `seqshm:"frame,char"`
	}
	ts, err := seqlock.OpenTyped[pose](name, nil)
	if err != nil {
		t.Fatalf("OpenTyped of the CLI's struct segment: %v", err)
	}
	p, _, err := ts.Read()
	ts.Close()
	if err != nil || p.X != 1.5 || p.Turns != -3 || !p.OK || p.RGB[1] != 1 || string(p.Frame[:3]) != "map" {
		t.Errorf("typed read = %+v, %v", p, err)
	}

	// Follow one field, through stdin lines.
	sub := env.Start(t, "subscriber", "-follow", "-count", "2", "-field", "y", name)
	if line := sub.Line(); line != "-2" {
		t.Errorf("subscriber -follow -field y: first line %q, want -2", line)
	}
	env.Run(t, `{"y":7}`+"\n", "publisher", name)
	if line := sub.Line(); line != "7" {
		t.Errorf("subscriber -follow -field y: second line %q, want 7", line)
	}
	sub.Wait()

	// Bad values name the field.
	for _, tt := range []struct{ value, want string }{
		{`{"z":1}`, `"z"`},
		{`{"turns":1.5}`, "turns"},
		{`{"turns":3000000000}`, "turns"},
		{`not json`, "VALUE"},
	} {
		r := env.Run(t, "", "publisher", name, tt.value)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) || !strings.Contains(r.Stderr, "hint:") {
			t.Errorf("publisher %s: exit %d, stderr %q; want 1 naming %s with a hint", tt.value, r.Code, r.Stderr, tt.want)
		}
	}
	if r := env.Run(t, "", "subscriber", "-field", "nope", name); r.Code != 1 || !strings.Contains(r.Stderr, "no such field") {
		t.Errorf("subscriber -field nope: exit %d, %q", r.Code, r.Stderr)
	}
}

// TestKinds: json and text segments, and -schema @FILE.
func TestKinds(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	env.MustRun(t, "publisher", "-type", "json", name+".j", `{"a":[1,2],"b":"c"}`)
	if r := env.Run(t, "", "publisher", name+".j", `{"a":`); r.Code != 1 || !strings.Contains(r.Stderr, "not a JSON document") {
		t.Errorf("publisher of broken JSON into a json segment: exit %d, %q", r.Code, r.Stderr)
	}
	var v struct{ Value json.RawMessage }
	out := env.MustRun(t, "subscriber", "-json", name+".j")
	if json.Unmarshal([]byte(out), &v); string(v.Value) != `{"a":[1,2],"b":"c"}` {
		t.Errorf("subscriber -json of a json segment = %s, want the document as JSON", out)
	}
	file := filepath.Join(t.TempDir(), "pose.msg")
	os.WriteFile(file, []byte("# a pose\nfloat64 x\nfloat64 y\n"), 0o644)
	env.MustRun(t, "publisher", "-schema", "@"+file, name+".s", `{"x":1}`)
	if got := env.MustRun(t, "subscriber", name+".s"); got != "x=1 y=0\n" {
		t.Errorf("subscriber of a -schema @FILE segment = %q", got)
	}
	for _, args := range [][]string{
		{"-schema", "float64", name},
		{"-schema", "string s", name},
		{"-type", "struct", name},
		{"-type", "json", "-schema", "float64 x", name},
		{"-schema", "float64 x", "-capacity", "64", name},
	} {
		if r := env.Run(t, "", "publisher", args...); r.Code != 2 {
			t.Errorf("publisher %q: exit %d, want 2; stderr %q", args, r.Code, r.Stderr)
		}
	}
}

// TestTypedGoToJSON: a Go typed publisher's values, extremes, NaN and
// infinities included, as subscriber -json prints them (NaN and ±Inf, which
// JSON numbers cannot hold, as the strings "NaN", "+Inf", "-Inf").
func TestTypedGoToJSON(t *testing.T) {
	env := clitest.New(t, bins)
	t.Setenv("SEQSHM_DIR", env.Dir)
	type sample struct {
		Min  int64      `seqshm:"min"`
		Max  uint64     `seqshm:"max"`
		Neg  int8       `seqshm:"neg"`
		On   bool       `seqshm:"on"`
		Vals [4]float64 `seqshm:"vals"`
	}
	p, err := seqlock.CreateTyped[sample]("typed", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish(sample{Min: math.MinInt64, Max: math.MaxUint64, Neg: -128, On: true, Vals: [4]float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.25}})
	var v struct{ Value json.RawMessage }
	out := env.MustRun(t, "subscriber", "-json", "typed")
	want := `{"min":-9223372036854775808,"max":18446744073709551615,"neg":-128,"on":true,"vals":["NaN","+Inf","-Inf",-0.25]}`
	if err := json.Unmarshal([]byte(out), &v); err != nil || string(v.Value) != want {
		t.Errorf("subscriber -json = %s (%v)\nwant value %s", out, err, want)
	}
}
