package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// publishOnce publishes cfg.value and closes the segment; the value stays.
func publishOnce(cfg *config) (err error) {
	p, err := create(cfg)
	if err != nil {
		return err
	}
	defer func() { err = closePublisher(p, err) }()
	value, err := newEncoder(p, cfg.name).encode("VALUE", []byte(*cfg.value))
	if err != nil {
		return err
	}
	if len(value) > p.Capacity() {
		return tooLong(cfg.name, fmt.Sprintf("VALUE (%d bytes)", len(value)), p.Capacity())
	}
	if _, err := p.Publish(value); err != nil {
		return explainPublish(p, err)
	}
	return nil
}

// explainPublish explains a failed Publish: a value that is not what the
// segment holds gets a hint on the kinds.
func explainPublish(p *seqlock.Publisher, err error) error {
	if !errors.Is(err, seqlock.ErrInvalid) {
		return cli.Explain(p.Name(), err)
	}
	hint := "a text segment takes UTF-8; publish other bytes into a segment made with -type bytes"
	if p.Kind() == schema.JSON {
		hint = "a json segment takes one JSON document a value, such as {\"temp\":21.5}"
	}
	return &cli.Error{Name: p.Name(), Msg: cli.Cause(err), Err: err, Hints: []string{hint}}
}

// removed explains a segment deleted under the publisher.
func removed(name string) error {
	return cli.Explain(name, &seqlock.Error{Op: "publish", Name: name, Err: seqlock.ErrRemoved})
}

// dropUnused removes the segment if err ended the publisher before its
// first value and the segment is one it created: an empty segment left
// behind would make a retry with another -capacity or -schema fail.
func dropUnused(p *seqlock.Publisher, err error) error {
	if err == nil || !p.Created() || p.Seq() != 0 {
		return err
	}
	if rerr := p.Remove(); rerr != nil && !errors.Is(rerr, seqlock.ErrRemoved) {
		return errors.Join(err, rerr)
	}
	return err // removed, or already removed (and perhaps made anew) by another
}

// closePublisher drops p's segment if err left it unused (dropUnused),
// closes p, marking the segment closed cleanly, and joins a failure of
// Close to err.
func closePublisher(p *seqlock.Publisher, err error) error {
	err = dropUnused(p, err)
	if cerr := p.Close(); cerr != nil && err == nil {
		return cli.Explain(p.Name(), cerr)
	}
	return err
}

// A line is one line of input, numbered from 1, or the error that ended
// the input.
type line struct {
	n     int
	value []byte
	err   error
}

// errLineTooLong is returned by readLine for a line longer than max.
var errLineTooLong = errors.New("line too long")

// publishLines publishes each line of stdin until end of input or until
// ctx ends.
func publishLines(ctx context.Context, cfg *config, stdin io.Reader) (err error) {
	p, err := create(cfg)
	if err != nil {
		return err
	}
	defer func() { err = closePublisher(p, err) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader below, unless it is blocked in a read
	enc := newEncoder(p, cfg.name)

	// The read runs in its own goroutine so that a signal stops publisher
	// while it waits for input; the goroutine ends with the process.
	lines := make(chan line)
	go func() {
		r := bufio.NewReaderSize(stdin, min(p.Capacity()+2, 64<<10))
		var buf []byte
		for n := 1; ; n++ {
			var err error
			buf, err = readLine(r, buf, p.Capacity())
			select {
			case lines <- line{n: n, value: bytes.Clone(buf), err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.Removed():
			return removed(cfg.name)
		case l := <-lines:
			switch {
			case l.err == io.EOF:
				return nil
			case errors.Is(l.err, errLineTooLong):
				return tooLong(cfg.name, fmt.Sprintf("line %d", l.n), p.Capacity())
			case l.err != nil:
				return &cli.Error{Name: cfg.name, Msg: fmt.Sprintf("reading line %d: %v", l.n, l.err), Err: l.err}
			}
			value, err := enc.encode(fmt.Sprintf("line %d", l.n), l.value)
			if err != nil {
				return err
			}
			if _, err := p.Publish(value); err != nil {
				return explainPublish(p, err)
			}
		}
	}
}

// readLine reads the next line from r into buf[:0] and returns it without
// its "\n" or "\r\n". A last line without "\n" is a line; after it readLine
// returns io.EOF. A line longer than max bytes is errLineTooLong, found
// without reading more than max+2 bytes of it.
func readLine(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	buf = buf[:0]
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > max+2 {
			return buf, errLineTooLong
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			break
		}
		if err != nil {
			return buf, err
		}
		break
	}
	// Only "\n" and "\r\n" end a line: a "\r" elsewhere, even last, is data.
	if b, ok := bytes.CutSuffix(buf, []byte("\n")); ok {
		buf = bytes.TrimSuffix(b, []byte("\r"))
	}
	if len(buf) > max {
		return buf, errLineTooLong
	}
	return buf, nil
}
