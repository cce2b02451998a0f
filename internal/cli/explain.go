package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// Explain turns an error from seqlock or shmfile about the segment name into
// an *Error (or, for an invalid name, a *UsageError) with a short message and
// hints. It covers the failures both tools share; a tool explains its own
// (a missing segment, a busy one) before calling Explain. An error that is
// already an *Error or a *UsageError is returned as it is.
func Explain(name string, err error) error {
	var (
		e     *Error
		usage *UsageError
	)
	if err == nil || errors.As(err, &e) || errors.As(err, &usage) {
		return err
	}
	explained := func(msg string, hints ...string) error {
		return &Error{Name: name, Msg: msg, Hints: hints, Err: err}
	}
	switch {
	case errors.Is(err, shmfile.ErrInvalidName):
		return &UsageError{Msg: strings.TrimPrefix(err.Error(), "shmfile: "),
			Hints: []string{"a NAME is 1 to 200 characters of A-Z a-z 0-9 . _ -, not starting with '.'"}}
	case errors.Is(err, shmfile.ErrNoSpace):
		return explained("no space left for the segment in "+Dir(),
			"a container's /dev/shm is small (64MiB under Docker): raise it with docker run --shm-size=256m,",
			"or set SEQSHM_DIR to a directory on a larger tmpfs; remove unused segments with publisher -rm NAME")
	case errors.Is(err, fs.ErrPermission):
		return explained("permission denied",
			"segments are created owner-only (mode 0600); to let other users subscribe,",
			"the publisher creates it with -mode 0640 or -mode 0644 (publisher -rm NAME first to recreate it)")
	case errors.Is(err, seqlock.ErrTruncated):
		return explained("segment truncated while mapped (another program shrank its file)")
	case errors.Is(err, seqlock.ErrNotSeqshm), errors.Is(err, shmfile.ErrTooSmall):
		return explained("not a seqshm segment (another program's shared memory?)")
	case errors.Is(err, shmfile.ErrNotSegment):
		return explained("not a segment (a link, directory or device is at its path)")
	case errors.Is(err, seqlock.ErrVersion):
		return explained("segment has an unsupported layout version (made by a newer seqshm?)")
	case errors.Is(err, seqlock.ErrCorrupt):
		return explained("corrupt segment"+detail(err, seqlock.ErrCorrupt),
			"remove it with: publisher -rm "+name)
	case errors.Is(err, seqlock.ErrNotReady):
		return explained("segment not initialised yet",
			"its publisher is starting, or died while creating it; wait with -wait 5s, or remove it with: publisher -rm "+name)
	case errors.Is(err, errors.ErrUnsupported):
		return explained(fmt.Sprintf("not supported on %s: %s", runtime.GOOS, trimPrefixes(err.Error())))
	}
	return explained(trimPrefixes(err.Error()))
}

// Dir describes where segments live, for messages.
func Dir() string {
	if d := shmfile.Dir(); d != "" {
		return d
	}
	return "the session namespace"
}

// trimPrefixes removes the package prefixes ("seqlock: ", "shmfile: ",
// "natskv: ") that start a library error's message; the tool's own prefix
// replaces them.
func trimPrefixes(msg string) string {
	for {
		rest, ok := strings.CutPrefix(msg, "seqlock: ")
		if !ok {
			rest, ok = strings.CutPrefix(msg, "shmfile: ")
		}
		if !ok {
			rest, ok = strings.CutPrefix(msg, "natskv: ")
		}
		if !ok {
			return msg
		}
		msg = rest
	}
}

// detail returns what err's message says after sentinel's, as ": detail",
// or "" if nothing.
func detail(err, sentinel error) string {
	msg := err.Error()
	i := strings.Index(msg, sentinel.Error())
	if i < 0 {
		return ""
	}
	rest := strings.TrimPrefix(msg[i+len(sentinel.Error()):], ": ")
	if rest == "" {
		return ""
	}
	return ": " + rest
}
