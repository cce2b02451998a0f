package natskv

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/seqshm/seqshm/schema"
)

// The binary envelope (FormatBinary; the JSON one is in envelope_json.go):
// the value a segment held travels after a fixed 32-byte header, all
// integers little-endian (docs/bridge.md, "The envelope"):
//
//	offset size field
//	     0    4 magic "sqbr" (0x73 0x71 0x62 0x72)
//	     4    1 version, 1
//	     5    1 header size in bytes, 32 (a reader skips this many bytes)
//	     6    2 flags: bit 0 "released" (the exporter stopped cleanly);
//	            bit 1 "schema" (the header holds the value's schema);
//	            the other bits are reserved (written 0, ignored when read)
//	     8    8 owner: the exporter's random id, never 0
//	    16    8 local seq: the value's write number in the exporter's
//	            segment; 0 means "no value yet" (a claim only)
//	    24    8 publish time, Unix nanoseconds (int64); 0 = not stamped
//	    32    L with flag bit 1 only: the schema (package schema's binary
//	            encoding, which gives its own length L), inside the header:
//	            the header size is then 32 + L, at most 255
//	     n    - the value, from the header size n to the end
//
// A reader that predates flag bit 1 skips the longer header as it skips
// any, and reads the value as bytes.
const (
	// HeaderSize is the size of the envelope header written by this
	// version; the value starts right after it.
	HeaderSize = 32
	// Version is the envelope version written by this package.
	Version = 1
)

var magic = [4]byte{'s', 'q', 'b', 'r'}

// flagReleased marks a release: the exporter stopped cleanly, and the key
// may be taken over at once. flagSchema marks a header that holds the
// value's schema after its first 32 bytes.
const (
	flagReleased = 1
	flagSchema   = 2
)

// maxHeaderSize is the largest header size byte 5 can give.
const maxHeaderSize = 255

// An Envelope is a decoded key value.
type Envelope struct {
	Owner    uint64 // the exporter's id
	Seq      uint64 // write number in the exporter's segment; 0: no value
	UnixNano int64  // publish time; 0 if the value was not stamped
	Value    []byte // the value; aliases the decoded bytes (binary format)
	// Released says the exporter stopped cleanly: the key is free. The
	// value is its last one, written again.
	Released bool
	// Schema is what the value is: its kind (bytes, text, json, struct)
	// and, for a struct, its fields, as the exporter's segment records
	// them (seqlock.Subscriber.Schema). It is nil for an envelope that
	// carries none: one written by an exporter that predates schemas, or
	// a binary envelope whose schema did not fit its header (see
	// BinaryCarries). An importer treats such a value as bytes, as before.
	Schema *schema.Schema
}

// BinaryCarries reports whether the binary envelope (FormatBinary) can
// carry schema s: its encoding must fit the header, whose size is one
// byte (at most 255 bytes, so about 220 bytes of schema: bytes, text and
// json always; structs of a handful of fields). The JSON envelope carries
// every schema.
func BinaryCarries(s *schema.Schema) bool {
	if s == nil {
		return true
	}
	b, err := s.MarshalBinary()
	return err == nil && HeaderSize+len(b) <= maxHeaderSize
}

// putHeader writes the first HeaderSize bytes of the header for e into
// b[:HeaderSize]; schemaLen bytes of schema follow it (0: none).
func (e *Envelope) putHeader(b []byte, schemaLen int) {
	_ = b[HeaderSize-1]
	copy(b[0:4], magic[:])
	b[4] = Version
	b[5] = byte(HeaderSize + schemaLen)
	var flags uint16
	if e.Released {
		flags |= flagReleased
	}
	if schemaLen > 0 {
		flags |= flagSchema
	}
	binary.LittleEndian.PutUint16(b[6:8], flags)
	binary.LittleEndian.PutUint64(b[8:16], e.Owner)
	binary.LittleEndian.PutUint64(b[16:24], e.Seq)
	binary.LittleEndian.PutUint64(b[24:32], uint64(e.UnixNano))
}

// Encode returns the binary envelope of e, a new slice.
func (e Envelope) Encode() []byte { return e.Append(nil, FormatBinary) }

// Append appends the envelope of e in format f to dst and returns the
// extended slice. The binary format leaves out a schema that does not fit
// its header (BinaryCarries).
func (e Envelope) Append(dst []byte, f Format) []byte {
	if f == FormatJSON {
		return e.appendJSON(dst)
	}
	n := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	schemaLen := 0
	if e.Schema != nil {
		if b, err := e.Schema.AppendBinary(dst); err == nil && len(b)-n <= maxHeaderSize {
			dst, schemaLen = b, len(b)-n-HeaderSize
		} else {
			dst = b[:n+HeaderSize]
		}
	}
	e.putHeader(dst[n:], schemaLen)
	return append(dst, e.Value...)
}

// Decode parses an envelope in either format: JSON if b starts with '{',
// binary otherwise. The bytes come from the network: anything malformed is
// an error wrapping ErrEnvelope, never a panic. The returned Value aliases
// b for the binary format.
func Decode(b []byte) (Envelope, error) { return decode(b, nil) }

// schemaMemo keeps the schema of the last envelope decoded with it: the
// envelopes of one key carry the same schema value after value, and
// parsing it is most of decoding one (BenchmarkDecodeStruct; the figures
// are in docs/benchmarks.md, "NATS bridge"). A JSON envelope reuses the
// schema when its kind and schema text are the schema's (String is
// canonical: Parse gives back an Equal schema).
type schemaMemo struct {
	area   []byte // the binary schema area it was parsed from; empty if from a JSON envelope
	schema *schema.Schema
}

// decode is Decode, reusing memo's schema (memo nil: none) when the
// envelope carries the same one, and remembering the one it parses
// otherwise.
func decode(b []byte, memo *schemaMemo) (Envelope, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeJSON(b, memo)
	}
	if len(b) < 8 {
		return Envelope{}, fmt.Errorf("%w: %d bytes, shorter than a header", ErrEnvelope, len(b))
	}
	if [4]byte(b[0:4]) != magic {
		return Envelope{}, fmt.Errorf("%w: bad magic % x", ErrEnvelope, b[0:4])
	}
	if b[4] != Version {
		return Envelope{}, fmt.Errorf("%w: version %d, want %d", ErrEnvelope, b[4], Version)
	}
	n := int(b[5])
	if n < HeaderSize || n > len(b) {
		return Envelope{}, fmt.Errorf("%w: header size %d in %d bytes", ErrEnvelope, n, len(b))
	}
	flags := binary.LittleEndian.Uint16(b[6:8])
	e := Envelope{
		Owner:    binary.LittleEndian.Uint64(b[8:16]),
		Seq:      binary.LittleEndian.Uint64(b[16:24]),
		UnixNano: int64(binary.LittleEndian.Uint64(b[24:32])),
		Value:    b[n:],
		Released: flags&flagReleased != 0,
	}
	if flags&flagSchema != 0 {
		area := b[HeaderSize:n]
		if memo != nil && len(memo.area) > 0 && bytes.Equal(area, memo.area) {
			e.Schema = memo.schema
		} else {
			l, err := schema.BinarySize(area)
			if err == nil {
				e.Schema, err = schema.UnmarshalBinary(area[:l])
			}
			if err != nil {
				return Envelope{}, fmt.Errorf("%w: schema: %v", ErrEnvelope, err)
			}
			if memo != nil {
				memo.area, memo.schema = append(memo.area[:0], area...), e.Schema
			}
		}
		if err := checkValue(e); err != nil {
			return Envelope{}, err
		}
	}
	return e, nil
}

// checkValue checks that a struct value has its schema's size (a claim,
// seq 0, may have no value).
func checkValue(e Envelope) error {
	if e.Schema == nil || e.Schema.Kind() != schema.Struct || e.Seq == 0 && len(e.Value) == 0 {
		return nil
	}
	if len(e.Value) != e.Schema.Size() {
		return fmt.Errorf("%w: struct value of %d bytes, its schema's size is %d", ErrEnvelope, len(e.Value), e.Schema.Size())
	}
	return nil
}
