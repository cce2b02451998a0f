package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// create opens the segment for publishing, creating it if needed, and
// explains a failure.
func create(cfg *config) (*seqlock.Publisher, error) {
	sc, given := cfg.schema, cfg.schema != nil
	if !given {
		sc, _ = schema.ForKind(schema.Text) // for a new segment
	}
	p, err := seqlock.Create(cfg.name, &seqlock.Options{
		Capacity:    cfg.capacity.Bytes, // 0 unless given: an existing segment keeps its own
		Mode:        fs.FileMode(cfg.mode),
		NoTimestamp: cfg.noTimestamp,
		Schema:      sc,
		AnySchema:   !given, // without -type or -schema, take a segment over as it is
	})
	if err != nil {
		return nil, explainCreate(cfg, err)
	}
	if cfg.mode != 0 && !p.Created() { // -mode given (0 is not a valid -mode)
		// Taking over keeps the segment's mode: say so rather than
		// ignore -mode silently.
		if mode, err := p.Mode(); err == nil && mode != fs.FileMode(cfg.mode) {
			fmt.Fprintf(cfg.stderr, "publisher: %s: segment exists with mode %04o; -mode %04o not applied\nhint: to change it, remove it first: publisher -rm %s\n",
				cfg.name, uint32(mode), uint32(cfg.mode), cfg.name)
		}
	}
	return p, nil
}

// explainCreate explains the failures of seqlock.Create that are the
// publisher's own; cli.Explain does the rest.
func explainCreate(cfg *config, err error) error {
	name := cfg.name
	var inc *seqlock.IncompatibleError
	switch {
	case errors.As(err, &inc) && inc.SchemaDiffers():
		return &cli.Error{Name: name, Err: err,
			Msg:   "segment holds " + seqlock.DescribeSchema(inc.Schema) + ", not " + seqlock.DescribeSchema(inc.WantSchema),
			Hints: []string{"publish without -type and -schema to publish into it as it is, or remove it with: publisher -rm " + name}}
	case errors.As(err, &inc) && inc.Fingerprint != inc.WantFingerprint:
		return &cli.Error{Name: name, Err: err,
			Msg:   fmt.Sprintf("segment holds typed values (type fingerprint %#x), not raw bytes", inc.Fingerprint),
			Hints: []string{"publish under another name, or remove it with: publisher -rm " + name}}
	case errors.As(err, &inc):
		return &cli.Error{Name: name, Err: err,
			Msg: fmt.Sprintf("segment exists with capacity %d, not %d", inc.Capacity, inc.WantCapacity),
			Hints: []string{
				fmt.Sprintf("omit -capacity to publish with its capacity of %d bytes,", inc.Capacity),
				"or remove it first (publisher -rm " + name + ") and create it anew",
			}}
	case errors.Is(err, fs.ErrNotExist):
		// Create makes a missing segment: what is missing is the directory.
		return &cli.Error{Name: name, Err: err,
			Msg:   "segment directory " + cli.Dir() + " does not exist",
			Hints: []string{"create it, or set SEQSHM_DIR to an existing directory"}}
	}
	return cli.Explain(name, err)
}

// tooLong explains a value that does not fit the segment.
func tooLong(name, what string, capacity int) error {
	return &cli.Error{Name: name, Err: seqlock.ErrTooLarge,
		Msg: fmt.Sprintf("%s is longer than the segment's capacity (%d bytes)", what, capacity),
		Hints: []string{
			"publish to a segment with a larger -capacity, such as 64KiB;",
			"an existing segment keeps its capacity: remove it first with publisher -rm " + name,
		}}
}
