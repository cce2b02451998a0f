package schema

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on schemas. They bound the work and memory of every decoder; a
// schema that exceeds one is invalid whichever way it was made.
const (
	MaxDepth      = 8       // struct nesting levels, the top-level struct included
	MaxFields     = 1024    // fields in one schema, nested fields included
	MaxNameLen    = 64      // bytes in a field name
	MaxUnitLen    = 64      // bytes in a unit
	MaxSize       = 1 << 30 // bytes in a struct value
	MaxTextSize   = 1 << 20 // bytes in the text form given to Parse
	MaxBinarySize = 1 << 18 // bytes in a binary schema; every valid schema fits
)

// A Schema describes values of one Kind and, for Struct, their fields and
// layout. A *Schema is immutable after creation and safe for concurrent
// use; it is made by Parse, New, For, Of, ForKind or UnmarshalBinary.
type Schema struct {
	kind Kind
	root *node // the top-level struct; nil unless kind == Struct
	bin  []byte
	fp   uint64
	text string
}

// A Field describes one field of a struct. It is plain data: a Field (and
// its Fields) must not be modified while New uses it; otherwise it has no
// concurrency concerns of its own.
type Field struct {
	Name string // [A-Za-z_][A-Za-z0-9_]*, at most MaxNameLen bytes, unique in its struct
	Type Type
	// Len is the number of elements of an array field (Type[Len]), or 0
	// for a single element. For Char it is N in char[N], at least 1: a
	// char field is one string, never an array of strings.
	Len int
	// Unit is an optional unit such as "m/s": at most MaxUnitLen bytes of
	// printable UTF-8 without [ ] { } ; , # " \ and without leading or
	// trailing spaces.
	Unit string
	// Fields are the fields of a Nested struct, else nil.
	Fields []Field
	// Offset is the field's byte offset in its struct. Fields sets it;
	// New ignores it and computes the C layout.
	Offset int
}

// node is a compiled struct.
type node struct {
	size, align int
	fields      []field
	index       map[string]int
}

// field is a compiled Field.
type field struct {
	name, unit string
	typ        Type
	n          int // Field.Len
	off        int // offset in the enclosing struct
	esize      int // size of one element (N for char[N])
	size       int // size of the whole field
	sub        *node
	key        []byte // `"name":` for JSON
	path       string // dotted path from the top, without indices: "pos.x"
}

// New returns the Struct schema with these fields, laid out as a C
// compiler would (see the package documentation). Offsets in fields are
// ignored.
func New(fields ...Field) (_ *Schema, err error) {
	defer wrapErr(&err)
	return newStruct(fields, ErrInvalid)
}

// ForKind returns the schema of values of kind Bytes, Text or JSON, which
// have no fields and any size. Struct schemas are made by Parse, New, For
// and Of.
func ForKind(k Kind) (_ *Schema, err error) {
	defer wrapErr(&err)
	if k > JSON {
		return nil, fmt.Errorf("%w: ForKind(%v): only bytes, text and json have no fields", ErrInvalid, k)
	}
	return finish(&Schema{kind: k}), nil
}

func newStruct(fields []Field, sentinel error) (*Schema, error) {
	b := builder{sentinel: sentinel}
	root, err := b.build(fields, 1, "")
	if err != nil {
		return nil, err
	}
	return finish(&Schema{kind: Struct, root: root}), nil
}

func finish(s *Schema) *Schema {
	s.bin = s.appendBinary(make([]byte, 0, 64))
	h := fnv.New64a()
	h.Write(s.bin)
	s.fp = h.Sum64()
	if s.fp == 0 {
		s.fp = 1
	}
	var b strings.Builder
	if s.root == nil {
		b.WriteString(s.kind.String())
	} else {
		writeFields(&b, s.root)
	}
	s.text = b.String()
	return s
}

type builder struct {
	sentinel error
	count    int
}

func (b *builder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{b.sentinel}, args...)...)
}

func (b *builder) build(fields []Field, depth int, prefix string) (*node, error) {
	if depth > MaxDepth {
		return nil, b.errorf("%snesting deeper than %d levels", where(prefix), MaxDepth)
	}
	if len(fields) == 0 {
		return nil, b.errorf("%sstruct has no fields", where(prefix))
	}
	n := &node{fields: make([]field, len(fields)), index: make(map[string]int, len(fields))}
	var off, align int64 = 0, 1
	for i := range fields {
		f := &fields[i]
		b.count++
		if b.count > MaxFields {
			return nil, b.errorf("more than %d fields", MaxFields)
		}
		if err := checkName(f.Name); err != nil {
			return nil, b.errorf("%sfield %d: %v", where(prefix), i+1, err)
		}
		path := prefix + f.Name
		if _, dup := n.index[f.Name]; dup {
			return nil, b.errorf("field %q: duplicate name", path)
		}
		n.index[f.Name] = i
		if err := checkUnit(f.Unit); err != nil {
			return nil, b.errorf("field %q: %v", path, err)
		}
		if f.Len < 0 || f.Len > MaxSize {
			return nil, b.errorf("field %q: length %d out of range", path, f.Len)
		}
		if f.Type != Nested && f.Fields != nil {
			return nil, b.errorf("field %q: a %v has no fields", path, f.Type)
		}
		c := field{name: f.Name, unit: f.Unit, typ: f.Type, n: f.Len, path: path}
		var esize, ealign int64
		switch {
		case f.Type.scalar():
			esize = int64(f.Type.Size())
			ealign = esize
		case f.Type == Char:
			if f.Len < 1 {
				return nil, b.errorf("field %q: char needs a length: char[N]", path)
			}
			esize, ealign = int64(f.Len), 1
		case f.Type == Nested:
			sub, err := b.build(f.Fields, depth+1, path+".")
			if err != nil {
				return nil, err
			}
			c.sub = sub
			esize, ealign = int64(sub.size), int64(sub.align)
		default:
			return nil, b.errorf("field %q: unknown type %v", path, f.Type)
		}
		size := esize
		if f.Len > 0 && f.Type != Char {
			size = esize * int64(f.Len) // ≤ 2^60: no overflow
		}
		off = (off + ealign - 1) / ealign * ealign
		if size > MaxSize || off+size > MaxSize {
			return nil, b.errorf("field %q: struct larger than %d bytes", path, MaxSize)
		}
		c.off, c.esize, c.size = int(off), int(esize), int(size)
		c.key = strconv.AppendQuote(nil, f.Name) // names are plain ASCII
		c.key = append(c.key, ':')
		n.fields[i] = c
		off += size
		align = max(align, ealign)
	}
	size := (off + align - 1) / align * align
	if size > MaxSize {
		return nil, b.errorf("%sstruct larger than %d bytes", where(prefix), MaxSize)
	}
	n.size, n.align = int(size), int(align)
	return n, nil
}

func where(prefix string) string {
	if prefix == "" {
		return ""
	}
	return "field " + strconv.Quote(strings.TrimSuffix(prefix, ".")) + ": "
}

func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("name %.20q... longer than %d bytes", s, MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("invalid name %q: want [A-Za-z_][A-Za-z0-9_]*", s)
	}
	return nil
}

func checkUnit(s string) error {
	if len(s) > MaxUnitLen {
		return fmt.Errorf("unit %.20q... longer than %d bytes", s, MaxUnitLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("unit %q is not valid UTF-8", s)
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("unit %q has leading or trailing space", s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || strings.ContainsRune(`[]{};,#"\`, r) {
			return fmt.Errorf("unit %q: %q not allowed", s, r)
		}
	}
	return nil
}

// Kind returns the kind of the values.
func (s *Schema) Kind() Kind { return s.kind }

// Size returns the size in bytes of a Struct value, or 0 for the other
// kinds, whose values have any size.
func (s *Schema) Size() int {
	if s.root == nil {
		return 0
	}
	return s.root.size
}

// Align returns the alignment of a Struct value (its largest field
// alignment), or 1 for the other kinds.
func (s *Schema) Align() int {
	if s.root == nil {
		return 1
	}
	return s.root.align
}

// Fields returns a copy of the top-level fields with their offsets, or nil
// for kinds other than Struct.
func (s *Schema) Fields() []Field {
	if s.root == nil {
		return nil
	}
	return exportFields(s.root)
}

func exportFields(n *node) []Field {
	out := make([]Field, len(n.fields))
	for i, f := range n.fields {
		out[i] = Field{Name: f.name, Type: f.typ, Len: f.n, Unit: f.unit, Offset: f.off}
		if f.sub != nil {
			out[i].Fields = exportFields(f.sub)
		}
	}
	return out
}

// Equal reports whether s and t describe the same values: same kind,
// fields, types, lengths, units and layout.
func (s *Schema) Equal(t *Schema) bool {
	return s == t || s != nil && t != nil && bytes.Equal(s.bin, t.bin)
}

// String returns the canonical text form, which Parse accepts and which
// gives an Equal schema: "bytes", "text" or "json", or the field
// declarations separated by "; ", such as
// "float64 x [m]; float64 y [m]; uint32 status; float64[9] cov".
func (s *Schema) String() string { return s.text }

// Fingerprint returns a 64-bit FNV-1a hash of the binary encoding (1 if
// the hash is 0), so never 0. Equal schemas have equal fingerprints. It is
// not the Go type fingerprint of package seqlock.
func (s *Schema) Fingerprint() uint64 { return s.fp }

func writeFields(b *strings.Builder, n *node) {
	for i, f := range n.fields {
		if i > 0 {
			b.WriteString("; ")
		}
		switch f.typ {
		case Nested:
			b.WriteString("struct{")
			writeFields(b, f.sub)
			b.WriteString("}")
		default:
			b.WriteString(f.typ.String())
		}
		if f.n > 0 {
			b.WriteString("[" + strconv.Itoa(f.n) + "]")
		}
		b.WriteString(" " + f.name)
		if f.unit != "" {
			b.WriteString(" [" + f.unit + "]")
		}
	}
}
