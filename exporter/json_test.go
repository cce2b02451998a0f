package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"testing"
)

// jsonNumbers is walkJSON's result as path → value; a path seen twice
// keeps its first value, as the exporter does.
func jsonNumbers(doc []byte) map[string]float64 {
	got := map[string]float64{}
	walkJSON(doc, nil, func(path []byte, v float64) {
		if _, dup := got[string(path)]; !dup {
			got[string(path)] = v
		}
	})
	return got
}

// refNumbers is the same from encoding/json, for documents without
// duplicate keys.
func refNumbers(v any, path string, out map[string]float64) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			refNumbers(e, p, out)
		}
	case []any:
		for i, e := range v {
			refNumbers(e, path+"["+strconv.Itoa(i)+"]", out)
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !math.IsInf(f, 0) {
			panic(err)
		}
		out[path] = f
	case bool:
		out[path] = 0
		if v {
			out[path] = 1
		}
	}
}

func FuzzWalkJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":{"b":[1,2,3.5]},"ok":true,"s":"x","n":null}`,
		`[1, [2, {"x": -3e-2}], "s", false]`,
		` 42 `, `"str"`, `null`, `{}`, `[]`, `{"k\"q\\u00e9":7,"":1}`,
		`{"a b":{"c.d":[[],[1]]}}`, `1e999`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		got := jsonNumbers(doc)
		var v any
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{}
		refNumbers(v, "", want)
		// Paths only: with a duplicate key encoding/json keeps the last
		// value and the walker the first; values are checked by
		// TestWalkJSON.
		for p := range want {
			if _, ok := got[p]; !ok {
				t.Fatalf("%s: path %q missing; got %v", doc, p, got)
			}
		}
	})
}

func TestWalkJSON(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":{"b":[1,2,3.5]},"ok":true,"s":"x","n":null}`: `map[a.b[0]:1 a.b[1]:2 a.b[2]:3.5 ok:1]`,
		`[1, [2, {"x": -3e-2}], "s", false]`:               `map[[0]:1 [1][0]:2 [1][1].x:-0.03 [3]:0]`,
		` 42 `:                                             `map[:42]`,
		`{"k\"q\u00e9":7,"":1}`:                            `map[:1 k"qé:7]`,
		`{"a":1,"a":2,"b":{"c":1e999}}`:                    `map[a:1 b.c:+Inf]`,
		`"s"`:                                              `map[]`,
	} {
		if got := fmt.Sprint(jsonNumbers([]byte(doc))); got != want {
			t.Errorf("%s: %s, want %s", doc, got, want)
		}
	}
}

func TestParseText(t *testing.T) {
	for text, want := range map[string]string{
		"ax=0.01 ay=-0.02 az=9.81":           `[ax=0.01 ay=-0.02 az=9.81]`,
		" 21.5\n":                            `[=21.5]`,
		"a=1,b=2;c=3\td=x e==1 =2 f= g=0x10": `[a=1]`,
		"hello":                              `[]`,
		"t=NaN u=-Inf":                       `[t=NaN u=-Inf]`,
	} {
		var got []string
		parseText([]byte(text), func(k []byte, v float64) { got = append(got, fmt.Sprintf("%s=%v", k, v)) })
		if s := fmt.Sprint(got); s != want {
			t.Errorf("%q: %s, want %s", text, s, want)
		}
	}
}
