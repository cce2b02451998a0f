package main

import (
	"context"
	"flag"
	"io"
	iofs "io/fs"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c    common
		opts natskv.ExportOptions
	)
	fs := flag.NewFlagSet("seqshm-bridge export", flag.ContinueOnError)
	c.register(fs)
	fs.DurationVar(&opts.Stale, "stale", natskv.DefaultStale, "")
	fs.DurationVar(&opts.Heartbeat, "heartbeat", 0, "")
	fs.BoolVar(&opts.Takeover, "takeover", false, "")
	fs.DurationVar(&opts.Timeout, "timeout", natskv.DefaultTimeout, "")
	if err := c.parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case opts.Stale <= 0:
		return usageErr("-stale must be positive")
	case opts.Heartbeat < 0 || opts.Heartbeat >= opts.Stale:
		return usageErr("-heartbeat must be positive and below -stale")
	case opts.Timeout <= 0:
		return usageErr("-timeout must be positive")
	}
	opts.Bucket, opts.Key, opts.Logf = c.bucket, c.key, c.verbose

	nc, err := natskv.Connect(c.conn)
	if err != nil {
		return explain(&c, err, &opts)
	}
	defer nc.Close()
	return explain(&c, natskv.Export(ctx, nc, c.name, &opts), &opts)
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c        common
		capacity = cli.Size{Bytes: seqlock.DefaultCapacity}
		mode     = cli.Mode(0o600)
	)
	fs := flag.NewFlagSet("seqshm-bridge import", flag.ContinueOnError)
	c.register(fs)
	fs.Var(&capacity, "capacity", "")
	fs.Var(&mode, "mode", "")
	if err := c.parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	nc, err := natskv.Connect(c.conn)
	if err != nil {
		return explain(&c, err, nil)
	}
	defer nc.Close()
	err = natskv.Import(ctx, nc, c.name, &natskv.ImportOptions{
		Bucket: c.bucket, Key: c.key, Capacity: capacity.Bytes, Mode: iofs.FileMode(mode), Logf: c.verbose,
	})
	return explain(&c, err, nil)
}
