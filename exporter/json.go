package exporter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// walkJSON calls fn for each number and bool (0 or 1) of the JSON
// document doc, which must be valid (json.Valid), with its path: object
// keys joined by '.', array elements as [i], such as "a.b[2]" or "[0].x";
// "" for a document that is a number. Strings and nulls are skipped. path
// is scratch space for the paths; walkJSON returns it, perhaps grown, for
// the next call. fn must not keep the path it is given.
func walkJSON(doc, path []byte, fn func(path []byte, v float64)) []byte {
	w := jsonWalker{doc: doc, path: path, fn: fn}
	w.value()
	return w.path
}

type jsonWalker struct {
	doc  []byte
	i    int
	path []byte
	fn   func([]byte, float64)
}

func (w *jsonWalker) space() {
	for w.i < len(w.doc) {
		switch w.doc[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value walks the value at w.i, its path being w.path.
func (w *jsonWalker) value() {
	w.space()
	if w.i >= len(w.doc) {
		return
	}
	switch c := w.doc[w.i]; c {
	case '{':
		w.object()
	case '[':
		w.array()
	case '"':
		w.str()
	case 't':
		w.i += len("true")
		w.fn(w.path, 1)
	case 'f':
		w.i += len("false")
		w.fn(w.path, 0)
	case 'n':
		w.i += len("null")
	default:
		start := w.i
		for w.i < len(w.doc) && number(w.doc[w.i]) {
			w.i++
		}
		if v, err := strconv.ParseFloat(string(w.doc[start:w.i]), 64); err == nil {
			w.fn(w.path, v)
		} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			w.fn(w.path, v) // ±Inf for 1e999, as JSON readers do
		}
	}
}

func number(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (w *jsonWalker) object() {
	w.i++ // {
	base := len(w.path)
	for {
		w.space()
		if w.i >= len(w.doc) || w.doc[w.i] == '}' {
			w.i++
			return
		}
		key := w.str()
		w.path = w.path[:base]
		if base > 0 {
			w.path = append(w.path, '.')
		}
		w.path = appendKey(w.path, key)
		w.space()
		w.i++ // :
		w.value()
		w.path = w.path[:base]
		w.space()
		if w.i < len(w.doc) && w.doc[w.i] == ',' {
			w.i++
		}
	}
}

func (w *jsonWalker) array() {
	w.i++ // [
	base := len(w.path)
	for n := 0; ; n++ {
		w.space()
		if w.i >= len(w.doc) || w.doc[w.i] == ']' {
			w.i++
			return
		}
		w.path = append(w.path[:base], '[')
		w.path = strconv.AppendInt(w.path, int64(n), 10)
		w.path = append(w.path, ']')
		w.value()
		w.path = w.path[:base]
		w.space()
		if w.i < len(w.doc) && w.doc[w.i] == ',' {
			w.i++
		}
	}
}

// str skips the string at w.i and returns it with its quotes.
func (w *jsonWalker) str() []byte {
	start := w.i
	w.i++ // "
	for w.i < len(w.doc) {
		switch w.doc[w.i] {
		case '\\':
			w.i += 2
			continue
		case '"':
			w.i++
			return w.doc[start:w.i]
		}
		w.i++
	}
	return w.doc[start:]
}

// appendKey appends the object key quoted (a JSON string with its quotes)
// to path, unescaped, invalid UTF-8 replaced as encoding/json does.
func appendKey(path, quoted []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return append(path, raw...)
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return append(path, raw...)
	}
	return append(path, s...)
}
