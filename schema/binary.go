package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Binary format constants; see the package documentation.
const (
	binaryVersion = 1
	headerSize    = 16
	bodySize      = 8  // struct body header
	fieldSize     = 12 // field record without name and unit
)

var magic = [4]byte{'S', 'Q', 'S', 'C'}

var le = binary.LittleEndian

// MarshalBinary returns the binary encoding of s (see the package
// documentation): at most MaxBinarySize bytes. The error is always nil.
func (s *Schema) MarshalBinary() ([]byte, error) {
	return bytes.Clone(s.bin), nil
}

// AppendBinary appends the binary encoding of s to b. The error is always
// nil.
func (s *Schema) AppendBinary(b []byte) ([]byte, error) {
	return append(b, s.bin...), nil
}

func (s *Schema) appendBinary(b []byte) []byte {
	start := len(b)
	b = append(b, magic[:]...)
	b = append(b, binaryVersion, byte(s.kind), 0, 0)
	b = le.AppendUint32(b, 0) // length, set below
	b = le.AppendUint32(b, uint32(s.Size()))
	if s.root != nil {
		b = appendNode(b, s.root)
	}
	le.PutUint32(b[start+8:], uint32(len(b)-start))
	return b
}

func appendNode(b []byte, n *node) []byte {
	b = le.AppendUint16(b, uint16(len(n.fields)))
	b = append(b, byte(n.align), 0)
	b = le.AppendUint32(b, uint32(n.size))
	for _, f := range n.fields {
		b = append(b, byte(f.typ), byte(len(f.name)), byte(len(f.unit)), 0)
		b = le.AppendUint32(b, uint32(f.off))
		b = le.AppendUint32(b, uint32(f.n))
		b = append(b, f.name...)
		b = append(b, f.unit...)
		if f.sub != nil {
			b = appendNode(b, f.sub)
		}
	}
	return b
}

// BinarySize returns the length of the binary schema at the start of b,
// read from its header, after checking the magic, version and that the
// whole schema lies within b. Use it to find a schema in a larger,
// zero-padded area: UnmarshalBinary(b[:n]).
func BinarySize(b []byte) (_ int, err error) {
	defer wrapErr(&err)
	if len(b) < headerSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFormat, len(b), headerSize)
	}
	if !bytes.Equal(b[:4], magic[:]) {
		return 0, fmt.Errorf("%w: bad magic %q, want %q", ErrFormat, b[:4], magic[:])
	}
	if b[4] != binaryVersion {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrFormat, b[4], binaryVersion)
	}
	n := le.Uint32(b[8:])
	if n < headerSize || n > MaxBinarySize {
		return 0, fmt.Errorf("%w: length %d out of range %d..%d", ErrFormat, n, headerSize, MaxBinarySize)
	}
	if int64(n) > int64(len(b)) {
		return 0, fmt.Errorf("%w: schema of %d bytes larger than its area of %d bytes", ErrFormat, n, len(b))
	}
	return int(n), nil
}

// UnmarshalBinary decodes a binary schema that fills b exactly. It treats
// b as hostile: it never panics, allocates memory proportional to len(b)
// at most, and returns ErrFormat for anything but the canonical encoding
// of a valid schema (a rule of New broken included), checking the recorded
// offsets, sizes and alignments against the computed layout.
func UnmarshalBinary(b []byte) (_ *Schema, err error) {
	defer wrapErr(&err)
	n, err := BinarySize(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the %d-byte schema", ErrFormat, len(b)-n, n)
	}
	kind := Kind(b[5])
	if kind > Struct {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrFormat, b[5])
	}
	if b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("%w: reserved header bytes 6..7 are not zero", ErrFormat)
	}
	size := le.Uint32(b[12:])
	if kind != Struct {
		if n != headerSize || size != 0 {
			return nil, fmt.Errorf("%w: a %v schema has no fields and value size 0", ErrFormat, kind)
		}
		return ForKind(kind)
	}
	d := decoder{b: b, pos: headerSize}
	root, err := d.node(1)
	if err != nil {
		return nil, err
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the last field", ErrFormat, len(b)-d.pos)
	}
	if root.size != size {
		return nil, fmt.Errorf("%w: header value size %d, struct size %d", ErrFormat, size, root.size)
	}
	s, err := newStruct(root.fields, ErrFormat)
	if err != nil {
		return nil, err
	}
	if err := checkDecoded(root, s.root, ""); err != nil {
		return nil, err
	}
	if !bytes.Equal(s.bin, b) { // unreachable if the checks above are complete
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrFormat)
	}
	return s, nil
}

type decoder struct {
	b     []byte
	pos   int
	count int
}

// dnode is a decoded struct body, before validation.
type dnode struct {
	size, align uint32
	fields      []Field
	subs        []*dnode // per field, nil unless Nested
}

func (d *decoder) need(n int, what string) error {
	if len(d.b)-d.pos < n {
		return fmt.Errorf("%w: truncated at byte %d: %s needs %d bytes, %d left", ErrFormat, d.pos, what, n, len(d.b)-d.pos)
	}
	return nil
}

func (d *decoder) node(depth int) (*dnode, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: structs nested deeper than %d levels", ErrFormat, MaxDepth)
	}
	if err := d.need(bodySize, "struct header"); err != nil {
		return nil, err
	}
	b := d.b[d.pos:]
	count := int(le.Uint16(b))
	dn := &dnode{align: uint32(b[2]), size: le.Uint32(b[4:])}
	if b[3] != 0 {
		return nil, fmt.Errorf("%w: byte %d: reserved byte is not zero", ErrFormat, d.pos+3)
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: byte %d: struct has no fields", ErrFormat, d.pos)
	}
	d.count += count
	if d.count > MaxFields {
		return nil, fmt.Errorf("%w: more than %d fields", ErrFormat, MaxFields)
	}
	d.pos += bodySize
	if err := d.need(count*fieldSize, fmt.Sprintf("%d fields", count)); err != nil {
		return nil, err
	}
	dn.fields = make([]Field, count)
	dn.subs = make([]*dnode, count)
	for i := range dn.fields {
		if err := d.need(fieldSize, "field record"); err != nil {
			return nil, err
		}
		at := d.pos
		b := d.b[d.pos:]
		typ, nameLen, unitLen := Type(b[0]), int(b[1]), int(b[2])
		off, n := le.Uint32(b[4:]), le.Uint32(b[8:])
		if !typ.valid() {
			return nil, fmt.Errorf("%w: byte %d: unknown type code %d", ErrFormat, at, b[0])
		}
		if b[3] != 0 {
			return nil, fmt.Errorf("%w: byte %d: reserved byte is not zero", ErrFormat, at+3)
		}
		if nameLen > MaxNameLen || unitLen > MaxUnitLen {
			return nil, fmt.Errorf("%w: byte %d: name or unit longer than %d bytes", ErrFormat, at, MaxNameLen)
		}
		if off > MaxSize || n > MaxSize {
			return nil, fmt.Errorf("%w: byte %d: offset %d or length %d out of range", ErrFormat, at, off, n)
		}
		d.pos += fieldSize
		if err := d.need(nameLen+unitLen, "name and unit"); err != nil {
			return nil, err
		}
		f := &dn.fields[i]
		f.Type, f.Len, f.Offset = typ, int(n), int(off)
		f.Name = string(d.b[d.pos : d.pos+nameLen])
		d.pos += nameLen
		f.Unit = string(d.b[d.pos : d.pos+unitLen])
		d.pos += unitLen
		if typ == Nested {
			sub, err := d.node(depth + 1)
			if err != nil {
				return nil, err
			}
			dn.subs[i] = sub
			f.Fields = sub.fields
		}
	}
	return dn, nil
}

// checkDecoded compares the recorded layout with the computed one.
func checkDecoded(d *dnode, n *node, prefix string) error {
	if int64(d.size) != int64(n.size) || int64(d.align) != int64(n.align) {
		return fmt.Errorf("%w: %ssize %d and alignment %d recorded, C layout gives %d and %d",
			ErrFormat, where(prefix), d.size, d.align, n.size, n.align)
	}
	for i, f := range d.fields {
		c := &n.fields[i]
		if f.Offset != c.off {
			return fmt.Errorf("%w: field %q: offset %d recorded, C layout gives %d", ErrFormat, prefix+c.name, f.Offset, c.off)
		}
		if d.subs[i] != nil {
			if err := checkDecoded(d.subs[i], c.sub, prefix+c.name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}
