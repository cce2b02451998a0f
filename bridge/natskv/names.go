package natskv

import (
	"fmt"
	"strings"

	"github.com/seqshm/seqshm/shmfile"
)

// DefaultBucket is the bucket used when none is given.
const DefaultBucket = "seqshm"

// emptyToken stands for an empty token of a segment name in a key (see
// SegmentKey). '=' is valid in keys and never appears in segment names, so
// the mapping is one to one.
const emptyToken = "="

// CheckKey reports whether NATS accepts key as a key-value key: tokens of
// 1 or more of [-/_=A-Za-z0-9] separated by single dots. A key from
// SegmentKey always passes.
func CheckKey(key string) error {
	if err := checkTokens(key, false); err != nil {
		return &Error{Op: "check", Key: key, Err: err}
	}
	return nil
}

// CheckPattern is CheckKey for a key or a key wildcard: a token may also be
// "*" (any one token), and the last may be ">" (one or more tokens).
func CheckPattern(pattern string) error {
	if err := checkTokens(pattern, true); err != nil {
		return &Error{Op: "check", Key: pattern, Err: err}
	}
	return nil
}

func checkTokens(key string, wild bool) error {
	toks := strings.Split(key, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("%w: empty token (a key is tokens of [-/_=A-Za-z0-9] separated by single dots)", ErrInvalidKey)
		case wild && tok == "*", wild && tok == ">" && i == len(toks)-1:
			continue
		}
		for _, c := range tok {
			if !isAlnum(c) && !strings.ContainsRune("-/_=", c) {
				return fmt.Errorf("%w: character %q (a key is tokens of [-/_=A-Za-z0-9] separated by single dots)", ErrInvalidKey, c)
			}
		}
	}
	return nil
}

// IsPattern reports whether key has a wildcard token ("*" or ">").
func IsPattern(key string) bool {
	for _, tok := range strings.Split(key, ".") {
		if tok == "*" || tok == ">" {
			return true
		}
	}
	return false
}

// CheckBucket reports whether NATS accepts name as a bucket name: 1 or
// more of [-_A-Za-z0-9].
func CheckBucket(name string) error {
	ok := name != ""
	for _, c := range name {
		ok = ok && (isAlnum(c) || c == '-' || c == '_')
	}
	if !ok {
		return &Error{Op: "check", Bucket: name, Err: fmt.Errorf("%w: use 1 or more of [-_A-Za-z0-9]", ErrInvalidKey)}
	}
	return nil
}

func isAlnum(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// SegmentKey maps a segment name to its key. Segment names (A-Z a-z 0-9
// . _ -, not starting with '.') are keys as they are, except that they may
// hold empty tokens ("a..b", "a.") that NATS refuses: each empty token
// becomes "=" ("a.=.b", "a.="). SegmentName undoes it.
func SegmentKey(name string) string {
	if !strings.Contains(name, "..") && !strings.HasSuffix(name, ".") {
		return name
	}
	toks := strings.Split(name, ".")
	for i, tok := range toks {
		if tok == "" {
			toks[i] = emptyToken
		}
	}
	return strings.Join(toks, ".")
}

// SegmentName maps a key back to a segment name: SegmentKey's inverse. A
// key that no segment name maps to ('/' or '=' other than a whole token,
// more than 200 characters) gives an error wrapping ErrInvalidKey.
func SegmentName(key string) (string, error) {
	toks := strings.Split(key, ".")
	for i, tok := range toks {
		if tok == emptyToken {
			toks[i] = ""
		}
	}
	name := strings.Join(toks, ".")
	if err := shmfile.CheckName(name); err != nil {
		return "", &Error{Op: "map", Key: key, Err: fmt.Errorf("%w: no segment name maps to it (%w)", ErrInvalidKey, err)}
	}
	return name, nil
}
