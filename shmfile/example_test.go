package shmfile_test

import (
	"fmt"

	"github.com/seqshm/seqshm/shmfile"
)

func ExampleCheckName() {
	for _, name := range []string{"imu", "../etc/passwd", "", "a/b"} {
		fmt.Println(shmfile.CheckName(name))
	}
	// Output:
	// <nil>
	// shmfile: invalid segment name "../etc/passwd": starts with '.'
	// shmfile: invalid segment name "": empty
	// shmfile: invalid segment name "a/b": character '/' at offset 1 not in [A-Za-z0-9._-]
}
