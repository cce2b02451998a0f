package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

// open opens the segment, waiting for it until waitCtx ends if cfg.wait is
// set, and explains a failure.
func open(waitCtx context.Context, cfg *config) (*seqlock.Subscriber, error) {
	var (
		s   *seqlock.Subscriber
		err error
	)
	if cfg.wait > 0 {
		s, err = seqlock.OpenWait(waitCtx, cfg.name, cfg.openOptions())
	} else {
		s, err = seqlock.Open(cfg.name, cfg.openOptions())
	}
	if err != nil {
		return nil, explain(cfg, err)
	}
	return s, nil
}

// openWithin is open bounded by -wait (if given) from now.
func openWithin(ctx context.Context, cfg *config) (*seqlock.Subscriber, error) {
	waitCtx, cancel := waitContext(ctx, cfg)
	defer cancel()
	return open(waitCtx, cfg)
}

// explain explains the failures that are the subscriber's own (no such
// segment, no value yet, a -wait that ran out); cli.Explain does the rest.
func explain(cfg *config, err error) error {
	name := cfg.name
	waited := ""
	if errors.Is(err, context.DeadlineExceeded) {
		waited = fmt.Sprintf(" (waited %v)", cfg.wait)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		start := "start a publisher (publisher " + name + " VALUE), or wait for one with -wait 10s"
		if waited != "" {
			start = "start a publisher: publisher " + name + " VALUE"
		}
		return &cli.Error{Name: name, Msg: "no such segment" + waited, Err: err, Hints: []string{
			start,
			"list segments with: subscriber -list (they are in " + cli.Dir() + ")",
		}}
	case errors.Is(err, seqlock.ErrNoValue), waited != "" && !errors.Is(err, seqlock.ErrNotReady):
		hint := "wait for one with -wait 10s, or print each one as it comes with -follow"
		if waited != "" {
			hint = "is its publisher running? see: subscriber -info " + name
		}
		return &cli.Error{Name: name, Msg: "no value published yet" + waited, Err: err, Hints: []string{hint}}
	}
	return cli.Explain(name, err)
}
