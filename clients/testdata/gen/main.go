// Command gen prints the worked examples of docs/layout.md: a real segment
// of capacity 16 after one write of "hello", or (with the argument
// "struct") a segment with the struct schema "float64 x [m]; int32 n"
// after one write of x = 1.5, n = -2, as a hex dump in which runs of zero
// lines are elided. The creation time, writer pid, PID namespace and writer
// start time are whatever they were when it ran; the publish time is fixed
// so the slot is reproducible.
//
//	go run ./clients/testdata/gen [struct]
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"
	"unsafe"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

func main() {
	region := seqlock.MakeRegion(16)
	opts := &seqlock.WriterOptions{Capacity: 16, NoTimestamp: true}
	value := []byte("hello")
	if len(os.Args) > 1 && os.Args[1] == "struct" {
		sc, err := schema.Parse("float64 x [m]; int32 n")
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		// 8-byte aligned, as a mapping is.
		words := make([]uint64, seqlock.SizeWith(sc.Size(), sc)/8)
		region = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
		opts = &seqlock.WriterOptions{Schema: sc, NoTimestamp: true}
		value = make([]byte, sc.Size())
		binary.LittleEndian.PutUint64(value, math.Float64bits(1.5))
		binary.LittleEndian.PutUint32(value[8:], uint32(0xfffffffe)) // -2
	}
	w, err := seqlock.NewWriter(region, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	// 2024-01-01T00:00:00.123456789Z
	if _, err := w.WriteAt(value, time.Unix(0, 1704067200123456789)); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("segment of %d bytes\n", len(region))
	dump(region)
}

// dump prints b 16 bytes a line, like hexdump -C, with a "*" line for each
// run of all-zero lines.
func dump(b []byte) {
	zero := make([]byte, 16)
	skipping := false
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		if bytes.Equal(line, zero[:len(line)]) && off != 0 && off+16 < len(b) {
			if !skipping {
				fmt.Println("*")
				skipping = true
			}
			continue
		}
		skipping = false
		fmt.Printf("%08x  ", off)
		for i := 0; i < 16; i++ {
			if i < len(line) {
				fmt.Printf("%02x ", line[i])
			} else {
				fmt.Print("   ")
			}
			if i == 7 {
				fmt.Print(" ")
			}
		}
		fmt.Print(" |")
		for _, c := range line {
			if c >= 0x20 && c < 0x7f {
				fmt.Printf("%c", c)
			} else {
				fmt.Print(".")
			}
		}
		fmt.Println("|")
	}
	fmt.Printf("%08x\n", len(b))
}
