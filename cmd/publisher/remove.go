package main

import (
	"errors"
	"io/fs"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
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
	var busy *shmfile.BusyError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &cli.Error{Name: name, Msg: "no such segment", Err: err,
			Hints: []string{"list segments with: subscriber -list"}}
	case errors.As(err, &busy):
		who, hint := "a publisher", "stop the publisher first"
		if busy.PID != 0 {
			who = "publisher"
		}
		if kill := cli.KillCommand(busy); kill != "" {
			hint += " (" + kill + ")"
		}
		return &cli.Error{Name: name, Msg: cli.Running(busy, who) + "; not removed", Err: err, Hints: []string{hint}}
	}
	err = cli.Explain(name, err)
	var e *cli.Error
	if errors.As(err, &e) {
		e.Msg += "; not removed"
	}
	return err
}
