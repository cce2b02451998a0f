package natskv

import (
	"fmt"
	"strings"
)

// DefaultBucket is the bucket used when none is given.
const DefaultBucket = "seqshm"

// CheckKey reports whether NATS accepts key as a key-value key: 1 or more
// of [-/_=.A-Za-z0-9], not starting or ending with '.'. Every segment
// name not ending in '.' is a valid key.
func CheckKey(key string) error {
	ok := key != "" && !strings.HasPrefix(key, ".") && !strings.HasSuffix(key, ".")
	for _, c := range key {
		if !ok {
			break
		}
		ok = isAlnum(c) || strings.ContainsRune("-/_=.", c)
	}
	if !ok {
		return fmt.Errorf("%w: key %q: use 1 or more of [-/_=.A-Za-z0-9], not starting or ending with '.'", ErrInvalidKey, key)
	}
	return nil
}

// CheckBucket reports whether NATS accepts name as a bucket name: 1 or
// more of [-_A-Za-z0-9].
func CheckBucket(name string) error {
	ok := name != ""
	for _, c := range name {
		if !ok {
			break
		}
		ok = isAlnum(c) || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("%w: bucket %q: use 1 or more of [-_A-Za-z0-9]", ErrInvalidKey, name)
	}
	return nil
}

func isAlnum(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
