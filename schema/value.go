package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

func (s *Schema) checkValue(value []byte) error {
	if len(value) != s.root.size {
		return fmt.Errorf("%w: value of %d bytes, schema wants %d", ErrValue, len(value), s.root.size)
	}
	return nil
}

// AppendJSON appends value as JSON to dst.
//
// A Struct value becomes an object with the fields in order, such as
// {"x":1,"y":2,"cov":[1,0,0],"name":"abc","pos":{"x":1}}; value must be
// exactly Size bytes. See the package documentation for the mapping. A
// Text value becomes a JSON string, a JSON value is checked and compacted,
// a Bytes value becomes a base64 string.
//
// AppendJSON does not allocate when dst has room.
func (s *Schema) AppendJSON(dst, value []byte) (_ []byte, err error) {
	defer wrapErr(&err)
	switch s.kind {
	case Struct:
		if err := s.checkValue(value); err != nil {
			return dst, err
		}
		return appendObject(dst, value, s.root), nil
	case Text:
		return appendQuoted(dst, value), nil
	case JSON:
		return appendCompact(dst, value, ErrValue)
	default:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, value)
		return append(dst, '"'), nil
	}
}

// appendCompact appends the JSON document js to dst without insignificant
// space, or returns dst and an error wrapping sentinel if js is not one
// JSON document.
func appendCompact(dst, js []byte, sentinel error) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, js); err != nil {
		return dst, fmt.Errorf("%w: %v", sentinel, err)
	}
	return buf.Bytes(), nil
}

func appendObject(dst, v []byte, n *node) []byte {
	dst = append(dst, '{')
	for i := range n.fields {
		f := &n.fields[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		dst = appendField(dst, v[f.off:f.off+f.size], f, true, true)
	}
	return append(dst, '}')
}

// appendElem appends one element at the start of b as JSON, or as logfmt
// text if !js (nested structs are always JSON objects here).
func appendElem(dst, b []byte, t Type, sub *node, js bool) []byte {
	switch t {
	case Bool:
		if b[0] != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Int8:
		return strconv.AppendInt(dst, int64(int8(b[0])), 10)
	case Int16:
		return strconv.AppendInt(dst, int64(int16(le.Uint16(b))), 10)
	case Int32:
		return strconv.AppendInt(dst, int64(int32(le.Uint32(b))), 10)
	case Int64:
		return strconv.AppendInt(dst, int64(le.Uint64(b)), 10)
	case Uint8:
		return strconv.AppendUint(dst, uint64(b[0]), 10)
	case Uint16:
		return strconv.AppendUint(dst, uint64(le.Uint16(b)), 10)
	case Uint32:
		return strconv.AppendUint(dst, uint64(le.Uint32(b)), 10)
	case Uint64:
		return strconv.AppendUint(dst, le.Uint64(b), 10)
	case Float32:
		return appendFloat(dst, float64(math.Float32frombits(le.Uint32(b))), 32, js)
	case Float64:
		return appendFloat(dst, math.Float64frombits(le.Uint64(b)), 64, js)
	default: // Nested
		return appendObject(dst, b[:sub.size], sub)
	}
}

// appendFloat formats f as encoding/json does (shortest representation,
// exponent only below 1e-6 or from 1e21), NaN and infinities as the JSON
// strings "NaN", "+Inf" and "-Inf", or bare in logfmt (!js).
func appendFloat(dst []byte, f float64, bits int, js bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if js {
			dst = append(dst, '"')
		}
		switch {
		case math.IsNaN(f):
			dst = append(dst, "NaN"...)
		case f > 0:
			dst = append(dst, "+Inf"...)
		default:
			dst = append(dst, "-Inf"...)
		}
		if js {
			dst = append(dst, '"')
		}
		return dst
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' { // e-09 → e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// cstring returns b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string, replacing invalid UTF-8 with
// U+FFFD.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendLogfmt appends value as logfmt to dst: key=value pairs separated
// by spaces, such as x=1 y=2 cov=[1,0,0] name="abc" pos.x=1 pts[0].x=1.
// Numbers are as in AppendJSON, but NaN, +Inf and -Inf are bare; arrays
// of numbers or bools are [a,b,c]; char fields are always quoted JSON
// strings; nested struct fields are spelled out with dotted keys, with the
// element index for arrays of structs. Values of other kinds are one pair
// value=V, V being the JSON form quoted as a JSON string for JSON, and as
// in AppendJSON for Text and Bytes.
func (s *Schema) AppendLogfmt(dst, value []byte) (_ []byte, err error) {
	defer wrapErr(&err)
	switch s.kind {
	case Struct:
		if err := s.checkValue(value); err != nil {
			return dst, err
		}
		var scratch [128]byte
		dst, _ = appendLogfmt(dst, value, s.root, scratch[:0], false)
		return dst, nil
	case JSON:
		js, err := appendCompact(nil, value, ErrValue)
		if err != nil {
			return dst, err
		}
		dst = append(dst, "value="...)
		return appendQuoted(dst, js), nil
	default:
		dst = append(dst, "value="...)
		return s.AppendJSON(dst, value)
	}
}

// appendLogfmt appends the fields of n at the start of v, each key
// prefixed by prefix; sep says whether a space must come first.
func appendLogfmt(dst, v []byte, n *node, prefix []byte, sep bool) ([]byte, bool) {
	for i := range n.fields {
		f := &n.fields[i]
		b := v[f.off : f.off+f.size]
		if f.typ == Nested {
			p := append(prefix, f.name...)
			if f.n == 0 {
				dst, sep = appendLogfmt(dst, b, f.sub, append(p, '.'), sep)
				continue
			}
			for j := range f.n {
				q := append(p, '[')
				q = strconv.AppendInt(q, int64(j), 10)
				q = append(q, ']', '.')
				dst, sep = appendLogfmt(dst, b[j*f.esize:], f.sub, q, sep)
			}
			continue
		}
		if sep {
			dst = append(dst, ' ')
		}
		sep = true
		dst = append(dst, prefix...)
		dst = append(dst, f.name...)
		dst = append(dst, '=')
		dst = appendField(dst, b, f, false, true)
	}
	return dst, sep
}

// appendField appends the value b of field f: its elements as JSON if js,
// else as logfmt text (nested structs are JSON objects either way), an
// array in brackets, a char field quoted if quote, else raw.
func appendField(dst, b []byte, f *field, js, quote bool) []byte {
	switch {
	case f.typ == Char && quote:
		return appendQuoted(dst, cstring(b))
	case f.typ == Char:
		return append(dst, cstring(b)...)
	case f.n == 0:
		return appendElem(dst, b, f.typ, f.sub, js)
	}
	dst = append(dst, '[')
	for i := range f.n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendElem(dst, b[i*f.esize:], f.typ, f.sub, js)
	}
	return append(dst, ']')
}

// Numbers calls fn for every number and bool in a Struct value, in field
// order: name is the dotted path without indices ("pos.x", "pts.x"),
// index holds the array indices along the path (outermost first; empty
// for a field outside any array), v the value, with bools as 0 and 1 and
// 64-bit integers rounded to float64. Char fields are skipped. fn must not
// keep index, which is reused. Numbers allocates only that index buffer. It returns
// ErrValue if value is not Size bytes; other kinds have no numbers.
func (s *Schema) Numbers(value []byte, fn func(name string, index []int, v float64)) (err error) {
	defer wrapErr(&err)
	if s.root == nil {
		return nil
	}
	if err := s.checkValue(value); err != nil {
		return err
	}
	var idx [MaxDepth + 1]int
	walkNumbers(value, s.root, idx[:0], fn)
	return nil
}

func walkNumbers(v []byte, n *node, index []int, fn func(string, []int, float64)) {
	for i := range n.fields {
		f := &n.fields[i]
		b := v[f.off : f.off+f.size]
		switch {
		case f.typ == Char:
		case f.typ == Nested && f.n == 0:
			walkNumbers(b, f.sub, index, fn)
		case f.typ == Nested:
			for j := range f.n {
				walkNumbers(b[j*f.esize:], f.sub, append(index, j), fn)
			}
		case f.n == 0:
			fn(f.path, index, number(b, f.typ))
		default:
			for j := range f.n {
				fn(f.path, append(index, j), number(b[j*f.esize:], f.typ))
			}
		}
	}
}

// number returns the bool or number at the start of b.
func number(b []byte, t Type) float64 {
	switch t {
	case Bool:
		if b[0] != 0 {
			return 1
		}
		return 0
	case Int8:
		return float64(int8(b[0]))
	case Int16:
		return float64(int16(le.Uint16(b)))
	case Int32:
		return float64(int32(le.Uint32(b)))
	case Int64:
		return float64(int64(le.Uint64(b)))
	case Uint8:
		return float64(b[0])
	case Uint16:
		return float64(le.Uint16(b))
	case Uint32:
		return float64(le.Uint32(b))
	case Uint64:
		return float64(le.Uint64(b))
	case Float32:
		return float64(math.Float32frombits(le.Uint32(b)))
	case Float64:
		return math.Float64frombits(le.Uint64(b))
	}
	return math.NaN()
}
