package main

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// publisherMsg names the publisher holding a segment: "publisher (pid N)".
func publisherMsg(b *shmfile.BusyError) string {
	switch {
	case b.PID == 0:
		return "a publisher"
	case b.ForeignPID:
		return fmt.Sprintf("publisher (pid %d in another PID namespace)", b.PID)
	}
	return fmt.Sprintf("publisher (pid %d)", b.PID)
}

// remove removes each named segment. It goes on after a failure, and
// returns the failures joined.
func remove(names []string) error {
	var errs []error
	for _, name := range names {
		if err := seqlock.Remove(name); err != nil {
			errs = append(errs, explainRemove(name, err))
		}
	}
	return errors.Join(errs...)
}

func explainRemove(name string, err error) error {
	var busy *shmfile.BusyError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &cli.Error{Name: name, Msg: "no such segment", Err: err,
			Hints: []string{"list segments with: subscriber -list"}}
	case errors.As(err, &busy):
		hint := "stop the publisher first"
		switch {
		case busy.PID == 0 || busy.ForeignPID:
		case runtime.GOOS == "windows":
			hint += fmt.Sprintf(" (taskkill /F /PID %d)", busy.PID)
		default:
			hint += fmt.Sprintf(" (kill %d)", busy.PID)
		}
		return &cli.Error{Name: name, Msg: publisherMsg(busy) + " is running; not removed", Err: err, Hints: []string{hint}}
	}
	err = cli.Explain(name, err)
	var e *cli.Error
	if errors.As(err, &e) {
		e.Msg += "; not removed"
	}
	return err
}
