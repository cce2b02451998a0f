package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// A Size is a number of bytes given on the command line as a plain number
// or with a binary suffix: 4096, 64KiB, 1MiB, 2GiB, 1TiB (K, M, G and T
// mean the same). It is a flag.Value.
type Size struct {
	Bytes int
}

var sizeUnits = []struct {
	suffix string
	mult   int
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

// ParseSize parses a size such as 4096, 64KiB or 1MiB. It must be positive.
func ParseSize(s string) (int, error) {
	num, mult := s, 1
	for _, u := range sizeUnits {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			num, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 63)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("invalid size %q: want a positive number of bytes, optionally with a suffix KiB, MiB, GiB or TiB", s)
	}
	if n > uint64(int(^uint(0)>>1)/mult) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int(n) * mult, nil
}

// FormatSize formats n bytes the way ParseSize reads it, with the largest
// exact binary suffix: 4096 is "4KiB", 1000 is "1000".
func FormatSize(n int) string {
	switch {
	case n >= 1<<40 && n%(1<<40) == 0:
		return strconv.Itoa(n>>40) + "TiB"
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}

func (s *Size) String() string {
	if s == nil || s.Bytes == 0 {
		return ""
	}
	return FormatSize(s.Bytes)
}

// Set parses a size for package flag.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	s.Bytes = n
	return nil
}
