package main

import (
	"context"
	"errors"
	"flag"
	"io"
	iofs "io/fs"
	"strings"
	"sync"
	"time"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// A plan is what one process bridges, over one connection.
type plan struct {
	c       common
	export  natskv.ExportOptions
	single  string                 // export of one segment, by name
	globs   []natskv.ExportMapping // export of the segments matching these
	imports []importJob
	stats   natskv.Stats
}

// An importJob imports one key into the segment name, or the keys
// matching pattern into segments named after them.
type importJob struct {
	name, pattern string
	opts          natskv.ImportOptions
}

// maxSpin bounds -spin: a source that publishes less often than that is
// better served by a sleeping wait (a wake-up costs tens of µs).
const maxSpin = 10 * time.Millisecond

// exportArgs are the flags of export that are not in its plan.
type exportArgs struct {
	key, prefix string
	maxRate     rate
	env         envelope
}

// exportFlags are export's flags, set into p and a.
func exportFlags(p *plan, a *exportArgs) *flag.FlagSet {
	a.maxRate = rate{natskv.DefaultMaxRate}
	fs := flag.NewFlagSet("seqshm-bridge export", flag.ContinueOnError)
	p.c.register(fs)
	fs.StringVar(&a.key, "key", "", "")
	fs.StringVar(&a.prefix, "prefix", "", "")
	fs.Var(&a.maxRate, "max-rate", "")
	fs.Var(&a.env, "envelope", "")
	fs.DurationVar(&p.export.Stale, "stale", natskv.DefaultStale, "")
	fs.DurationVar(&p.export.Heartbeat, "heartbeat", 0, "")
	fs.BoolVar(&p.export.Takeover, "takeover", false, "")
	fs.DurationVar(&p.export.Timeout, "timeout", natskv.DefaultTimeout, "")
	fs.DurationVar(&p.export.Spin, "spin", 0, "")
	return fs
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		p plan
		a exportArgs
	)
	args, err := parse(exportFlags(&p, &a), args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(args) == 0:
		return usageErr("missing segment NAME or GLOB")
	case p.export.Stale <= 0:
		return usageErr("-stale must be positive")
	case p.export.Heartbeat < 0 || p.export.Heartbeat >= p.export.Stale:
		return usageErr("-heartbeat must be positive and below -stale")
	case p.export.Timeout <= 0:
		return usageErr("-timeout must be positive")
	case p.export.Spin < 0 || p.export.Spin > maxSpin:
		return usageErr("-spin must be from 0 to %v", maxSpin)
	}
	p.export.MaxRate, p.export.Format = a.maxRate.maxRate(), a.env.f
	if len(args) == 1 && !isGlob(args[0]) {
		if err := checkName(args[0]); err != nil {
			return err
		}
		if a.prefix != "" {
			return usageErr("-prefix goes with globs; give the key with -key")
		}
		p.single, p.export.Key = args[0], a.key
		if a.key != "" {
			if err := natskv.CheckKey(a.key); err != nil {
				return usageErr("-key %q: %s", a.key, keyRule)
			}
		}
	} else {
		if a.key != "" {
			return usageErr("-key goes with one NAME; with globs, give a key -prefix")
		}
		for _, g := range args {
			m := natskv.ExportMapping{Glob: g, Prefix: a.prefix}
			if err := natskv.CheckExportMapping(m); err != nil {
				return usageErr("%q: not a valid glob or -prefix (%s)", g, keyRule)
			}
			p.globs = append(p.globs, m)
		}
	}
	if err := p.c.check(strings.Join(args, " "), stderr); err != nil {
		return err
	}
	return p.execute(ctx)
}

// importFlags are import's flags, set into p, job, capacity and mode.
func importFlags(p *plan, job *importJob, capacity *cli.Size, mode *cli.Mode) *flag.FlagSet {
	*capacity, *mode = cli.Size{Bytes: seqlock.DefaultCapacity}, cli.Mode(0o600)
	fs := flag.NewFlagSet("seqshm-bridge import", flag.ContinueOnError)
	p.c.register(fs)
	fs.StringVar(&job.opts.Key, "key", "", "")
	fs.StringVar(&job.opts.Strip, "strip", "", "")
	fs.StringVar(&job.opts.Prefix, "prefix", "", "")
	fs.Var(capacity, "capacity", "")
	fs.Var(mode, "mode", "")
	return fs
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		p        plan
		job      importJob
		capacity cli.Size
		mode     cli.Mode
	)
	args, err := parse(importFlags(&p, &job, &capacity, &mode), args, stdout)
	switch {
	case err != nil:
		return err
	case len(args) == 0:
		return usageErr("missing segment NAME or key PATTERN")
	case len(args) > 1:
		return usageErr("too many arguments: %q (one NAME or PATTERN; use run with a config file for more)", args)
	}
	arg := args[0]
	job.opts.Capacity, job.opts.Mode = capacity.Bytes, iofs.FileMode(mode)
	if natskv.IsPattern(arg) {
		if err := natskv.CheckPattern(arg); err != nil {
			return usageErr("key pattern %q: %s", arg, keyRule)
		}
		if job.opts.Key != "" {
			return usageErr("-key goes with one NAME, not with a PATTERN")
		}
		job.pattern = arg
	} else {
		if err := checkName(arg); err != nil {
			return err
		}
		if job.opts.Strip != "" || job.opts.Prefix != "" {
			return usageErr("-strip and -prefix go with a key PATTERN")
		}
		if k := job.opts.Key; k != "" && natskv.CheckKey(k) != nil {
			return usageErr("-key %q: %s", k, keyRule)
		}
		job.name = arg
	}
	p.imports = []importJob{job}
	if err := p.c.check(arg, stderr); err != nil {
		return err
	}
	return p.execute(ctx)
}

// keyRule says what a key is, for usage errors.
const keyRule = "a key is tokens of A-Z a-z 0-9 - _ / = separated by single dots; a pattern may have * tokens and a last > token"

// isGlob reports whether s has path.Match's special characters.
func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// checkName checks a segment name, with cli.Explain's hint on names.
func checkName(name string) error {
	var bad *cli.UsageError
	if err := cli.Explain(name, shmfile.CheckName(name)); errors.As(err, &bad) {
		bad.Synopsis = synopsis
		return bad
	}
	return nil
}

// execute connects and runs the plan's exports and imports until ctx ends
// (nil) or one fails (its error, explained; the others then stop).
func (p *plan) execute(ctx context.Context) error {
	nc, err := natskv.Connect(ctx, p.c.conn)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the server
		}
		return explain(&p.c, err, &p.export)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopDaemon, err := p.daemon(ctx, nc)
	if err != nil {
		return err
	}
	defer stopDaemon()

	p.export.Bucket, p.export.Logf, p.export.Stats = p.c.bucket, p.c.verbose, &p.stats
	var jobs []func(context.Context) error
	if p.single != "" {
		jobs = append(jobs, func(ctx context.Context) error { return natskv.Export(ctx, nc, p.single, &p.export) })
	}
	if len(p.globs) > 0 {
		jobs = append(jobs, func(ctx context.Context) error { return natskv.ExportGlob(ctx, nc, p.globs, &p.export) })
	}
	for _, job := range p.imports {
		o := job.opts
		o.Bucket, o.Logf, o.Stats = p.c.bucket, p.c.verbose, &p.stats
		if job.pattern != "" {
			jobs = append(jobs, func(ctx context.Context) error { return natskv.ImportKeys(ctx, nc, job.pattern, &o) })
		} else {
			jobs = append(jobs, func(ctx context.Context) error { return natskv.Import(ctx, nc, job.name, &o) })
		}
	}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, job := range jobs {
		wg.Go(func() {
			if err := job(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return explain(&p.c, first, &p.export)
}
