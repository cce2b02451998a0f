// Command writer produces seqshm segments for the foreign-client tests in
// clients/test.sh. It is a test tool, not a user command: it lives under
// testdata so that `go build ./...` and `go vet ./...` leave it alone, and
// it is built explicitly with `go build ./clients/testdata/writer`.
//
// Usage:
//
//	writer stress NAME SECONDS         publish checksummed values at full speed
//	writer crash NAME VALUE            publish VALUE, begin the next write, SIGKILL itself
//	writer corrupt NAME KIND           write a broken segment file (see corruptKinds)
//	writer typed NAME -                publish one Record with CreateTyped, print its fields
//	writer kind NAME text|json VALUE   publish VALUE into a segment of that kind
//	writer huge NAME CAPACITY LENGTH   a sparse segment claiming CAPACITY bytes whose value
//	                                   is "small" (LENGTH 5) or claims LENGTH bytes
//	writer badschema NAME KIND         a struct segment with a damaged schema area (see schemaDamage)
//
// Segments are made with shmfile.Create, so they live in $SEQSHM_DIR (or
// /dev/shm) and the writer holds the real writer lock while it runs.
// stress prints "writes N" on stdout when it stops. typed prints the
// value's fields as the readers' --fields options do: one path=value line
// per number, bool or char field, arrays element by element, floats with
// 17 significant digits (%.17g) or NaN, +Inf, -Inf.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

const (
	fixedCapacity  = 256
	stressCapacity = 4096
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 4 {
		switch args[0] {
		case "kind":
			return kind(args[1], args[2], args[3])
		case "huge":
			capacity, err1 := strconv.Atoi(args[2])
			length, err2 := strconv.Atoi(args[3])
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			return huge(args[1], capacity, length)
		}
	}
	if len(args) != 3 {
		return errors.New("usage: writer stress|crash|corrupt|typed|badschema NAME ARG, or writer kind|huge NAME ARG ARG")
	}
	mode, name, arg := args[0], args[1], args[2]
	switch mode {
	case "typed":
		return typed(name)
	case "badschema":
		return badSchema(name, arg)
	case "stress":
		secs, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return err
		}
		return stress(name, time.Duration(secs*float64(time.Second)))
	case "crash":
		return crash(name, []byte(arg))
	case "corrupt":
		return corrupt(name, arg)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// create makes the segment name for values of up to capacity bytes.
func create(name string, capacity int) (*shmfile.Segment, *seqlock.Writer, error) {
	seg, err := shmfile.Create(name, seqlock.Size(capacity), nil)
	if err != nil {
		return nil, nil, err
	}
	w, err := seqlock.NewWriter(seg.Bytes(), &seqlock.WriterOptions{Capacity: capacity})
	if err != nil {
		return nil, nil, errors.Join(err, seg.Close())
	}
	return seg, w, nil
}

// writeOnce publishes value as write 1 into region with a new writer made
// with opts, then closes the writer.
func writeOnce(region []byte, opts *seqlock.WriterOptions, value []byte) error {
	w, err := seqlock.NewWriter(region, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(value); err != nil {
		return err
	}
	return w.Close()
}

// fill makes a self-checking payload for write number seq, exactly as
// seqlock/stress_test.go does: a length that varies with seq, the seq
// itself (little-endian) in the first 8 bytes, pseudo-random bytes, and the
// CRC-32 (IEEE) of everything before it in the last 4 bytes.
func fill(buf []byte, seq uint64, capacity int) []byte {
	n := 12 + int(seq*7919%uint64(capacity-11))
	p := buf[:n]
	binary.LittleEndian.PutUint64(p, seq)
	x := uint32(seq) | 1
	for i := 8; i < n-4; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	binary.LittleEndian.PutUint32(p[n-4:], crc32.ChecksumIEEE(p[:n-4]))
	return p
}

func stress(name string, d time.Duration) error {
	seg, w, err := create(name, stressCapacity)
	if err != nil {
		return err
	}
	buf := make([]byte, stressCapacity)
	end := time.Now().Add(d)
	var seq uint64
	for seq = 1; ; seq++ {
		if _, err := w.Write(fill(buf, seq, stressCapacity)); err != nil {
			return errors.Join(err, w.Close(), seg.Close())
		}
		// Checking the clock every write would halve the write rate.
		if seq%1024 == 0 && time.Now().After(end) {
			break
		}
	}
	fmt.Printf("writes %d\n", seq)
	return errors.Join(w.Close(), seg.Close())
}

// Offsets of docs/layout.md (layout version 2) that the damage below uses.
const (
	offVersion   = 8   // header: layout version
	offSlotSize  = 32  // header: bytes per slot
	offSlot0     = 40  // header: offset of slot 0
	offSlotCount = 48  // header: number of slots N
	offCounter   = 128 // header: the counter, 2n-1 while write n is in progress, 2n once complete
	offSlotSseq  = 0   // slot: its sequence word, 2n-1 / 2n for write n in it
	offSlotLen   = 8   // slot: payload length
	slotHeader   = 64  // slot: bytes before the payload (sequence word, length, time, reserved to 63)
)

// setWord returns a damage that stores v in the header word at off.
func setWord(off int, v uint64) func(b []byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
}

// slotOf returns the offset of the slot that write n goes into in the
// segment b: slot n mod N, read from b's header.
func slotOf(b []byte, n uint64) int {
	le := binary.LittleEndian
	slotCount := le.Uint64(b[offSlotCount:])
	return int(le.Uint64(b[offSlot0:]) + n%slotCount*le.Uint64(b[offSlotSize:]))
}

// crash publishes value as write 1, then does what a writer killed in the
// middle of write 2 leaves behind: the counter at 3 (odd), and in the slot
// of write 2 the sequence word 3 and half a value. Then it kills itself, so
// the state stays "running" while the OS releases the writer lock. Readers
// must still return value as write 1.
func crash(name string, value []byte) error {
	seg, w, err := create(name, fixedCapacity)
	if err != nil {
		return err
	}
	if _, err := w.Write(value); err != nil {
		return err
	}
	b := seg.Bytes()
	slot := slotOf(b, 2)
	binary.LittleEndian.PutUint64(b[offCounter:], 3)          // write 2 begins
	binary.LittleEndian.PutUint64(b[slot+offSlotSseq:], 3)    // in its slot
	binary.LittleEndian.PutUint64(b[slot+offSlotLen:], 99999) // a length no reader may trust
	copy(b[slot+slotHeader:], "GARBAGE-HALF-WRITTEN")
	return syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// corruptKinds are the broken segments corrupt can write.
var corruptKinds = map[string]func(b []byte) []byte{
	// The first 8 bytes are not "SEQSHM\0\0".
	"magic": func(b []byte) []byte { copy(b, "NOTSEQSH"); return b },
	// Layout version 3, which no reader knows yet.
	"version": setWord(offVersion, 3),
	// A segment of layout version 1, as an older seqshm wrote it (see v1Segment).
	"v1": func(b []byte) []byte { return v1Segment() },
	// The file holds less than the header's total size.
	"truncated": func(b []byte) []byte { return b[:4096] },
	// Smaller than a header.
	"tiny": func(b []byte) []byte { return b[:100] },
	// All zero: a writer that has not finished initialising.
	"notready": func(b []byte) []byte { clear(b); return b },
	// Slot 0 placed past the end of the segment.
	"slot": setWord(offSlot0, 1<<40),
	// Slot counts that are not a power of two in [2, 64], and one whose
	// slots do not fit in the segment.
	"count0":   setWord(offSlotCount, 0),
	"count3":   setWord(offSlotCount, 3),
	"count128": setWord(offSlotCount, 128),
	"count64":  setWord(offSlotCount, 64),
	// A valid header whose newest slot claims more bytes than the capacity.
	"length": func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[slotOf(b, 1)+offSlotLen:], 1<<20)
		return b
	},
	// The counter says write 1 is complete, but its slot's sequence word
	// says it is still in progress (1, below 2).
	"sseq": func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[slotOf(b, 1)+offSlotSseq:], 1)
		return b
	},
}

// v1Segment returns a segment of layout version 1 (the layout before
// slot sequence words) holding "hello" as write 1, byte by byte as a
// seqshm writer of version 1 left it with capacity fixedCapacity after
// closing cleanly: a 256-byte header (slot 1's offset at 48), two slots of
// 384 bytes (a 64-byte slot header: length, time, write number; the
// payload at +64), the waiter area on the next page.
func v1Segment() []byte {
	const hs, slotSize, notify = 256, 384, 4096
	const slot1, total = hs + slotSize, notify + 128
	b := make([]byte, total)
	le := binary.LittleEndian
	copy(b, "SEQSHM\x00\x00")
	le.PutUint64(b[8:], 1)              // version
	le.PutUint64(b[16:], hs)            // header size
	le.PutUint64(b[24:], fixedCapacity) // capacity
	le.PutUint64(b[32:], slotSize)      // slot size
	le.PutUint64(b[40:], hs)            // slot 0
	le.PutUint64(b[48:], slot1)         // slot 1
	le.PutUint64(b[56:], total)         // total size
	le.PutUint64(b[80:], 2)             // writer state: closed
	le.PutUint64(b[104:], notify)       // the waiter area
	le.PutUint64(b[128:], 2)            // the counter: write 1 complete
	le.PutUint64(b[slot1:], 5)          // length
	le.PutUint64(b[slot1+16:], 1)       // write number
	copy(b[slot1+64:], "hello")
	return b
}

// corrupt writes a broken segment file: a valid segment holding "hello" as
// write 1, then damaged as kind says.
func corrupt(name, kind string) error {
	damage, ok := corruptKinds[kind]
	if !ok {
		return fmt.Errorf("unknown corruption %q", kind)
	}
	region := seqlock.MakeRegion(fixedCapacity)
	opts := &seqlock.WriterOptions{Capacity: fixedCapacity, NoTimestamp: true}
	if err := writeOnce(region, opts, []byte("hello")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(shmfile.Dir(), name), damage(region), 0o600)
}

// Pos is a nested struct of Record.
type Pos struct {
	X float64 `seqshm:"x,unit=m"`
	Y float32 `seqshm:"y"`
}

// Record is the typed value of "writer typed": every kind of field the
// schema format has, with values at the edges of their types.
type Record struct {
	F64   float64    `seqshm:"f64,unit=m/s"`
	I32   int32      `seqshm:"i32"`
	U64   uint64     `seqshm:"u64"`
	OK    bool       `seqshm:"ok"`
	Vec   [3]float32 `seqshm:"vec"`
	Frame [8]byte    `seqshm:"frame,char"`
	NaN   float64    `seqshm:"nan"`
	PInf  float64    `seqshm:"pinf"`
	NInf  float32    `seqshm:"ninf"`
	I8    int8       `seqshm:"i8"`
	U16   uint16     `seqshm:"u16"`
	I64   int64      `seqshm:"i64"`
	Pos   Pos        `seqshm:"pos"`
	Pts   [2]Pos     `seqshm:"pts"`
	Flags [2]bool    `seqshm:"flags"`
	U8s   [3]uint8   `seqshm:"u8s"`
}

var record = Record{
	F64: -1234.5678e-9, I32: -2147483647, U64: math.MaxUint64, OK: true,
	Vec:   [3]float32{0.1, -2.5, float32(math.SmallestNonzeroFloat32)},
	Frame: [8]byte{'b', 'a', 's', 'e', '_', 'l', 'n', 'k'},
	NaN:   math.NaN(), PInf: math.Inf(1), NInf: float32(math.Inf(-1)),
	I8: -128, U16: 65535, I64: math.MinInt64,
	Pos:   Pos{X: math.MaxFloat64, Y: float32(math.Copysign(0, -1))},
	Pts:   [2]Pos{{X: 1, Y: 2}, {X: 1e300, Y: 3.25}},
	Flags: [2]bool{false, true}, U8s: [3]uint8{0, 7, 255},
}

// typed publishes record with CreateTyped (its schema comes from the Go
// type) and prints its fields.
func typed(name string) error {
	p, err := seqlock.CreateTyped[Record](name, nil)
	if err != nil {
		return err
	}
	if _, err := p.Publish(record); err != nil {
		return errors.Join(err, p.Close())
	}
	if err := p.Close(); err != nil {
		return err
	}
	var b bytes.Buffer
	printFields(&b, "", reflect.ValueOf(&record).Elem())
	_, err = os.Stdout.Write(b.Bytes())
	return err
}

// printFields prints v's fields as path=value lines (see the package
// documentation), using the schema names from the seqshm tags.
func printFields(b *bytes.Buffer, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		name, char := t.Field(i).Name, false
		if tag := t.Field(i).Tag.Get("seqshm"); tag != "" {
			parts := bytes.Split([]byte(tag), []byte(","))
			name = string(parts[0])
			for _, p := range parts[1:] {
				char = char || string(p) == "char"
			}
		}
		f := v.Field(i)
		if char {
			s := f.Slice(0, f.Len()).Bytes()
			if j := bytes.IndexByte(s, 0); j >= 0 {
				s = s[:j]
			}
			fmt.Fprintf(b, "%s%s=%s\n", prefix, name, s)
			continue
		}
		if f.Kind() == reflect.Array {
			for k := range f.Len() {
				printValue(b, fmt.Sprintf("%s%s[%d]", prefix, name, k), f.Index(k))
			}
			continue
		}
		printValue(b, prefix+name, f)
	}
}

func printValue(b *bytes.Buffer, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		printFields(b, path+".", v)
	case reflect.Bool:
		fmt.Fprintf(b, "%s=%t\n", path, v.Bool())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		fmt.Fprintf(b, "%s=%d\n", path, v.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fmt.Fprintf(b, "%s=%d\n", path, v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			fmt.Fprintf(b, "%s=NaN\n", path)
		case math.IsInf(f, 1):
			fmt.Fprintf(b, "%s=+Inf\n", path)
		case math.IsInf(f, -1):
			fmt.Fprintf(b, "%s=-Inf\n", path)
		default:
			fmt.Fprintf(b, "%s=%s\n", path, strconv.FormatFloat(f, 'g', 17, 64))
		}
	default:
		panic("unexpected kind " + v.Kind().String())
	}
}

// kind publishes value into a new segment whose schema is the kind k
// ("text" or "json").
func kind(name, k, value string) error {
	kd, err := schema.ParseKind(k)
	if err != nil {
		return err
	}
	sc, err := schema.ForKind(kd)
	if err != nil {
		return err
	}
	p, err := seqlock.Create(name, &seqlock.Options{Capacity: fixedCapacity, Schema: sc})
	if err != nil {
		return err
	}
	_, err = p.Publish([]byte(value))
	return errors.Join(err, p.Close())
}

// huge makes a sparse segment file whose header claims capacity bytes
// (as a damaged or hostile writer could), holding "small" as write 1, or,
// with length > 5, a slot that claims length bytes.
func huge(name string, capacity, length int) error {
	path := filepath.Join(shmfile.Dir(), name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	size := seqlock.Size(capacity)
	if size == 0 {
		return fmt.Errorf("capacity %d out of range", capacity)
	}
	if err := f.Truncate(int64(size)); err != nil {
		return err
	}
	region, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	defer syscall.Munmap(region)
	if err := writeOnce(region, &seqlock.WriterOptions{Capacity: capacity}, []byte("small")); err != nil {
		return err
	}
	if length > 5 {
		binary.LittleEndian.PutUint64(region[slotOf(region, 1)+offSlotLen:], uint64(length))
	}
	return nil
}

// badSchemaSource is the struct schema that badschema damages. Its
// encoding: the 16-byte header, the 8-byte top-level body at 16, the
// record of "a" at 24 (name at 36), of "b" at 37 (name and unit at 49),
// of "pos" at 51, the body of pos at 66, then x at 74 and y at 87; 100
// bytes.
const badSchemaSource = "uint8 a; float64[4] b [m]; struct{float32 x; int16 y} pos"

// schemaDamage are the damaged schema areas badschema writes. Each
// function gets the region (the schema area starts at 256) and the
// schema's length.
var schemaDamage = map[string]func(b []byte, n int){
	// A field record with an unknown type code.
	"record": func(b []byte, n int) { b[256+37] = 99 },
	// A field's offset beyond the struct (and the value).
	"offset": func(b []byte, n int) { binary.LittleEndian.PutUint32(b[256+37+4:], 0x7fff0000) },
	// A struct claiming 65535 fields.
	"count": func(b []byte, n int) { binary.LittleEndian.PutUint16(b[256+16:], 0xffff) },
	// An array length that would overflow a 32-bit size computation.
	"arraylen": func(b []byte, n int) { binary.LittleEndian.PutUint32(b[256+37+8:], 0x40000000) },
	// The schema's length running past the end of its area.
	"length": func(b []byte, n int) {
		hs := binary.LittleEndian.Uint64(b[16:])
		binary.LittleEndian.PutUint32(b[256+8:], uint32(hs-256+8))
	},
	// Trailing garbage after the last field, inside the length.
	"trailing": func(b []byte, n int) { binary.LittleEndian.PutUint32(b[256+8:], uint32(n+1)) },
	// Nesting deeper than 8 levels is impossible to build from Go;
	// a nested body whose size disagrees with its fields stands in.
	"nested": func(b []byte, n int) { binary.LittleEndian.PutUint32(b[256+66+4:], 12) },
	// A valid schema whose fingerprint is not the header's.
	"fingerprint": func(b []byte, n int) { b[256+36] = 'c' },
}

// badSchema writes a segment with the struct schema badSchemaSource,
// holding write 1, then damages its schema area as kind says.
func badSchema(name, kind string) error {
	damage, ok := schemaDamage[kind]
	if !ok {
		return fmt.Errorf("unknown schema damage %q", kind)
	}
	sc, err := schema.Parse(badSchemaSource)
	if err != nil {
		return err
	}
	enc, _ := sc.MarshalBinary()
	// 8-byte aligned, as a mapping would be.
	words := make([]uint64, (seqlock.SizeWith(sc.Size(), sc)+7)/8)
	region := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	if err := writeOnce(region, &seqlock.WriterOptions{Schema: sc, NoTimestamp: true}, make([]byte, sc.Size())); err != nil {
		return err
	}
	if string(region[256:260]) != "SQSC" || !bytes.Equal(region[256:256+len(enc)], enc) {
		return errors.New("the schema is not where docs/layout.md says")
	}
	damage(region, len(enc))
	return os.WriteFile(filepath.Join(shmfile.Dir(), name), region, 0o600)
}
