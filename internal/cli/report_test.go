package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// TestCause: the message without the prefixes of the library's error types,
// taken from their fields; other errors as they are.
func TestCause(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	_, schemaErr := schema.Parse("float64")
	_, createErr := seqlock.Create("x", &seqlock.Options{Capacity: -1})
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&seqlock.Error{Op: "open", Name: "x", Err: seqlock.ErrNotReady}, seqlock.ErrNotReady.Error()},
		{&seqlock.Error{Op: "open", Name: "x", Err: &shmfile.Error{Op: "open", Name: "x", Err: fs.ErrNotExist}}, fs.ErrNotExist.Error()},
		{schemaErr, "syntax error: "},
		{createErr, "invalid argument: capacity -1 outside"},
		{errors.New("schema: not ours"), "schema: not ours"},
	} {
		if got := Cause(tt.err); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Cause(%v) = %q, want it to start with %q", tt.err, got, tt.want)
		}
	}
	if !errors.Is(schemaErr, schema.ErrSyntax) || !strings.HasPrefix(schemaErr.Error(), "schema: syntax error: ") {
		t.Errorf("schema.Parse error = %v, want a schema.ErrSyntax saying \"schema: syntax error: ...\"", schemaErr)
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{&UsageError{Msg: "x"}, 2},
		{fmt.Errorf("wrapped: %w", &UsageError{Msg: "x"}), 2},
		{&Error{Msg: "x"}, 1},
		{errors.New("x"), 1},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{flag.ErrHelp, ""},
		{&Error{Name: "imu", Msg: "no such segment", Hints: []string{"start one"}}, "tool: imu: no such segment\nhint: start one\n"},
		{&Error{Msg: "writing output: broken pipe"}, "tool: writing output: broken pipe\n"},
		{&UsageError{Msg: "missing NAME", Synopsis: "usage: tool NAME\n"}, "tool: missing NAME\nusage: tool NAME\n"},
		{errors.Join(&Error{Name: "a", Msg: "m1"}, &Error{Name: "b", Msg: "m2", Hints: []string{"h2"}}), "tool: a: m1\ntool: b: m2\nhint: h2\n"},
		{errors.New("plain"), "tool: plain\n"},
	} {
		var b strings.Builder
		Report(&b, "tool", tt.err)
		if b.String() != tt.want {
			t.Errorf("Report(%v) wrote %q, want %q", tt.err, b.String(), tt.want)
		}
	}
}

func TestExplain(t *testing.T) {
	wrap := func(err error) error { return &seqlock.Error{Op: "open", Name: "x", Err: err} }
	for _, tt := range []struct {
		err   error
		msg   string // prefix of the explained message
		hints bool
	}{
		{wrap(fmt.Errorf("%w: no space left in /dev/shm for 4096 bytes", shmfile.ErrNoSpace)), "no space for segment: no space left in /dev/shm", true},
		{wrap(fs.ErrPermission), "permission denied", true},
		{wrap(seqlock.ErrTruncated), "segment truncated while mapped", false},
		{wrap(seqlock.ErrNotSeqshm), "not a seqshm segment", false},
		{wrap(shmfile.ErrTooSmall), "not a seqshm segment", false},
		{wrap(shmfile.ErrNotSegment), "not a segment", false},
		{wrap(fmt.Errorf("%w: layout version 1, written by an older seqshm", seqlock.ErrVersion)), "unsupported layout version: layout version 1, written by an older seqshm", true},
		{wrap(fmt.Errorf("%w: slot 1 holds write 3", seqlock.ErrCorrupt)), "corrupt segment: slot 1 holds write 3", true},
		{wrap(seqlock.ErrNotReady), "segment not initialised yet", true},
		{wrap(errors.ErrUnsupported), "not supported on ", false},
		{wrap(errors.New("odd")), "odd", false},
		{wrap(&shmfile.BusyError{PID: 7}), "another publisher (pid 7) is running", true},
		{wrap(&shmfile.BusyError{PID: 1, ForeignPID: true}), "another publisher (pid 1 in another PID namespace", true},
		{wrap(&shmfile.TrustError{UID: os.Geteuid(), Mode: 0o666, Want: 0o600, Why: "w"}), "segment has mode 0666, which grants more than 0600", true},
		{wrap(&shmfile.TrustError{UID: 4242, Mode: 0o666, Want: 0o600, Why: "w"}), "segment belongs to uid 4242 (mode 0666): a publisher adopts only its own segments", true},
		{wrap(&shmfile.TrustError{Path: "/d", Dir: true, UID: 4242, Mode: 0o777, Why: "w"}), "segment directory /d (owner uid 4242, mode 0777) may be written by others", true},
		{wrap(fmt.Errorf("%w: gone", seqlock.ErrRemoved)), "segment was removed while in use", true},
		{wrap(fmt.Errorf("%w: value of 9 bytes, the limit is 8", seqlock.ErrLimit)), "value larger than the reader's limit: value of 9 bytes", true},
		{wrap(seqlock.ErrLapped), "reader lapped by the writer too often", true},
	} {
		got := Explain("x", tt.err)
		var e *Error
		if !errors.As(got, &e) || !strings.HasPrefix(e.Msg, tt.msg) || (len(e.Hints) > 0) != tt.hints || e.Name != "x" || !errors.Is(got, errors.Unwrap(tt.err)) {
			t.Errorf("Explain(%v) = %#v, want an *Error %q (hints: %v) wrapping the error", tt.err, got, tt.msg, tt.hints)
		}
	}
	var usage *UsageError
	if err := Explain("a/b", shmfile.CheckName("a/b")); !errors.As(err, &usage) || ExitCode(err) != 2 {
		t.Errorf("Explain of an invalid name = %v, want a *UsageError", err)
	}
	if e := (&Error{}); Explain("x", e) != e {
		t.Errorf("Explain of an *Error did not return it as it is")
	}
}

func TestRoundDuration(t *testing.T) {
	for _, tt := range []struct {
		in, want time.Duration
	}{
		{999, 999}, {45678, 45700}, {1234567890, 1230 * time.Millisecond}, {-45678, -45700}, {2 * time.Hour, 2 * time.Hour},
	} {
		if got := RoundDuration(tt.in); got != tt.want {
			t.Errorf("RoundDuration(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
