package schema

import (
	"fmt"
	"strconv"
)

// A Kind says how the bytes of a value are to be read. Kinds are plain
// values, safe for concurrent use.
type Kind uint8

// Kinds of value.
const (
	Bytes  Kind = 0 // opaque bytes
	Text   Kind = 1 // UTF-8 text
	JSON   Kind = 2 // a JSON document
	Struct Kind = 3 // a fixed-layout struct described by fields
)

var kindNames = [...]string{Bytes: "bytes", Text: "text", JSON: "json", Struct: "struct"}

// String returns "bytes", "text", "json" or "struct" (or "kind(N)").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the Kind named "bytes", "text", "json" or "struct".
func ParseKind(s string) (_ Kind, err error) {
	defer wrapErr(&err)
	for k, n := range kindNames {
		if s == n {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q (want bytes, text, json or struct)", ErrInvalid, s)
}

// A Type is the element type of a field. Its numeric value is the type
// code of the binary format. Types are plain values, safe for concurrent
// use.
type Type uint8

// Element types. Numbers are little-endian; signed integers are two's
// complement; floats are IEEE 754.
const (
	Bool    Type = 1  // 1 byte: 0 is false, anything else true
	Int8    Type = 2  // 1 byte
	Int16   Type = 3  // 2 bytes
	Int32   Type = 4  // 4 bytes
	Int64   Type = 5  // 8 bytes
	Uint8   Type = 6  // 1 byte
	Uint16  Type = 7  // 2 bytes
	Uint32  Type = 8  // 4 bytes
	Uint64  Type = 9  // 8 bytes
	Float32 Type = 10 // 4 bytes
	Float64 Type = 11 // 8 bytes
	Char    Type = 12 // char[N]: N bytes of text, ended by the first NUL if any
	Nested  Type = 13 // a nested struct
)

var typeNames = [...]string{
	Bool: "bool", Int8: "int8", Int16: "int16", Int32: "int32", Int64: "int64",
	Uint8: "uint8", Uint16: "uint16", Uint32: "uint32", Uint64: "uint64",
	Float32: "float32", Float64: "float64", Char: "char", Nested: "struct",
}

var typeSizes = [...]int{
	Bool: 1, Int8: 1, Int16: 2, Int32: 4, Int64: 8,
	Uint8: 1, Uint16: 2, Uint32: 4, Uint64: 8, Float32: 4, Float64: 8,
}

// String returns the type's name in the text form ("float64", "char",
// "struct", ...), or "type(N)" for an unknown type.
func (t Type) String() string {
	if t != 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Size returns the size in bytes of one element of a numeric or bool
// type, and 0 for Char, Nested and unknown types.
func (t Type) Size() int {
	if int(t) < len(typeSizes) {
		return typeSizes[t]
	}
	return 0
}

// scalar reports whether t is a bool or a number.
func (t Type) scalar() bool { return t >= Bool && t <= Float64 }

func (t Type) valid() bool { return t >= Bool && t <= Nested }

func (t Type) signed() bool { return t >= Int8 && t <= Int64 }
