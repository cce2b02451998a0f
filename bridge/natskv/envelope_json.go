package natskv

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// A Format is how an exporter writes envelopes. Importers read both.
type Format int

const (
	// FormatJSON, the default, writes a JSON object that any NATS client
	// shows readably (nats kv get):
	//
	//	{"owner":"1122334455667788","seq":2,"time":"2025-01-02T03:04:05.000000006Z","value":"x=1"}
	//
	// The value is "value" (a JSON string) if it is UTF-8 text, "json"
	// (embedded as it is) if it is a compact JSON object or array, and
	// "base64" otherwise; exactly one of them is present, and each gives
	// back the value's bytes exactly. "time" is left out for an unstamped
	// value, and "released":true marks a release.
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
	switch v := e.Value; {
	case isCompactJSON(v):
		dst = append(dst, `,"json":`...)
		dst = append(dst, v...)
	case utf8.Valid(v):
		dst = append(dst, `,"value":`...)
		dst = appendJSONString(dst, v)
	default:
		dst = append(dst, `,"base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

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
	Value    *string         `json:"value"`
	JSON     json.RawMessage `json:"json"`
	Base64   *string         `json:"base64"`
}

func decodeJSON(b []byte) (Envelope, error) {
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
