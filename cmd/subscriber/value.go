package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// valueJSON is a value as -json prints it.
type valueJSON struct {
	Name        string          `json:"name"`
	Seq         uint64          `json:"seq"`
	Time        time.Time       `json:"time,omitzero"`          // publish time; zero if unstamped
	Field       string          `json:"field,omitempty"`        // with -field
	Value       json.RawMessage `json:"value,omitempty"`        // text as a string, json and struct values as they are
	ValueBase64 []byte          `json:"value_base64,omitempty"` // bytes that are not UTF-8
}

// printer prints values of one segment as cfg asks: text, json and bytes
// as they are, struct values as logfmt (x=1 y=2), or -json objects; with
// -field, one field of a struct value.
type printer struct {
	cfg   *config
	sc    *schema.Schema
	field *schema.Accessor // -field, resolved in sc
	out   *bufio.Writer
	enc   *json.Encoder // of -json values, to out
	buf   []byte        // the decoded value
}

// newPrinter returns the printer to out for values described by sc.
func newPrinter(cfg *config, sc *schema.Schema, out *bufio.Writer) (*printer, error) {
	p := &printer{cfg: cfg, sc: sc, out: out, enc: json.NewEncoder(out)}
	if cfg.field == "" {
		return p, nil
	}
	if sc.Kind() != schema.Struct {
		return nil, &cli.Error{Name: cfg.name, Msg: fmt.Sprintf("-field %s: the segment holds %s values, which have no fields", cfg.field, sc.Kind()),
			Hints: []string{"-field picks a field of a struct segment; see what it holds with: subscriber -info " + cfg.name}}
	}
	a, err := sc.Lookup(cfg.field)
	if err != nil {
		return nil, &cli.Error{Name: cfg.name, Err: err, Msg: "-field " + cfg.field + ": no such field",
			Hints: []string{"its fields: " + sc.String()}}
	}
	p.field = a
	return p, nil
}

// print prints one value and a newline.
func (p *printer) print(m seqlock.Meta, value []byte) error {
	var err error
	b := p.buf[:0]
	if !p.cfg.json {
		// Text, json and bytes go out as they are, without a copy.
		switch {
		case p.field != nil:
			p.buf, err = p.field.AppendText(b, value)
			value = p.buf
		case p.sc.Kind() == schema.Struct:
			p.buf, err = p.sc.AppendLogfmt(b, value)
			value = p.buf
		}
		if err != nil {
			return p.decodeError(err)
		}
		p.out.Write(value)
		return p.out.WriteByte('\n') // bufio keeps a failed Write's error
	}
	v := valueJSON{Name: p.cfg.name, Seq: m.Seq, Time: m.Time(), Field: p.cfg.field}
	switch {
	case p.field != nil:
		b, err = p.field.AppendJSON(b, value)
	case p.sc.Kind() == schema.Struct:
		b, err = p.sc.AppendJSON(b, value)
	case p.sc.Kind() == schema.JSON && json.Valid(value):
		b = append(b, value...)
	case utf8.Valid(value):
		b, err = json.Marshal(string(value))
	default:
		v.ValueBase64 = value
	}
	if err != nil {
		return p.decodeError(err)
	}
	p.buf = b
	if v.ValueBase64 == nil {
		v.Value = b
	}
	return p.enc.Encode(v)
}

func (p *printer) decodeError(err error) error {
	return &cli.Error{Name: p.cfg.name, Err: err, Msg: "cannot decode the value: " + cli.Cause(err)}
}

// readOnce prints the latest value.
func readOnce(ctx context.Context, cfg *config, out *bufio.Writer) error {
	waitCtx, cancel := waitContext(ctx, cfg)
	defer cancel()
	s, err := open(waitCtx, cfg)
	if err != nil {
		return interrupted(ctx, cfg, err)
	}
	defer func() { s.Close() }()
	for cfg.wait > 0 {
		_, err := s.Wait(waitCtx, 0)
		if errors.Is(err, seqlock.ErrRemoved) {
			// Removed while we waited (and perhaps created anew): wait
			// for the new segment's first value, as -follow does.
			if s, err = reopen(waitCtx, cfg, s); err != nil {
				return interrupted(ctx, cfg, explain(cfg, err))
			}
			continue
		}
		if err != nil {
			return interrupted(ctx, cfg, explain(cfg, err))
		}
		break
	}
	pr, err := newPrinter(cfg, s.Schema(), out)
	if err != nil {
		return err
	}
	value, m, err := s.ReadValue(nil)
	if err != nil {
		return explain(cfg, err)
	}
	return pr.print(m, value)
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
	pr, err := newPrinter(cfg, s.Schema(), out)
	if err != nil {
		return err
	}
	for n := 0; cfg.count == 0 || n < cfg.count; {
		_, err := s.Wait(ctx, last)
		if errors.Is(err, seqlock.ErrRemoved) {
			if s, err = reopen(ctx, cfg, s); err != nil {
				return stopped(ctx, explain(cfg, err))
			}
			last = 0
			if pr, err = newPrinter(cfg, s.Schema(), out); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return stopped(ctx, explain(cfg, err))
		}
		value, m, err := s.ReadValue(buf)
		if errors.Is(err, seqlock.ErrLapped) {
			// The writer overtook every attempt of this read (it already
			// retried); that value is gone: take the next.
			continue
		}
		if err != nil {
			return explain(cfg, err)
		}
		buf = value
		if m.Seq <= last {
			continue
		}
		last = m.Seq
		n++
		if err := pr.print(m, value); err != nil {
			var e *cli.Error
			if errors.As(err, &e) {
				return err
			}
			return writeError(err)
		}
		if err := out.Flush(); err != nil {
			return writeError(err)
		}
	}
	return nil
}

// reopen follows a segment that was removed, or removed and created anew:
// it waits for the name to exist again, closes old and returns the new
// Subscriber; it fails (keeping old) when OpenWait does.
func reopen(ctx context.Context, cfg *config, old *seqlock.Subscriber) (*seqlock.Subscriber, error) {
	s, err := seqlock.OpenWait(ctx, cfg.name, cfg.openOptions())
	if err != nil {
		return old, err
	}
	old.Close()
	return s, nil
}

// waitContext returns the context that bounds -wait.
func waitContext(ctx context.Context, cfg *config) (context.Context, context.CancelFunc) {
	if cfg.wait > 0 {
		return context.WithTimeout(ctx, cfg.wait)
	}
	return context.WithCancel(ctx)
}

// interrupted is stopped for a wait that has not printed its value yet: a
// signal then is a failure (exit 130 for SIGINT, 143 for SIGTERM), so that
// x=$(subscriber -wait 10s NAME) can tell it from a value.
func interrupted(ctx context.Context, cfg *config, err error) error {
	if sig := cli.Interrupted(ctx); sig != nil {
		return &cli.Error{Name: cfg.name, Msg: "interrupted (" + sig.Sig.String() + ") before a value came", Err: sig}
	}
	return stopped(ctx, err)
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
