package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// An Accessor reads one field, array element or nested struct of a Struct
// value; Lookup makes it. It is immutable and safe for concurrent use.
type Accessor struct {
	path  string
	f     field // typ, n (0 for one element), esize, size, sub, unit; off is absolute
	vsize int
}

// Lookup returns an Accessor for path: a field name ("y"), an array
// element ("cov[2]"), a nested field ("pos.x"), or any mix of these
// ("pts[1].x"). A path naming a whole array, char field or nested struct
// is allowed too. It returns ErrNotFound, naming the missing part.
func (s *Schema) Lookup(path string) (_ *Accessor, err error) {
	defer wrapErr(&err)
	if s.root == nil {
		return nil, fmt.Errorf("%w: a %v schema has no fields", ErrNotFound, s.kind)
	}
	n, off := s.root, 0
	rest := path
	done := ""
	for {
		seg, more, dot := strings.Cut(rest, ".")
		name, idx, hasIdx := seg, 0, false
		if i := strings.IndexByte(seg, '['); i >= 0 {
			if !strings.HasSuffix(seg, "]") {
				return nil, fmt.Errorf("%w: %q: want NAME or NAME[INDEX]", ErrNotFound, seg)
			}
			v, err := strconv.Atoi(seg[i+1 : len(seg)-1])
			if err != nil || v < 0 {
				return nil, fmt.Errorf("%w: %q: bad index", ErrNotFound, seg)
			}
			name, idx, hasIdx = seg[:i], v, true
		}
		fi, ok := n.index[name]
		if !ok {
			if done == "" {
				return nil, fmt.Errorf("%w: no field %q", ErrNotFound, name)
			}
			return nil, fmt.Errorf("%w: no field %q in %s", ErrNotFound, name, done)
		}
		f := n.fields[fi] // a copy
		if done != "" {
			done += "."
		}
		done += name
		f.off += off
		if hasIdx {
			if f.n == 0 || f.typ == Char {
				return nil, fmt.Errorf("%w: %s is not an array", ErrNotFound, done)
			}
			if idx >= f.n {
				return nil, fmt.Errorf("%w: index %d out of range for %s[%d]", ErrNotFound, idx, done, f.n)
			}
			done += "[" + strconv.Itoa(idx) + "]"
			f.off += idx * f.esize
			f.n, f.size = 0, f.esize
		}
		if !dot {
			return &Accessor{path: done, f: f, vsize: s.root.size}, nil
		}
		if f.typ != Nested || f.n != 0 {
			return nil, fmt.Errorf("%w: %s is not a struct", ErrNotFound, done)
		}
		n, off, rest = f.sub, f.off, more
	}
}

// Name returns the canonical path of the accessed value, such as "pts[1].x".
func (a *Accessor) Name() string { return a.path }

// Type returns the element type.
func (a *Accessor) Type() Type { return a.f.typ }

// Len returns the array length, 0 for a single element, or N for char[N].
func (a *Accessor) Len() int { return a.f.n }

// Unit returns the unit of the field, or "".
func (a *Accessor) Unit() string { return a.f.unit }

// Offset returns the offset of the accessed bytes in the value.
func (a *Accessor) Offset() int { return a.f.off }

// Size returns the number of accessed bytes.
func (a *Accessor) Size() int { return a.f.size }

func (a *Accessor) bytes(value []byte) ([]byte, error) {
	if len(value) != a.vsize {
		return nil, fmt.Errorf("%w: value of %d bytes, schema wants %d", ErrValue, len(value), a.vsize)
	}
	return value[a.f.off : a.f.off+a.f.size], nil
}

// AppendJSON appends the accessed value in value as JSON, as
// Schema.AppendJSON would show it.
func (a *Accessor) AppendJSON(dst, value []byte) (_ []byte, err error) {
	defer wrapErr(&err)
	b, err := a.bytes(value)
	if err != nil {
		return dst, err
	}
	return appendField(dst, b, &a.f, true, true), nil
}

// AppendText appends the accessed value in value as text for people: a
// number or bool as in logfmt, an array as [a,b,c], a char field's raw
// text up to its first NUL (unquoted), a nested struct in logfmt
// (x=1 y=2), and an array of structs in logfmt with the index as key
// prefix ([0].x=1 [1].x=2).
func (a *Accessor) AppendText(dst, value []byte) (_ []byte, err error) {
	defer wrapErr(&err)
	b, err := a.bytes(value)
	if err != nil {
		return dst, err
	}
	if a.f.typ != Nested {
		return appendField(dst, b, &a.f, false, false), nil
	}
	if a.f.n == 0 {
		var scratch [128]byte
		dst, _ = appendLogfmt(dst, b, a.f.sub, scratch[:0], false)
		return dst, nil
	}
	var scratch [128]byte
	sep := false
	for j := range a.f.n {
		p := strconv.AppendInt(append(scratch[:0], '['), int64(j), 10)
		dst, sep = appendLogfmt(dst, b[j*a.f.esize:], a.f.sub, append(p, ']', '.'), sep)
	}
	return dst, nil
}

// Float64 returns the accessed value if it is a single number or bool
// (as 0 or 1; 64-bit integers are rounded), and false otherwise or if
// value is not the schema's size.
func (a *Accessor) Float64(value []byte) (float64, bool) {
	if a.f.n != 0 || !a.f.typ.scalar() || len(value) != a.vsize {
		return 0, false
	}
	return number(value[a.f.off:], a.f.typ), true
}
