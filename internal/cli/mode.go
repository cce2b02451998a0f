package cli

import (
	"fmt"
	"io/fs"
	"strconv"
)

// A Mode is a -mode flag: the permission bits of a new segment, in octal.
// The zero value means the library's default, 0600.
type Mode fs.FileMode

func (m *Mode) String() string {
	if m == nil || *m == 0 {
		return "0600"
	}
	return fmt.Sprintf("%04o", uint32(*m))
}

// Set parses octal permission bits. The owner must keep read and write: a
// later publisher of the same user takes the segment over read-write, and a
// subscriber sleeps on a futex in it.
func (m *Mode) Set(s string) error {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("invalid mode %q: want octal permission bits such as 0600, 0640 or 0644", s)
	}
	if n&0o600 != 0o600 {
		return fmt.Errorf("invalid mode %q: the owner needs read and write (0600)", s)
	}
	*m = Mode(n)
	return nil
}
