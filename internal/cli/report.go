package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// An Error is a failure explained for a person: what went wrong with which
// segment, and what to do about it. It wraps the error it explains, so
// errors.Is still sees the library's sentinels.
type Error struct {
	Name  string   // the segment concerned; "" if none
	Msg   string   // what went wrong, lowercase, no trailing period
	Hints []string // what to do, one line each
	Err   error    // the error explained; may be nil
}

func (e *Error) Error() string {
	if e.Name == "" {
		return e.Msg
	}
	return e.Name + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// A UsageError is a mistake on the command line: exit code 2.
type UsageError struct {
	Msg      string   // what is wrong
	Hints    []string // what to do, one line each
	Synopsis string   // the "usage: ..." lines of the tool, printed last
}

func (e *UsageError) Error() string { return e.Msg }

// ExitCode returns the process exit code for the result of a tool's run:
// 0 for nil and flag.ErrHelp, 2 for a *UsageError, 128 plus the signal's
// number for a *Signal (an interrupted wait), 1 for anything else.
func ExitCode(err error) int {
	var (
		usage *UsageError
		sig   *Signal
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	case errors.As(err, &sig):
		return sig.code()
	}
	return 1
}

// Report writes err to w (stderr) for a person: "TOOL: NAME: message"
// followed by its "hint: " lines, or for a usage error the message and the
// tool's synopsis. Errors joined with errors.Join are reported one after
// the other. It writes nothing for nil and flag.ErrHelp.
func Report(w io.Writer, tool string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, err := range joined.Unwrap() {
			Report(w, tool, err)
		}
		return
	}
	var (
		usage *UsageError
		e     *Error
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		fmt.Fprintf(w, "%s: %s\n", tool, usage.Msg)
		for _, h := range usage.Hints {
			fmt.Fprintf(w, "hint: %s\n", h)
		}
		if usage.Synopsis != "" {
			fmt.Fprint(w, usage.Synopsis)
		}
	case errors.As(err, &e):
		fmt.Fprintf(w, "%s: %s\n", tool, e.Error())
		for _, h := range e.Hints {
			fmt.Fprintf(w, "hint: %s\n", h)
		}
	default:
		fmt.Fprintf(w, "%s: %v\n", tool, err)
	}
}
