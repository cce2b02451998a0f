package natskv

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrEnvelope) {
			t.Errorf("Decode(%s) error = %v, want ErrEnvelope", in, err)
		}
	}
}
