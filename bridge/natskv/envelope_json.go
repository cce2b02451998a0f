package natskv

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/seqshm/seqshm/schema"
)

// A Format is how an exporter writes envelopes. Importers read both.
type Format int

const (
	// FormatJSON, the default, writes a JSON object that any NATS client
	// shows readably (nats kv get):
	//
	//	{"owner":"1122334455667788","seq":2,"time":"2025-01-02T03:04:05.000000006Z","kind":"text","value":"x=1"}
	//	{"owner":"1122334455667788","seq":3,"kind":"json","json":{"x":1}}
	//	{"owner":"1122334455667788","seq":4,"kind":"struct","schema":"float64 x; int32 n",
	//	 "fields":{"x":1.5,"n":-7},"base64":"AAAAAAAA+D/5////AAAAAA=="}
	//
	// "kind" is the value's kind (Envelope.Schema), and "schema" the
	// canonical text of a struct's schema. The value is, by kind: text
	// "value" (a JSON string); json "json", the document embedded as it
	// is; struct "fields", the value decoded (schema.AppendJSON), and
	// "base64", its exact bytes; bytes "value" if the bytes are UTF-8,
	// else "base64". A json or text value whose bytes are not what its
	// kind says falls back to "value" or "base64". Each gives back the
	// value's bytes exactly ("base64" before "fields" for a struct).
	// "time" is left out for an unstamped value, and "released":true marks
	// a release. An Envelope without a Schema is written as before kinds
	// existed: no "kind", and "json" for a compact JSON object or array.
	FormatJSON Format = iota
	// FormatBinary writes the 32-byte binary header, then the value
	// (envelope.go): less to parse, unreadable by people.
	FormatBinary
)

func (f Format) String() string {
	if f == FormatBinary {
		return "binary"
	}
	return "json"
}

// ParseFormat parses "json" or "binary".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return FormatJSON, nil
	case "binary":
		return FormatBinary, nil
	}
	return 0, fmt.Errorf("envelope format %q: want json or binary", s)
}

func (e *Envelope) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"owner":"`...)
	dst = appendHex(dst, e.Owner)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	if e.UnixNano != 0 {
		dst = append(dst, `,"time":"`...)
		dst = time.Unix(0, e.UnixNano).UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if e.Released {
		dst = append(dst, `,"released":true`...)
	}
	v, sc := e.Value, e.Schema
	if sc == nil {
		// No kind: as before kinds existed.
		if isCompactJSON(v) {
			dst = append(dst, `,"json":`...)
			return append(append(dst, v...), '}')
		}
		return append(appendText(dst, v), '}')
	}
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, sc.Kind().String()...)
	dst = append(dst, '"')
	switch sc.Kind() {
	case schema.Struct:
		dst = append(dst, `,"schema":`...)
		dst = appendJSONString(dst, []byte(sc.String()))
		if e.Seq == 0 && len(v) == 0 {
			break // a claim without a value
		}
		n := len(dst)
		dst = append(dst, `,"fields":`...)
		var err error
		if dst, err = sc.AppendJSON(dst, v); err != nil {
			dst = dst[:n] // not of the schema's size: the bytes alone
		}
		dst = appendBase64(dst, v)
	case schema.JSON:
		if isEmbeddable(v) {
			dst = append(dst, `,"json":`...)
			dst = append(dst, v...)
			break
		}
		dst = appendText(dst, v)
	default:
		dst = appendText(dst, v)
	}
	return append(dst, '}')
}

// appendText appends "value" if v is UTF-8, else "base64".
func appendText(dst, v []byte) []byte {
	if !utf8.Valid(v) {
		return appendBase64(dst, v)
	}
	dst = append(dst, `,"value":`...)
	return appendJSONString(dst, v)
}

func appendBase64(dst, v []byte) []byte {
	dst = append(dst, `,"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, v)
	return append(dst, '"')
}

// isEmbeddable reports whether v is one JSON document, in UTF-8, without
// space around it, so that embedding it in the envelope keeps its bytes
// (a decoder gives back the bytes of the document, spaces within it
// included).
func isEmbeddable(v []byte) bool {
	return len(v) > 0 && !isSpace(v[0]) && !isSpace(v[len(v)-1]) && utf8.Valid(v) && json.Valid(v)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func appendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, digits[v>>uint(shift)&0xf])
	}
	return dst
}

// isCompactJSON reports whether v is a JSON object or array written
// without insignificant space, so that embedding it keeps its bytes.
func isCompactJSON(v []byte) bool {
	if len(v) < 2 || (v[0] != '{' && v[0] != '[') || !json.Valid(v) {
		return false
	}
	var b bytes.Buffer
	return json.Compact(&b, v) == nil && bytes.Equal(b.Bytes(), v)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// jsonEnvelope is the JSON envelope as decoded.
type jsonEnvelope struct {
	Owner    string          `json:"owner"`
	Seq      uint64          `json:"seq"`
	Time     string          `json:"time"`
	Released bool            `json:"released"`
	Kind     *string         `json:"kind"`
	Schema   *string         `json:"schema"`
	Value    *string         `json:"value"`
	JSON     json.RawMessage `json:"json"`
	Fields   json.RawMessage `json:"fields"`
	Base64   *string         `json:"base64"`
}

func decodeJSON(b []byte, memo *schemaMemo) (Envelope, error) {
	var j jsonEnvelope
	if err := json.Unmarshal(b, &j); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	owner, err := strconv.ParseUint(j.Owner, 16, 64)
	if err != nil || owner == 0 {
		return Envelope{}, fmt.Errorf("%w: owner %q is not a 16-digit hex id", ErrEnvelope, j.Owner)
	}
	e := Envelope{Owner: owner, Seq: j.Seq, Released: j.Released}
	if j.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return Envelope{}, fmt.Errorf("%w: time %q", ErrEnvelope, j.Time)
		}
		e.UnixNano = t.UnixNano()
	}
	if e.Schema, err = j.schema(memo); err != nil {
		return Envelope{}, err
	}
	if e.Schema != nil && e.Schema.Kind() == schema.Struct {
		return j.structValue(e)
	}
	if j.Fields != nil {
		return Envelope{}, fmt.Errorf("%w: fields without kind struct", ErrEnvelope)
	}
	n := 0
	if j.Value != nil {
		e.Value, n = []byte(*j.Value), n+1
	}
	if j.JSON != nil {
		e.Value, n = []byte(j.JSON), n+1
	}
	if j.Base64 != nil {
		if e.Value, err = base64.StdEncoding.DecodeString(*j.Base64); err != nil {
			return Envelope{}, fmt.Errorf("%w: base64: %v", ErrEnvelope, err)
		}
		n++
	}
	if n > 1 || n == 0 && e.Seq != 0 {
		return Envelope{}, fmt.Errorf("%w: want exactly one of value, json, base64", ErrEnvelope)
	}
	return e, nil
}

// schema returns the envelope's schema: nil without "kind", ForKind for
// bytes, text and json, the parsed "schema" for struct; memo's (memo nil:
// none) if it is the same, else the new one, which memo then keeps.
func (j *jsonEnvelope) schema(memo *schemaMemo) (*schema.Schema, error) {
	if j.Kind == nil {
		if j.Schema != nil {
			return nil, fmt.Errorf("%w: schema without kind", ErrEnvelope)
		}
		return nil, nil
	}
	k, err := schema.ParseKind(*j.Kind)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	text := k.String() // ForKind(k)'s text
	switch {
	case j.Schema != nil:
		text = *j.Schema
	case k == schema.Struct:
		return nil, fmt.Errorf("%w: kind struct without schema", ErrEnvelope)
	}
	if memo != nil && memo.schema != nil && memo.schema.Kind() == k && memo.schema.String() == text {
		return memo.schema, nil
	}
	var s *schema.Schema
	if j.Schema != nil {
		if s, err = schema.Parse(*j.Schema); err != nil {
			return nil, fmt.Errorf("%w: schema: %v", ErrEnvelope, err)
		}
		if s.Kind() != k {
			return nil, fmt.Errorf("%w: kind %v with a schema of kind %v", ErrEnvelope, k, s.Kind())
		}
	} else {
		s, _ = schema.ForKind(k)
	}
	if memo != nil {
		memo.area, memo.schema = memo.area[:0], s
	}
	return s, nil
}

// structValue completes e, of kind struct: the value is "base64" if
// present (exact), else "fields" encoded by the schema.
func (j *jsonEnvelope) structValue(e Envelope) (Envelope, error) {
	if j.Value != nil || j.JSON != nil {
		return Envelope{}, fmt.Errorf("%w: a struct value is fields and base64, not value or json", ErrEnvelope)
	}
	var err error
	switch {
	case j.Base64 != nil:
		if e.Value, err = base64.StdEncoding.DecodeString(*j.Base64); err != nil {
			return Envelope{}, fmt.Errorf("%w: base64: %v", ErrEnvelope, err)
		}
	case j.Fields != nil:
		if e.Value, err = e.Schema.EncodeJSON(nil, j.Fields); err != nil {
			return Envelope{}, fmt.Errorf("%w: fields: %v", ErrEnvelope, err)
		}
	case e.Seq != 0:
		return Envelope{}, fmt.Errorf("%w: a struct value wants fields or base64", ErrEnvelope)
	}
	if err := checkValue(e); err != nil {
		return Envelope{}, err
	}
	return e, nil
}
