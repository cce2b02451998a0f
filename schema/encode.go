package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// EncodeJSON appends to dst the value that the JSON document obj
// describes, and returns the extended slice; on error dst is returned
// unchanged in length.
//
// For a Struct schema obj is an object, and EncodeJSON appends Size bytes:
// fields missing from obj, or null, are zero; an unknown field is an
// error. Numbers must fit their field's type exactly: integer fields take
// integer literals only (no fraction or exponent) within range, float
// fields take any number within range or the strings "NaN", "+Inf" and
// "-Inf". bool takes true or false; char[N] a string of at most N bytes
// without NUL (NUL-padded, with no terminator when it has N bytes); T[N]
// an array of at most N elements (the rest are zero); a nested struct an
// object. Errors wrap ErrEncode and name the field.
//
// For a Text schema obj is a JSON string, whose text is appended; for
// JSON any JSON document, compacted; for Bytes a base64 (standard
// encoding) string.
func (s *Schema) EncodeJSON(dst, obj []byte) (_ []byte, err error) {
	defer wrapErr(&err)
	if s.kind == JSON { // Compact checks the document: no need to decode it
		return appendCompact(dst, obj, ErrEncode)
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst, fmt.Errorf("%w: data after the JSON value", ErrEncode)
	}
	switch s.kind {
	case Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return dst, fmt.Errorf("%w: want a JSON object, got %s", ErrEncode, jsonType(v))
		}
		start := len(dst)
		dst = slices.Grow(dst, s.root.size)[:start+s.root.size]
		clear(dst[start:])
		if err := fillNode(dst[start:], s.root, m, ""); err != nil {
			return dst[:start], err
		}
		return dst, nil
	default:
		str, ok := v.(string)
		if !ok {
			return dst, fmt.Errorf("%w: a %v value is a JSON string, not %s", ErrEncode, s.kind, jsonType(v))
		}
		if s.kind == Text {
			return append(dst, str...), nil
		}
		out, err := base64.StdEncoding.AppendDecode(dst, []byte(str))
		if err != nil {
			return dst, fmt.Errorf("%w: bytes: %v", ErrEncode, err)
		}
		return out, nil
	}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "number " + v.String()
	case string:
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return "string " + strconv.Quote(v)
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

func fillNode(b []byte, n *node, m map[string]any, prefix string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i, ok := n.index[k]
		if !ok {
			return fmt.Errorf("%w: unknown field %q", ErrEncode, prefix+k)
		}
		f := &n.fields[i]
		if err := fillField(b[f.off:f.off+f.size], f, m[k], prefix+k); err != nil {
			return err
		}
	}
	return nil
}

func fillField(b []byte, f *field, v any, path string) error {
	switch {
	case v == nil:
		return nil
	case f.typ == Char:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%w: field %s: char[%d] takes a string, not %s", ErrEncode, path, f.n, jsonType(v))
		}
		if len(s) > f.n {
			return fmt.Errorf("%w: field %s: string of %d bytes, char[%d] holds at most %d", ErrEncode, path, len(s), f.n, f.n)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: field %s: string contains NUL", ErrEncode, path)
		}
		copy(b, s)
		return nil
	case f.n == 0:
		return fillElem(b, f.typ, f.sub, v, path, -1)
	}
	a, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%w: field %s: %v[%d] takes an array, not %s", ErrEncode, path, f.typ, f.n, jsonType(v))
	}
	if len(a) > f.n {
		return fmt.Errorf("%w: field %s: %d elements, %v[%d] holds at most %d", ErrEncode, path, len(a), f.typ, f.n, f.n)
	}
	for i, e := range a {
		if err := fillElem(b[i*f.esize:(i+1)*f.esize], f.typ, f.sub, e, path, i); err != nil {
			return err
		}
	}
	return nil
}

// elemPath names element i of the field at path, or the field itself if i
// is -1: "arr[1]". fillElem calls it for errors only, so that a value
// encoded without error makes no strings for the paths of its elements.
func elemPath(path string, i int) string {
	if i < 0 {
		return path
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

// fillElem encodes v as element i of the field at path (i is -1 for a
// field that is not an array).
func fillElem(b []byte, t Type, sub *node, v any, path string, i int) error {
	if v == nil {
		return nil
	}
	switch t {
	case Bool:
		x, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%w: field %s: bool takes true or false, not %s", ErrEncode, elemPath(path, i), jsonType(v))
		}
		if x {
			b[0] = 1
		}
		return nil
	case Nested:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: field %s: struct takes an object, not %s", ErrEncode, elemPath(path, i), jsonType(v))
		}
		return fillNode(b, sub, m, elemPath(path, i)+".")
	case Float32, Float64:
		bits := 8 * t.Size()
		var x float64
		switch v := v.(type) {
		case json.Number:
			var err error
			x, err = strconv.ParseFloat(string(v), bits)
			if err != nil {
				return fmt.Errorf("%w: field %s: %s out of range for %v", ErrEncode, elemPath(path, i), v, t)
			}
		case string:
			switch v {
			case "NaN":
				x = math.NaN()
			case "+Inf":
				x = math.Inf(1)
			case "-Inf":
				x = math.Inf(-1)
			default:
				return fmt.Errorf("%w: field %s: %v takes a number, \"NaN\", \"+Inf\" or \"-Inf\", not %s", ErrEncode, elemPath(path, i), t, jsonType(v))
			}
		default:
			return fmt.Errorf("%w: field %s: %v takes a number, not %s", ErrEncode, elemPath(path, i), t, jsonType(v))
		}
		if t == Float32 {
			le.PutUint32(b, math.Float32bits(float32(x)))
		} else {
			le.PutUint64(b, math.Float64bits(x))
		}
		return nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("%w: field %s: %v takes an integer, not %s", ErrEncode, elemPath(path, i), t, jsonType(v))
	}
	s := string(num)
	bits := 8 * t.Size()
	var u uint64
	var err error
	if t.signed() {
		var x int64
		x, err = strconv.ParseInt(s, 10, bits)
		u = uint64(x)
	} else {
		if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0") != "" && !strings.ContainsAny(s, ".eE") {
			return fmt.Errorf("%w: field %s: negative %s for %v", ErrEncode, elemPath(path, i), s, t)
		}
		u, err = strconv.ParseUint(strings.TrimPrefix(s, "-"), 10, bits)
	}
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%w: field %s: %s out of range for %v", ErrEncode, elemPath(path, i), s, t)
		}
		return fmt.Errorf("%w: field %s: %s is not an integer (%v takes integer literals)", ErrEncode, elemPath(path, i), s, t)
	}
	switch t.Size() {
	case 1:
		b[0] = byte(u)
	case 2:
		le.PutUint16(b, uint16(u))
	case 4:
		le.PutUint32(b, uint32(u))
	default:
		le.PutUint64(b, u)
	}
	return nil
}
