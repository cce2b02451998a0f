package seqlock

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"

	"github.com/seqshm/seqshm/schema"
)

// Fingerprint returns the layout fingerprint of T, a 64-bit hash of its
// memory layout: kinds, sizes, alignments, array lengths, and field names
// and offsets, recursively. Segments made before schemas recorded it in
// the header; a typed segment now records its schema's fingerprint
// (schema.Schema.Fingerprint), and OpenTyped accepts either. It
// returns an error if T holds pointers, slices, strings, maps, channels,
// functions, interfaces or uintptrs, or has size 0: such values cannot be
// shared between processes by copying bytes. (A bool is accepted; a
// writer of another language must store only 0 or 1 in it.)
func Fingerprint[T any]() (uint64, error) {
	return fingerprintOf(reflect.TypeFor[T]())
}

func fingerprintOf(t reflect.Type) (uint64, error) {
	if t.Size() == 0 {
		return 0, fmt.Errorf("%w: type %v has size 0", ErrInvalid, t)
	}
	var b strings.Builder
	if err := describe(&b, t, t.String()); err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	if fp := h.Sum64(); fp != 0 {
		return fp, nil
	}
	return 1, nil // 0 means raw bytes
}

// describe writes a canonical description of t's layout, or an error
// naming the first field (path) that cannot be shared.
func describe(b *strings.Builder, t reflect.Type, path string) error {
	switch k := t.Kind(); k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		b.WriteString(k.String())
		b.WriteString(strconv.Itoa(int(t.Size())))
		return nil
	case reflect.Array:
		b.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		return describe(b, t.Elem(), path+"[]")
	case reflect.Struct:
		b.WriteString("struct" + strconv.Itoa(int(t.Size())) + "/" + strconv.Itoa(t.Align()) + "{")
		for i := range t.NumField() {
			f := t.Field(i)
			b.WriteString(f.Name + "@" + strconv.Itoa(int(f.Offset)) + ":")
			if err := describe(b, f.Type, path+"."+f.Name); err != nil {
				return err
			}
			b.WriteString(";")
		}
		b.WriteString("}")
		return nil
	default:
		return fmt.Errorf("%w: %s is a %v: a shared value must not contain pointers, slices, strings, maps, channels, functions, interfaces or uintptrs", ErrInvalid, path, t.Kind())
	}
}

// schemaFor returns the schema of T: its fields if T is a struct, else one
// field "value" of type T (a number, or an array of numbers).
func schemaFor[T any]() (*schema.Schema, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Struct {
		return schema.Of(t)
	}
	return schema.Of(reflect.StructOf([]reflect.StructField{{Name: "Value", Type: t, Tag: `seqshm:"value"`}}))
}

// A TypedWriter publishes values of a fixed-size, pointer-free type T. Like
// Writer, it is not safe for concurrent use.
type TypedWriter[T any] struct {
	w *Writer
}

// NewTypedWriter is NewWriter for values of type T: the capacity is T's
// size and the type's fingerprint is recorded in the header, whatever opts
// say of them.
func NewTypedWriter[T any](region []byte, opts *WriterOptions) (*TypedWriter[T], error) {
	sc, err := schemaFor[T]()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	o.Capacity, o.Fingerprint, o.Schema = 0, 0, sc
	w, err := NewWriter(region, &o)
	if err != nil {
		return nil, err
	}
	return &TypedWriter[T]{w: w}, nil
}

// Write publishes v and returns its write number.
func (tw *TypedWriter[T]) Write(v T) (uint64, error) { return tw.w.Write(bytesOf(&v)) }

// Writer returns the underlying byte Writer.
func (tw *TypedWriter[T]) Writer() *Writer { return tw.w }

// Close is Writer.Close.
func (tw *TypedWriter[T]) Close() error { return tw.w.Close() }

// A TypedReader reads values of type T. Like Reader, it is safe for
// concurrent use.
type TypedReader[T any] struct {
	r *Reader
}

// NewTypedReader is NewReader for a region written by a TypedWriter[T]. It
// returns ErrTypeMismatch if the region holds another type.
func NewTypedReader[T any](region []byte) (*TypedReader[T], error) {
	r, err := NewReader(region)
	if err != nil {
		return nil, err
	}
	return typedReader[T](r)
}

// typedReader checks that r holds values of type T: its fingerprint is
// T's schema's, or T's layout fingerprint (segments made before schemas).
func typedReader[T any](r *Reader) (*TypedReader[T], error) {
	fp, err := Fingerprint[T]()
	if err != nil {
		return nil, err
	}
	sfp := uint64(0)
	if sc, err := schemaFor[T](); err == nil {
		sfp = sc.Fingerprint()
	}
	if r.g.fingerprint != fp && r.g.fingerprint != sfp {
		return nil, fmt.Errorf("%w: region fingerprint %#x, %v has %#x", ErrTypeMismatch, r.g.fingerprint, reflect.TypeFor[T](), sfp)
	}
	return &TypedReader[T]{r: r}, nil
}

// Read returns the newest value. See Reader.Read.
func (tr *TypedReader[T]) Read() (T, Meta, error) {
	var v T
	m, err := tr.r.Read(bytesOf(&v))
	return v, m, checkTypedLen(m, err, len(bytesOf(&v)))
}

// checkTypedLen turns a typed read of a value of the wrong size (published
// through the byte Writer, or by a foreign writer) into ErrCorrupt.
func checkTypedLen(m Meta, err error, size int) error {
	if err == nil && m.Len != size {
		return fmt.Errorf("%w: value of %d bytes, the type has %d", ErrCorrupt, m.Len, size)
	}
	return err
}

// Reader returns the underlying byte Reader.
func (tr *TypedReader[T]) Reader() *Reader { return tr.r }
