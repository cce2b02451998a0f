package natskv

import (
	"encoding/binary"
	"fmt"
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
//	            the other bits are reserved (written 0, ignored when read)
//	     8    8 owner: the exporter's random id, never 0
//	    16    8 local seq: the value's write number in the exporter's
//	            segment; 0 means "no value yet" (a claim only)
//	    24    8 publish time, Unix nanoseconds (int64); 0 = not stamped
//	    32    - the value, to the end
const (
	// HeaderSize is the size of the envelope header written by this
	// version; the value starts right after it.
	HeaderSize = 32
	// Version is the envelope version written by this package.
	Version = 1
)

var magic = [4]byte{'s', 'q', 'b', 'r'}

// flagReleased marks a release: the exporter stopped cleanly, and the key
// may be taken over at once.
const flagReleased = 1

// An Envelope is a decoded key value.
type Envelope struct {
	Owner    uint64 // the exporter's id
	Seq      uint64 // write number in the exporter's segment; 0: no value
	UnixNano int64  // publish time; 0 if the value was not stamped
	Value    []byte // the value; aliases the decoded bytes (binary format)
	// Released says the exporter stopped cleanly: the key is free. The
	// value is its last one, written again.
	Released bool
}

// putHeader writes the header for e into b[:HeaderSize]. The value is
// expected at b[HeaderSize:] already, so that a segment can be read
// straight into a send buffer.
func (e *Envelope) putHeader(b []byte) {
	_ = b[HeaderSize-1]
	copy(b[0:4], magic[:])
	b[4] = Version
	b[5] = HeaderSize
	var flags uint16
	if e.Released {
		flags |= flagReleased
	}
	binary.LittleEndian.PutUint16(b[6:8], flags)
	binary.LittleEndian.PutUint64(b[8:16], e.Owner)
	binary.LittleEndian.PutUint64(b[16:24], e.Seq)
	binary.LittleEndian.PutUint64(b[24:32], uint64(e.UnixNano))
}

// Encode returns the binary envelope of e, a new slice.
func (e Envelope) Encode() []byte { return e.Append(nil, FormatBinary) }

// Append appends the envelope of e in format f to dst and returns the
// extended slice.
func (e Envelope) Append(dst []byte, f Format) []byte {
	if f == FormatJSON {
		return e.appendJSON(dst)
	}
	n := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	e.putHeader(dst[n:])
	return append(dst, e.Value...)
}

// Decode parses an envelope in either format: JSON if b starts with '{',
// binary otherwise. The bytes come from the network: anything malformed is
// an error wrapping ErrEnvelope, never a panic. The returned Value aliases
// b for the binary format.
func Decode(b []byte) (Envelope, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeJSON(b)
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
	return Envelope{
		Owner:    binary.LittleEndian.Uint64(b[8:16]),
		Seq:      binary.LittleEndian.Uint64(b[16:24]),
		UnixNano: int64(binary.LittleEndian.Uint64(b[24:32])),
		Value:    b[n:],
		Released: binary.LittleEndian.Uint16(b[6:8])&flagReleased != 0,
	}, nil
}
