package natskv

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/seqshm/seqshm/schema"
)

// TestEnvelopeJSON: each kind of value travels in the field a person can
// read, and comes back byte for byte.
func TestEnvelopeJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Envelope
		want string
	}{
		{"text", Envelope{Owner: 0x1122334455667788, Seq: 2, UnixNano: 3, Value: []byte("x=1\n\"q\"")},
			`{"owner":"1122334455667788","seq":2,"time":"1970-01-01T00:00:00.000000003Z","value":"x=1\n\"q\""}`},
		{"json", Envelope{Owner: 1, Seq: 5, Value: []byte(`{"x":1,"y":[2,3]}`)},
			`{"owner":"0000000000000001","seq":5,"json":{"x":1,"y":[2,3]}}`},
		{"spaced json is text", Envelope{Owner: 1, Seq: 5, Value: []byte(`{"x": 1}`)},
			`{"owner":"0000000000000001","seq":5,"value":"{\"x\": 1}"}`},
		{"binary", Envelope{Owner: 1, Seq: 6, Value: []byte{0xff, 0, 1}},
			`{"owner":"0000000000000001","seq":6,"base64":"/wAB"}`},
		{"released claim", Envelope{Owner: 1, Released: true, Value: []byte{}},
			`{"owner":"0000000000000001","seq":0,"released":true,"value":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.e.Append(nil, FormatJSON)
			if string(b) != tc.want {
				t.Errorf("Append(JSON) = %s, want %s", b, tc.want)
			}
			got, err := Decode(b)
			if err != nil || !cmp.Equal(tc.e, got, cmpopts.EquateEmpty()) {
				t.Errorf("Decode(%s) = %+v, %v, want %+v", b, got, err, tc.e)
			}
		})
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`{"seq":1,"value":"x"}`,
		`{"owner":"zz","seq":1,"value":"x"}`,
		`{"owner":"01","seq":1}`,
		`{"owner":"01","seq":1,"value":"x","base64":"eA=="}`,
		`{"owner":"01","seq":1,"base64":"!"}`,
		`{"owner":"01","seq":1,"time":"yesterday","value":"x"}`,
		`{"owner":"01","seq":1,"kind":"strukt","value":"x"}`,
		`{"owner":"01","seq":1,"kind":"struct","base64":"AAAAAA=="}`,
		`{"owner":"01","seq":1,"kind":"struct","schema":"int32 n","value":"x"}`,
		`{"owner":"01","seq":1,"kind":"struct","schema":"int32 n"}`,
		`{"owner":"01","seq":1,"kind":"struct","schema":"int32 n","base64":"AAAAAAAA"}`,
		`{"owner":"01","seq":1,"kind":"struct","schema":"int32 n","fields":{"m":1}}`,
		`{"owner":"01","seq":1,"kind":"struct","schema":"string s","base64":"AAAAAA=="}`,
		`{"owner":"01","seq":1,"kind":"text","schema":"json","value":"x"}`,
		`{"owner":"01","seq":1,"kind":"text","fields":{},"value":"x"}`,
		`{"owner":"01","seq":1,"schema":"int32 n","base64":"AAAAAA=="}`,
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrEnvelope) {
			t.Errorf("Decode(%s) error = %v, want ErrEnvelope", in, err)
		}
	}
}

// mustSchema parses a schema's text form.
func mustSchema(t testing.TB, text string) *schema.Schema {
	t.Helper()
	s, err := schema.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// equateSchemas compares schemas with Equal.
var equateSchemas = cmp.Comparer(func(a, b *schema.Schema) bool { return a.Equal(b) })

// TestEnvelopeJSONKinds: the value is written by its kind, not guessed
// from its bytes, and every form comes back byte for byte with its schema.
func TestEnvelopeJSONKinds(t *testing.T) {
	text, jsonKind, bytesKind := mustSchema(t, "text"), mustSchema(t, "json"), mustSchema(t, "bytes")
	pose := mustSchema(t, "float64 x [m]; int32 n; bool ok; float32[3] v; char[8] name")
	poseValue, err := pose.EncodeJSON(nil, []byte(`{"x":1.5,"n":-7,"ok":true,"v":[0.1,-2,"NaN"],"name":"base"}`))
	if err != nil {
		t.Fatal(err)
	}
	const head = `{"owner":"0000000000000001","seq":5,`
	for _, tc := range []struct {
		name string
		e    Envelope
		want string
	}{
		{"text", Envelope{Owner: 1, Seq: 5, Value: []byte(`{"x":1}`), Schema: text},
			head + `"kind":"text","value":"{\"x\":1}"}`},
		{"json", Envelope{Owner: 1, Seq: 5, Value: []byte(`{"x": [1, 2]}`), Schema: jsonKind},
			head + `"kind":"json","json":{"x": [1, 2]}}`},
		{"json scalar", Envelope{Owner: 1, Seq: 5, Value: []byte(`42`), Schema: jsonKind},
			head + `"kind":"json","json":42}`},
		{"json null", Envelope{Owner: 1, Seq: 5, Value: []byte(`null`), Schema: jsonKind},
			head + `"kind":"json","json":null}`},
		{"json with spaces around", Envelope{Owner: 1, Seq: 5, Value: []byte(" [1]\n"), Schema: jsonKind},
			head + `"kind":"json","value":" [1]\n"}`},
		{"invalid json", Envelope{Owner: 1, Seq: 5, Value: []byte(`{x`), Schema: jsonKind},
			head + `"kind":"json","value":"{x"}`},
		{"invalid text", Envelope{Owner: 1, Seq: 5, Value: []byte{0xff}, Schema: text},
			head + `"kind":"text","base64":"/w=="}`},
		{"bytes json is text", Envelope{Owner: 1, Seq: 5, Value: []byte(`{"x":1}`), Schema: bytesKind},
			head + `"kind":"bytes","value":"{\"x\":1}"}`},
		{"bytes binary", Envelope{Owner: 1, Seq: 5, Value: []byte{0xff, 0, 1}, Schema: bytesKind},
			head + `"kind":"bytes","base64":"/wAB"}`},
		{"struct", Envelope{Owner: 1, Seq: 5, Value: poseValue, Schema: pose},
			head + `"kind":"struct","schema":"float64 x [m]; int32 n; bool ok; float32[3] v; char[8] name",` +
				`"fields":{"x":1.5,"n":-7,"ok":true,"v":[0.1,-2,"NaN"],"name":"base"},"base64":"AAAAAAAA+D/5////AQAAAM3MzD0AAADAAADAf2Jhc2UAAAAAAAAAAA=="}`},
		{"struct claim", Envelope{Owner: 1, Released: true, Schema: pose},
			`{"owner":"0000000000000001","seq":0,"released":true,"kind":"struct","schema":"float64 x [m]; int32 n; bool ok; float32[3] v; char[8] name"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.e.Append(nil, FormatJSON)
			if string(b) != tc.want {
				t.Errorf("Append(JSON) =\n%s\nwant\n%s", b, tc.want)
			}
			if !json.Valid(b) {
				t.Errorf("Append(JSON) is not JSON: %s", b)
			}
			got, err := Decode(b)
			if err != nil || !cmp.Equal(tc.e, got, cmpopts.EquateEmpty(), equateSchemas) {
				t.Errorf("Decode(%s) = %+v, %v, want %+v", b, got, err, tc.e)
			}
		})
	}
	// Without base64, a struct value is encoded from its fields.
	e, err := Decode([]byte(`{"owner":"01","seq":1,"kind":"struct","schema":"int32 n; float64 x","fields":{"x":"-Inf","n":-3}}`))
	s := mustSchema(t, "int32 n; float64 x")
	want, _ := s.EncodeJSON(nil, []byte(`{"n":-3,"x":"-Inf"}`))
	if err != nil || !e.Schema.Equal(s) || !bytes.Equal(e.Value, want) {
		t.Errorf("Decode(fields only) = %+v, %v, want value % x", e, err, want)
	}
}
