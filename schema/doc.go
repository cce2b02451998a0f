// Package schema describes fixed-layout values, so that any tool or
// language can decode a value by field name: print it as JSON or logfmt,
// pick one field, walk its numbers, or build a value from JSON.
//
// A Schema has a Kind. Bytes, Text and JSON values have no fields and any
// size. A Struct value is a fixed-size record of named fields, laid out as
// a C compiler lays out the struct with the same fields:
//
//	s, err := schema.Parse("float64 x [m]; float64 y [m]; uint32 status; float64[9] cov")
//	s, err := schema.For[Pose]()         // the same schema, from a Go struct
//	v, err := s.EncodeJSON(nil, []byte(`{"x":1,"y":2}`))
//	out, err := s.AppendJSON(out[:0], v)  // {"x":1,"y":2,"status":0,"cov":[0,0,0,0,0,0,0,0,0]}
//	out, err := s.AppendLogfmt(out[:0], v) // x=1 y=2 status=0 cov=[0,0,0,0,0,0,0,0,0]
//	a, err := s.Lookup("cov[4]")          // a.Float64(v), a.AppendText(out, v)
//	b, err := s.MarshalBinary()           // for the segment header; UnmarshalBinary(b)
//
// # Text form
//
// A schema is "bytes", "text" or "json" alone, or a list of field
// declarations TYPE NAME, separated by new lines or semicolons:
//
//	# a robot pose
//	float64 x [m]
//	float64 y [m]
//	float64 yaw [rad]; uint32 status
//	float64[9] cov              # row-major 3×3
//	char[16] frame
//	struct{int32 sec; uint32 nsec} stamp
//	struct{float64 x; float64 y}[4] corners [m]
//
// TYPE is one of the ROS .msg primitive names bool, int8, int16, int32,
// int64, uint8, uint16, uint32, uint64, float32, float64 (and byte, an
// alias of uint8); char[N], a text of N bytes; or struct{DECLARATIONS}, a
// nested struct (up to MaxDepth levels, the top one included). Any type
// but char may be followed by [N], making a fixed array of N ≥ 1
// elements; arrays of arrays do not exist (use a flat array). ROS's
// string, time, duration, unbounded T[] and bounded T[<=N] have no fixed
// size and are refused with a hint.
//
// NAME is [A-Za-z_][A-Za-z0-9_]*, at most MaxNameLen bytes, unique within
// its struct. An optional unit in square brackets follows the name:
//
//	float64 speed [m/s]
//	float32 temp [°C]
//
// A unit is at most MaxUnitLen bytes of printable UTF-8
// without [ ] { } ; , # " or \; spaces around it are dropped. Units are
// documentation: they are kept, encoded and part of the fingerprint, but
// they change no value. A # starts a comment that runs to the end of the
// line. Spaces and tabs are allowed between all tokens.
//
// Schema.String gives the canonical text: declarations separated by "; "
// on one line, one space between type and name, "[N]" right after the
// type, " [unit]" after the name, "byte" spelled "uint8", no comments.
// Parse(s.String()) is Equal to s.
//
// # Layout
//
// Values are little-endian, signed integers two's complement, floats IEEE
// 754, bool one byte. Fields are laid out in order with C natural
// alignment: a field's offset is the next multiple of its alignment, which
// is its element size for numbers and bools (1, 2, 4, 8), 1 for char[N],
// and the largest alignment of its fields for a struct; an array is
// aligned as its element. A struct's size is rounded up to its own
// alignment. So "uint8 a; float64 b" puts b at 8 and has size 16, and
// "uint8 a; uint16 b; uint8 c" has size 6. Padding bytes are not
// described; writers should zero them and readers ignore them.
//
// # Go types
//
// For and Of derive a schema from a Go struct; see Of for the rules (tags
// `seqshm:"name,unit=m/s,char"`, blank fields as padding, no int, uint,
// pointers, slices, strings and the like). The Go layout must equal the C
// layout, which Of checks.
//
// # Binary format
//
// MarshalBinary encodes a schema compactly for storing next to its
// values. Integers are little-endian and unaligned; names are ASCII and
// units UTF-8, neither NUL-terminated. Version 1:
//
//	header, 16 bytes:
//	  0  4  magic "SQSC" (53 51 53 43)
//	  4  1  version: 1
//	  5  1  kind: 0 bytes, 1 text, 2 json, 3 struct
//	  6  2  reserved, zero
//	  8  4  u32 L, length of the whole encoding, header included: 16 ≤ L ≤ MaxBinarySize
//	 12  4  u32 value size: the struct size for kind 3, else 0
//	 16     kind 3 only: the top-level struct body (the others end here, L = 16)
//	struct body, 8 bytes then its field records:
//	  0  2  u16 F, number of fields: 1 ≤ F; at most MaxFields in the whole schema
//	  2  1  u8 alignment of the struct: 1, 2, 4 or 8
//	  3  1  reserved, zero
//	  4  4  u32 size of the struct, padding included
//	  8     F field records, in declaration order
//	field record, 12 bytes then its name, unit and body:
//	  0  1  type code: 1 bool, 2 int8, 3 int16, 4 int32, 5 int64, 6 uint8,
//	        7 uint16, 8 uint32, 9 uint64, 10 float32, 11 float64,
//	        12 char, 13 struct
//	  1  1  u8 name length, 1..64
//	  2  1  u8 unit length, 0..64 (0 = no unit)
//	  3  1  reserved, zero
//	  4  4  u32 offset of the field in its enclosing struct
//	  8  4  u32 length: 0 = one element, N = array of N; for char, N of char[N]
//	 12     name bytes, then unit bytes,
//	        then, for type 13 only, the nested struct's body (recursively)
//
// A field occupies offset .. offset + element size × max(length, 1) − 1
// (char: offset .. offset + N − 1). A reader may use the recorded offsets
// and sizes without recomputing the layout. UnmarshalBinary accepts only
// the canonical encoding of a valid schema: it recomputes the layout and
// refuses any difference, nonzero reserved bytes, unknown versions, kinds
// or types, bad or duplicate names, bad units, too deep nesting, too many
// fields, truncation and trailing bytes. BinarySize reads L from a header
// to find a schema in a larger area. A new version will change byte 4;
// readers must refuse versions they do not know.
//
// Fingerprint is the 64-bit FNV-1a hash of this encoding (offset basis
// 0xcbf29ce484222325, prime 0x100000001b3), or 1 if that is 0.
//
// # JSON mapping
//
// AppendJSON writes an object with the fields in declaration order.
// Integers, including all of int64 and uint64, are exact decimal
// integers. Floats use the shortest text that reads back to the same
// float64, or float32 for float32 fields (so float32 0.1 is 0.1), in the
// style of encoding/json: 1e+21 and 1e-7 in exponent form, 1000000 not.
// NaN, +Inf and -Inf cannot be JSON numbers: they are written as the JSON
// strings "NaN", "+Inf" and "-Inf", which EncodeJSON reads back. A bool
// byte is false if 0 and true otherwise. char[N] is the JSON string of its
// bytes up to the first NUL (or all N), invalid UTF-8 replaced by U+FFFD.
// Arrays are JSON arrays of all N elements; nested structs are objects.
// EncodeJSON takes the same form; see it for the rules.
//
// AppendLogfmt writes key=value pairs; see it for the details.
//
// # Caveats
//
// A schema describes bytes, it does not check them: a writer in another
// language must follow the layout, and a reader trusts the schema that
// came with the value. Bool bytes other than 0 and 1 read as true.
// Numbers hands out float64, which rounds int64 and uint64 beyond 2^53.
// char[N] has no room for a terminating NUL when the text is N bytes
// long. The fingerprint here hashes the schema, units and names included;
// it is not package seqlock's Go type fingerprint.
//
// A *Schema and an *Accessor are immutable and safe for concurrent use.
package schema
