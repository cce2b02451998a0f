//go:build linux || darwin

package shmfile_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/seqshm/seqshm/shmfile"
)

// A writer creates a segment; a reader maps it read-only and probes the
// writer lock; a second writer is refused.
func Example() {
	// Keep the example's segment out of /dev/shm.
	dir, err := os.MkdirTemp("", "shmfile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	defer os.Setenv("SEQSHM_DIR", os.Getenv("SEQSHM_DIR"))
	os.Setenv("SEQSHM_DIR", dir)

	w, err := shmfile.Create("imu", 4096, nil)
	if err != nil {
		log.Fatal(err)
	}
	copy(w.Bytes(), "hello")

	r, err := shmfile.OpenReader("imu", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(r.Bytes()[:5]))

	_, err = shmfile.OpenWriter("imu", 0, nil)
	fmt.Println(errors.Is(err, shmfile.ErrBusy))

	w.Close()
	alive, _, err := r.WriterAlive()
	fmt.Println(alive, err)
	r.Close()

	if err := shmfile.Remove("imu"); err != nil {
		log.Fatal(err)
	}
	_, err = shmfile.OpenReader("imu", 0)
	fmt.Println(err)
	// Output:
	// hello
	// true
	// false <nil>
	// shmfile: open "imu": no such segment
}
