package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

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
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &cli.Error{Name: name, Msg: "no such segment", Err: err,
			Hints: []string{"list segments with: subscriber -list"}}
	case errors.Is(err, seqlock.ErrBusy):
		pid := livePID(name)
		if pid == 0 {
			return &cli.Error{Name: name, Msg: "a publisher is running; not removed", Err: err,
				Hints: []string{"stop the publisher first"}}
		}
		return &cli.Error{Name: name, Msg: fmt.Sprintf("publisher (pid %d) is running; not removed", pid), Err: err,
			Hints: []string{fmt.Sprintf("stop the publisher first (kill %d)", pid)}}
	}
	err = cli.Explain(name, err)
	var e *cli.Error
	if errors.As(err, &e) {
		e.Msg += "; not removed"
	}
	return err
}
