// Command gen prints the worked example of docs/layout.md: a real segment
// of capacity 16 after one write of "hello", as a hex dump in which runs of
// zero lines are elided. The creation time, writer pid and writer start
// time are whatever they were when it ran; the publish time is fixed so
// the slot is reproducible.
//
//	go run ./clients/testdata/gen
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/seqshm/seqshm/seqlock"
)

func main() {
	region := seqlock.MakeRegion(16)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: 16, NoTimestamp: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	// 2024-01-01T00:00:00.123456789Z
	if _, err := w.WriteAt([]byte("hello"), time.Unix(0, 1704067200123456789)); err != nil {
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
