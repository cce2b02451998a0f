package seqlock

// Review tests for layout version 2 (per-slot sequence words, N slots).
// They pin down properties the v2 change relies on and that the other
// tests cover only for the Go writer's own geometries (N = 8 or 4):
//
//   - no torn value, no wrong write number, length or time, and no write
//     number going back, for every slot count a reader must accept
//     (2 to 64), on the assembly and the Go paths of both sides;
//   - adoption after a crash at every point of a write;
//   - hostile slot words, lengths and counters: exactly the outcome
//     docs/layout.md's reader algorithm prescribes, and no byte of the
//     caller's buffer written unless a value is returned;
//   - header validation: decodeHeader accepts exactly the headers that
//     docs/layout.md "Validating a header" accepts, never panics, and the
//     reader then finds slot i where the layout says (slot0 + i*slot_size),
//     even for geometries the Go writer never makes.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// v2Region lays out a region as newGeometry does but with slots slots
// (any count a reader must accept), and publishes its header as a writer
// would: a region a foreign writer could have made, which NewWriter then
// adopts.
func v2Region(t testing.TB, capacity, slots int) ([]byte, geometry) {
	t.Helper()
	g := newGeometry(capacity, 0, 0, 0)
	g.slotCount = slots
	g.notify = roundUp(g.slot0+slots*g.slotSize, waiterAlign)
	g.totalSize = g.notify + notifySize
	region := alignedBytes(g.totalSize, slotAlign)
	h := headerAt(region)
	g.encode(h)
	atomic.StoreUint64(&h.magic, magicWord)
	if got, err := decodeHeader(region); err != nil || got.slotCount != slots {
		t.Fatalf("decodeHeader of a %d-slot region = %+v, %v", slots, got, err)
	}
	return region, g
}

// v2Len is the length of the value of write seq.
func v2Len(seq uint64, capacity int) int { return 1 + int(seq*7919%uint64(capacity)) }

// v2Time is the publish time of write seq.
func v2Time(seq uint64) int64 { return int64(seq)*1000 + 7 }

// v2Fill makes the value of write seq: every byte depends on seq and on its
// position, so a copy mixing two writes, or shifted, is caught.
func v2Fill(buf []byte, seq uint64, capacity int) []byte {
	p := buf[:v2Len(seq, capacity)]
	x := seq * 0x9E3779B97F4A7C15
	for i := range p {
		p[i] = byte(x>>(8*(i%8))) + byte(i/8)
	}
	return p
}

// v2Check reports what is wrong with a value read as write m.Seq, or "".
func v2Check(buf []byte, m Meta, capacity int) string {
	if m.Len != v2Len(m.Seq, capacity) {
		return fmt.Sprintf("write %d read with length %d, want %d", m.Seq, m.Len, v2Len(m.Seq, capacity))
	}
	if m.UnixNano != v2Time(m.Seq) {
		return fmt.Sprintf("write %d read with time %d, want %d", m.Seq, m.UnixNano, v2Time(m.Seq))
	}
	if buf == nil {
		return ""
	}
	want := v2Fill(make([]byte, capacity), m.Seq, capacity)
	if !bytes.Equal(buf[:m.Len], want) {
		return fmt.Sprintf("write %d read with other bytes (torn)", m.Seq)
	}
	return ""
}

// TestV2StressEverySlotCount: one writer writing back to back, readers on
// the assembly path (amd64, slots up to slotAsmMax), on the Go path, and
// with a buffer too short for most values (ErrShortBuffer must still
// report the validated length of the write it names). Every accepted
// value must be exactly the write the returned number names, and the
// numbers one reader sees must never go back. The writer alternates
// between its assembly and Go paths. N = 2 is the slot count that laps
// most; N = 64 the largest a reader takes. No timing is asserted: each
// case runs for a fixed time, however much it gets done.
func TestV2StressEverySlotCount(t *testing.T) {
	d := 80 * time.Millisecond
	if testing.Short() {
		d = 20 * time.Millisecond
	}
	for _, slots := range []int{2, 4, 8, 64} {
		for _, capacity := range []int{8, 100, 256, 1500} {
			t.Run(fmt.Sprintf("N%d/cap%d", slots, capacity), func(t *testing.T) {
				v2Stress(t, slots, capacity, d)
			})
		}
	}
}

func v2Stress(t *testing.T, slots, capacity int, d time.Duration) {
	region, _ := v2Region(t, capacity, slots)
	w := mustWriter(t, region, capacity)
	asmWriter := w.useAsm
	var stop atomic.Bool
	var last atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, capacity)
		for seq := uint64(1); ; seq++ {
			// Alternate the writer's paths every 256 writes (the same
			// goroutine: no race on useAsm).
			w.useAsm = asmWriter && seq&256 == 0
			n, err := w.WriteAt(v2Fill(buf, seq, capacity), time.Unix(0, v2Time(seq)))
			if err != nil || n != seq {
				t.Errorf("WriteAt(%d) = %d, %v", seq, n, err)
				return
			}
			last.Store(seq)
			if stop.Load() {
				return
			}
		}
	})
	type reader struct {
		name string
		r    *Reader
		size int // buffer size
	}
	readers := []reader{
		{"asm", pathReader(t, region, true), capacity},
		{"asm", pathReader(t, region, true), capacity},
		{"go", pathReader(t, region, false), capacity},
		{"short", pathReader(t, region, true), capacity / 2},
	}
	var accepted, short, lapped atomic.Uint64
	for _, rd := range readers {
		wg.Go(func() {
			buf := make([]byte, rd.size)
			prev := uint64(0)
			for !stop.Load() {
				m, err := rd.r.Read(buf)
				switch {
				case errors.Is(err, ErrNoValue) && prev == 0:
					continue
				case errors.Is(err, ErrLapped):
					lapped.Add(1)
					continue
				case errors.Is(err, ErrShortBuffer):
					if m.Len <= len(buf) {
						t.Errorf("%s: ErrShortBuffer with Len %d for a %d-byte buffer", rd.name, m.Len, len(buf))
						return
					}
					if bad := v2Check(nil, m, capacity); bad != "" {
						t.Errorf("%s: ErrShortBuffer: %s", rd.name, bad)
						return
					}
					short.Add(1)
				case err != nil:
					t.Errorf("%s: Read = %+v, %v", rd.name, m, err)
					return
				default:
					if bad := v2Check(buf, m, capacity); bad != "" {
						t.Errorf("%s: %s", rd.name, bad)
						return
					}
					accepted.Add(1)
				}
				if m.Seq < prev {
					t.Errorf("%s: Read went back from write %d to %d", rd.name, prev, m.Seq)
					return
				}
				prev = m.Seq
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	// With the writer stopped, every reader reads its last write.
	n := last.Load()
	for _, rd := range readers {
		buf := make([]byte, capacity)
		m, err := rd.r.Read(buf)
		if err != nil || m.Seq != n {
			t.Errorf("%s: Read after the last write = %+v, %v, want write %d", rd.name, m, err, n)
		} else if bad := v2Check(buf, m, capacity); bad != "" {
			t.Errorf("%s: after the last write: %s", rd.name, bad)
		}
	}
	t.Logf("%d writes, %d values accepted, %d short-buffer reports, %d reads lapped out", n, accepted.Load(), short.Load(), lapped.Load())
}

// The points at which a writer can die during write n, as the state it
// leaves in the counter and in slot n%N. The stores of a write are, in
// order: counter 2n-1, slot word 2n-1, length, time, payload, slot word 2n,
// counter 2n.
var v2CrashPoints = []struct {
	name string
	// word: what the slot word holds (nil: untouched, the old value);
	// contents: what length, time and payload hold (the old write's,
	// garbage, or the dead writer's whole value).
	word     func(n uint64) uint64
	contents string // "old", "garbage", "dead"
}{
	{"after the odd counter", nil, "old"},
	{"after the odd slot word", func(n uint64) uint64 { return 2*n - 1 }, "old"},
	{"in the payload", func(n uint64) uint64 { return 2*n - 1 }, "garbage"},
	{"after the payload", func(n uint64) uint64 { return 2*n - 1 }, "dead"},
	// The slot is committed but the counter is not: readers still take
	// write n-1, and the adopting writer redoes write n, storing 2n-1
	// over this 2n (the one time a slot word goes back).
	{"after the slot commit", func(n uint64) uint64 { return 2 * n }, "dead"},
}

// TestV2AdoptAtEveryCrashPoint kills (simulates) a writer at every point
// of write n, for a slot never written before (n <= N) and one that held
// write n-N, on the assembly and the Go paths, and checks that readers
// keep reading write n-1 and that the writer adopting the region redoes
// write n with its own value, which readers then read, never the dead
// writer's.
func TestV2AdoptAtEveryCrashPoint(t *testing.T) {
	for _, slots := range []int{2, 8} {
		for _, capacity := range []int{24, 600} {
			for _, n := range []uint64{1, 2, uint64(slots), uint64(slots) + 1, 3*uint64(slots) + 1} {
				for _, cp := range v2CrashPoints {
					name := fmt.Sprintf("N%d/cap%d/write%d/%s", slots, capacity, n, cp.name)
					t.Run(name, func(t *testing.T) { v2Crash(t, slots, capacity, n, cp.word, cp.contents) })
				}
			}
		}
	}
}

func v2Crash(t *testing.T, slots, capacity int, n uint64, word func(uint64) uint64, contents string) {
	region, g := v2Region(t, capacity, slots)
	w := mustWriter(t, region, capacity)
	buf := make([]byte, capacity)
	for seq := uint64(1); seq < n; seq++ {
		if _, err := w.WriteAt(v2Fill(buf, seq, capacity), time.Unix(0, v2Time(seq))); err != nil {
			t.Fatal(err)
		}
	}
	// The dead writer's part of write n.
	slot := slotOf(g, n)
	atomic.StoreUint64(word64(region, offSeq), 2*n-1)
	if word != nil {
		atomic.StoreUint64(word64(region, slot+offSlotSeq), word(n))
	}
	payload := region[slot+slotHeaderSize : slot+g.slotSize]
	switch contents {
	case "garbage":
		binary.LittleEndian.PutUint64(region[slot+offSlotLen:], 1<<62)
		binary.LittleEndian.PutUint64(region[slot+offSlotTime:], 12345)
		for i := range payload {
			payload[i] = 0xEE
		}
	case "dead":
		dead := bytes.Repeat([]byte{0xDD}, capacity)
		binary.LittleEndian.PutUint64(region[slot+offSlotLen:], uint64(capacity))
		binary.LittleEndian.PutUint64(region[slot+offSlotTime:], 99)
		copy(payload, dead)
	}

	readers := []*Reader{pathReader(t, region, true), pathReader(t, region, false)}
	// Readers meanwhile: write n-1, whatever the dead writer left.
	for i, r := range readers {
		m, err := r.Read(buf)
		switch {
		case n == 1:
			if !errors.Is(err, ErrNoValue) {
				t.Errorf("reader %d before adoption: Read = %+v, %v, want ErrNoValue", i, m, err)
			}
		case err != nil || m.Seq != n-1:
			t.Errorf("reader %d before adoption: Read = %+v, %v, want write %d", i, m, err, n-1)
		default:
			if bad := v2Check(buf, m, capacity); bad != "" {
				t.Errorf("reader %d before adoption: %s", i, bad)
			}
		}
		if s := r.Seq(); s != n-1 {
			t.Errorf("reader %d before adoption: Seq = %d, want %d", i, s, n-1)
		}
	}

	// Readers keep reading, concurrently, while the next writer adopts the
	// region and redoes write n, and after: never the dead writer's value
	// (its time and bytes differ from write n's), never a write number
	// going back.
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop.Store(true)
	for i, r := range readers {
		wg.Go(func() {
			rb := make([]byte, capacity)
			prev := uint64(0)
			for !stop.Load() {
				m, err := r.Read(rb)
				switch {
				case errors.Is(err, ErrNoValue) && n == 1 && prev == 0:
					continue
				case err != nil:
					t.Errorf("concurrent reader %d: Read = %+v, %v", i, m, err)
					return
				case m.Seq < prev:
					t.Errorf("concurrent reader %d: Read went back from write %d to %d", i, prev, m.Seq)
					return
				}
				if bad := v2Check(rb, m, capacity); bad != "" {
					t.Errorf("concurrent reader %d: %s", i, bad)
					return
				}
				prev = m.Seq
			}
		})
	}

	// The next writer adopts the region and redoes write n, then goes on
	// for more than a round of the slots, on both of its paths.
	w2 := mustWriter(t, region, capacity)
	if s := w2.Seq(); s != n-1 {
		t.Errorf("adopting writer's Seq = %d, want %d", s, n-1)
	}
	asm := w2.useAsm
	for seq := n; seq < n+2*uint64(slots)+2; seq++ {
		w2.useAsm = asm && seq%2 == 0
		got, err := w2.WriteAt(v2Fill(buf, seq, capacity), time.Unix(0, v2Time(seq)))
		if err != nil || got != seq {
			t.Fatalf("adopting writer's write = %d, %v, want write %d", got, err, seq)
		}
		for i, r := range readers {
			rb := make([]byte, capacity)
			m, err := r.Read(rb)
			if err != nil || m.Seq != seq {
				t.Fatalf("reader %d after write %d: Read = %+v, %v", i, seq, m, err)
			}
			if bad := v2Check(rb, m, capacity); bad != "" {
				t.Fatalf("reader %d after write %d: %s", i, seq, bad)
			}
		}
		if seq == n {
			if got := atomic.LoadUint64(word64(region, slot+offSlotSeq)); got != 2*n {
				t.Errorf("slot word after the redo of write %d = %d, want %d", n, got, 2*n)
			}
		}
	}
}

// TestV2HostileSlots sets the counter, the newest slot's word and its
// length to hostile values and checks that Read does exactly what the
// reader algorithm of docs/layout.md says, single-threaded so the outcome
// is determined: no value before the first write; ErrCorrupt for a word
// below 2m; a lap (ErrLapped in the end) for a word above; for a word of
// exactly 2m, ErrCorrupt for a length above the capacity, ErrShortBuffer
// for one above the buffer, otherwise the slot's bytes with write number
// counter/2. The caller's buffer is not written unless a value is
// returned, and then not past the value.
func TestV2HostileSlots(t *testing.T) {
	const lapCases = 24 // a lapped-out Read spins for about 2 ms
	for _, tc := range []struct{ slots, capacity int }{{2, 40}, {8, 256}, {64, 700}} {
		t.Run(fmt.Sprintf("N%d/cap%d", tc.slots, tc.capacity), func(t *testing.T) {
			region, g := v2Region(t, tc.capacity, tc.slots)
			w := mustWriter(t, region, tc.capacity)
			w.Write([]byte("x"))
			readers := []*Reader{pathReader(t, region, true), pathReader(t, region, false)}
			rng := rand.New(rand.NewPCG(1, uint64(tc.slots)))
			pick := func(v ...uint64) uint64 { return v[rng.IntN(len(v))] }
			laps := 0
			for iter := 0; iter < 1500; iter++ {
				c := pick(0, 1, 2, 3, 2*uint64(tc.slots)+1, 1<<40, ^uint64(0), ^uint64(0)-1, rng.Uint64())
				m := c / 2
				wordChoices := []uint64{0, 2 * m, 2 * m, 2 * m, 2*m + 1, 2*m + 2*uint64(tc.slots), ^uint64(0), rng.Uint64()}
				if m > 0 {
					wordChoices = append(wordChoices, 2*m-1, 2*m-2)
				}
				word := pick(wordChoices...)
				if c >= 2 && word > 2*m {
					if laps == lapCases {
						word = 2 * m
					} else {
						laps++
					}
				}
				capacity := uint64(tc.capacity)
				length := pick(0, 1, capacity/2, capacity, capacity+1, roundUpU(capacity, 8), 1<<40, ^uint64(0), rng.Uint64N(capacity+1))
				size := int(pick(0, 1, capacity/2, capacity, capacity+64))
				slot := slotOf(g, m)
				atomic.StoreUint64(word64(region, offSeq), c)
				atomic.StoreUint64(word64(region, slot+offSlotSeq), word)
				binary.LittleEndian.PutUint64(region[slot+offSlotLen:], length)
				binary.LittleEndian.PutUint64(region[slot+offSlotTime:], c^word)
				src := region[slot+slotHeaderSize : slot+g.slotSize]
				for i := range src {
					src[i] = byte(rng.Uint32())
				}
				for ri, r := range readers {
					const sentinel = 0xA5
					buf := bytes.Repeat([]byte{sentinel}, size+16)
					got, err := r.Read(buf[:size])
					var want error
					switch {
					case c < 2:
						want = ErrNoValue
					case word < 2*m:
						want = ErrCorrupt
					case word > 2*m:
						want = ErrLapped
					case length > capacity:
						want = ErrCorrupt
					case length > uint64(size):
						want = ErrShortBuffer
					}
					what := fmt.Sprintf("reader %d, counter %d, word %d, length %d, buffer %d", ri, c, word, length, size)
					if !errors.Is(err, want) || (want == nil) != (err == nil) {
						t.Fatalf("%s: Read = %+v, %v, want %v", what, got, err, want)
					}
					copied := 0
					switch want {
					case nil:
						if got.Seq != m || uint64(got.Len) != length || got.UnixNano != int64(c^word) {
							t.Fatalf("%s: Read = %+v, want write %d of %d bytes", what, got, m, length)
						}
						if !bytes.Equal(buf[:got.Len], src[:got.Len]) {
							t.Fatalf("%s: Read returned bytes other than the slot's", what)
						}
						copied = got.Len
					case ErrShortBuffer:
						if got.Seq != m || uint64(got.Len) != length {
							t.Fatalf("%s: Read = %+v, %v, want Len %d and Seq %d", what, got, err, length, m)
						}
					}
					for i := copied; i < len(buf); i++ {
						if buf[i] != sentinel {
							t.Fatalf("%s: Read (%v) wrote byte %d of the buffer, past the %d bytes it returned", what, err, i, copied)
						}
					}
				}
			}
		})
	}
}

func roundUpU(n, align uint64) uint64 { return (n + align - 1) / align * align }

// v2DocValid is docs/layout.md "Validating a header", step 4, transcribed
// (size is the region's length); decodeHeader must agree with it exactly.
func v2DocValid(size, hs, capacity, ss, s0, n, total, nt uint64) bool {
	overlap := func(a, an, b, bn uint64) bool { return a < b+bn && b < a+an }
	switch {
	case hs < 256 || hs > size:
	case total > size:
	case capacity < 1 || capacity > 1<<40:
	case ss < slotHeaderSize+capacity || ss > total || ss%8 != 0:
	case n < 2 || n > 64 || n&(n-1) != 0:
	case s0 < hs || s0%8 != 0 || s0 > total || total-s0 < n*ss:
	case nt != 0 && (nt%8 != 0 || nt < hs || nt > total || total-nt < 128 || overlap(nt, 128, s0, n*ss)):
	default:
		return true
	}
	return false
}

// TestV2DecodeHeaderAgreesWithTheDoc feeds decodeHeader headers whose v2
// fields are drawn from values around every boundary of the validation
// rules, checks that it accepts exactly those docs/layout.md accepts
// (without panicking on the others), and for each accepted one that a
// Reader finds slot m%N at slot0 + (m%N)*slot_size: a value planted there
// as the layout says is read back whole, on both read paths.
func TestV2DecodeHeaderAgreesWithTheDoc(t *testing.T) {
	base, g := v2Region(t, 64, 8)
	size := uint64(len(base)) + 4096
	total := uint64(g.totalSize)
	rng := rand.New(rand.NewPCG(2, 3))
	pick := func(v ...uint64) uint64 { return v[rng.IntN(len(v))] }
	iters := 20000
	if testing.Short() {
		iters = 4000
	}
	accepted := 0
	for range iters {
		region := alignedBytes(int(size), slotAlign)
		copy(region, base)
		// Each field: mostly a value the rules accept given the fields
		// before it, sometimes one at or just past a boundary.
		either := func(good []uint64, bad ...uint64) uint64 {
			if rng.IntN(4) == 0 {
				return pick(bad...)
			}
			return pick(good...)
		}
		tot := either([]uint64{total, size, size - 8}, size+8, 1024, 255, 0)
		hs := either([]uint64{256, 264, 384}, 0, 255, 257, tot, tot+8, size, size+8)
		capacity := either([]uint64{1, 7, 64, 200, 300}, 0, 1<<40, 1<<40+1, ^uint64(0))
		ss := either([]uint64{roundUpU(slotHeaderSize+capacity, 8), roundUpU(slotHeaderSize+capacity, 128), roundUpU(slotHeaderSize+capacity, 8) + 8},
			0, slotHeaderSize, slotHeaderSize+capacity-1, slotHeaderSize+capacity, tot, tot+8, 1<<63)
		n := either([]uint64{2, 4, 8, 64}, 0, 1, 3, 48, 65, 128, 1<<32, 1<<63)
		end := func(s0 uint64) uint64 { return s0 + n*ss }
		s0 := either([]uint64{hs, roundUpU(hs, 8) + 8, roundUpU(hs, 128), tot - n*ss - 128, (tot - n*ss) &^ 7},
			0, 255, 260, hs+4, tot-n*ss+8, tot, tot+8, ^uint64(0)-7)
		nt := either([]uint64{0, roundUpU(end(s0), 8), roundUpU(end(s0), 4096), tot - 128, s0 - 128, hs},
			4100, s0, end(s0)-8, s0-120, tot-120, tot, tot+8, ^uint64(0)-7)
		for off, v := range map[int]uint64{offHeaderSize: hs, offCapacity: capacity, offSlotSize: ss,
			offSlot0: s0, offSlotCount: n, offTotalSize: tot, offNotify: nt} {
			binary.LittleEndian.PutUint64(region[off:], v)
		}
		want := v2DocValid(size, hs, capacity, ss, s0, n, tot, nt)
		gg, err := decodeHeader(region)
		if (err == nil) != want {
			t.Fatalf("hs %d cap %d slot size %d slot0 %d N %d total %d notify %d (region %d): decodeHeader = %v, the doc says valid = %v",
				hs, capacity, ss, s0, n, tot, nt, size, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeHeader = %v, want ErrCorrupt", err)
			}
			continue
		}
		accepted++
		for _, asm := range []bool{true, false} {
			r := pathReader(t, region, asm)
			c := 2 * (1 + rng.Uint64N(1000))
			m := c / 2
			slot := s0 + (m&(n-1))*ss
			length := min(capacity, 300)
			atomic.StoreUint64(word64(region, offSeq), c)
			binary.LittleEndian.PutUint64(region[slot+offSlotSeq:], c)
			binary.LittleEndian.PutUint64(region[slot+offSlotLen:], length)
			binary.LittleEndian.PutUint64(region[slot+offSlotTime:], 77)
			for i := range length {
				region[slot+slotHeaderSize+i] = byte(i*13 + m)
			}
			buf := make([]byte, length)
			got, err := r.Read(buf)
			if err != nil || got.Seq != m || uint64(got.Len) != length || got.UnixNano != 77 ||
				!bytes.Equal(buf, region[slot+slotHeaderSize:slot+slotHeaderSize+length]) {
				t.Fatalf("geometry %+v: Read of write %d planted at %d = %+v, %v", gg, m, slot, got, err)
			}
		}
	}
	t.Logf("%d of %d headers accepted", accepted, iters)
	if accepted == 0 {
		t.Errorf("no header accepted: the test draws nothing valid")
	}
}

// pathReader returns a Reader of region that reads with the assembly where
// the build and the capacity allow it and asm is true, in Go otherwise.
func pathReader(t *testing.T, region []byte, asm bool) *Reader {
	t.Helper()
	r, err := NewReader(region)
	if err != nil {
		t.Fatal(err)
	}
	r.useAsm = r.useAsm && asm
	return r
}
