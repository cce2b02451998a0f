package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

// valueJSON is a value as -json prints it.
type valueJSON struct {
	Name        string    `json:"name"`
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time,omitzero"` // publish time; zero if unstamped
	Value       *string   `json:"value,omitempty"`
	ValueBase64 []byte    `json:"value_base64,omitempty"` // when not UTF-8
}

// printValue prints one value: its bytes and a newline, or a JSON object.
func printValue(out *bufio.Writer, cfg *config, m seqlock.Meta, value []byte) error {
	if !cfg.json {
		out.Write(value)
		return out.WriteByte('\n')
	}
	v := valueJSON{Name: cfg.name, Seq: m.Seq, Time: m.Time()}
	if utf8.Valid(value) {
		s := string(value)
		v.Value = &s
	} else {
		v.ValueBase64 = value
	}
	return json.NewEncoder(out).Encode(v)
}

// maxLappedReads bounds the retries of a read lapped by the writer; each
// is itself many attempts, so only a writer gone mad exhausts them.
const maxLappedReads = 100

// read reads the newest value into buf, growing it as needed up to the
// -max-size limit, and retrying a read lapped by a fast writer. It returns
// the value, whose backing array the caller passes back in next time.
func read(s *seqlock.Subscriber, buf []byte) (seqlock.Meta, []byte, error) {
	for i := 0; ; i++ {
		value, m, err := s.ReadValue(buf)
		if errors.Is(err, seqlock.ErrLapped) && i < maxLappedReads {
			continue
		}
		return m, value, err
	}
}

// readOnce prints the latest value.
func readOnce(ctx context.Context, cfg *config, out *bufio.Writer) error {
	waitCtx, cancel := waitContext(ctx, cfg)
	defer cancel()
	s, err := open(waitCtx, cfg)
	if err != nil {
		return stopped(ctx, err)
	}
	defer s.Close()
	if cfg.wait > 0 {
		if _, err := s.Wait(waitCtx, 0); err != nil {
			return stopped(ctx, explain(cfg, err))
		}
	}
	m, value, err := read(s, nil)
	if err != nil {
		return explain(cfg, err)
	}
	return printValue(out, cfg, m, value)
}

// follow prints the latest value and each new one until ctx ends, or
// cfg.count values are out. It blocks in Subscriber.Wait between values,
// with one context for all of them (the Subscriber keeps its cancel hook).
// When the segment is removed, or removed and created anew, it waits for
// the name to exist again and follows the new segment.
func follow(ctx context.Context, cfg *config, out *bufio.Writer) error {
	s, err := openWithin(ctx, cfg)
	if err != nil {
		return stopped(ctx, err)
	}
	defer func() { s.Close() }()
	var (
		buf  []byte
		last uint64
	)
	for n := 0; cfg.count == 0 || n < cfg.count; {
		_, err := s.Wait(ctx, last)
		if errors.Is(err, seqlock.ErrRemoved) {
			ns, err := seqlock.OpenWait(ctx, cfg.name, cfg.openOptions())
			if err != nil {
				return stopped(ctx, explain(cfg, err))
			}
			s.Close()
			s, last = ns, 0
			continue
		}
		if err != nil {
			return stopped(ctx, explain(cfg, err))
		}
		m, value, err := read(s, buf)
		if err != nil {
			return explain(cfg, err)
		}
		buf = value
		if m.Seq <= last {
			continue
		}
		last = m.Seq
		n++
		if err := printValue(out, cfg, m, value); err != nil {
			return writeError(err)
		}
		if err := out.Flush(); err != nil {
			return writeError(err)
		}
	}
	return nil
}

// waitContext returns the context that bounds -wait.
func waitContext(ctx context.Context, cfg *config) (context.Context, context.CancelFunc) {
	if cfg.wait > 0 {
		return context.WithTimeout(ctx, cfg.wait)
	}
	return context.WithCancel(ctx)
}

// stopped returns nil if ctx ended, for a stop by signal is clean, and err
// otherwise.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func writeError(err error) error {
	return &cli.Error{Msg: "writing output: " + err.Error(), Err: err}
}
