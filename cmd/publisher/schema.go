package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// parseSchema reads -type and -schema into cfg.schema.
func parseSchema(cfg *config, given map[string]bool) error {
	switch {
	case given["type"] && given["schema"]:
		return usageError("-type and -schema do not go together (a -schema is a struct)")
	case given["schema"] && given["capacity"]:
		return usageError("-schema sets the capacity (the struct's size): no -capacity")
	case given["schema"] && cfg.clock:
		return usageError("-clock publishes text: no -schema")
	case given["type"]:
		k, err := schema.ParseKind(cfg.typ)
		if err != nil || k == schema.Struct {
			return usageError("-type %q is not text, json or bytes (struct values take -schema)", cfg.typ)
		}
		if cfg.clock && k != schema.Text && k != schema.Bytes {
			return usageError("-clock publishes text: no -type %s", k)
		}
		cfg.schema, _ = schema.ForKind(k)
	case given["schema"]:
		text := cfg.schemaText
		if file, ok := strings.CutPrefix(text, "@"); ok {
			b, err := os.ReadFile(file)
			if err != nil {
				return &cli.UsageError{Msg: fmt.Sprintf("-schema %s: %v", text, errors.Unwrap(err)), Synopsis: synopsis}
			}
			text = string(b)
		}
		sc, err := schema.Parse(text)
		if err != nil {
			return &cli.UsageError{Msg: "-schema: " + cli.Cause(err), Synopsis: synopsis,
				Hints: []string{"a schema is TYPE NAME declarations separated by ';' or new lines, such as 'float64 x [m]; float64 y [m]; uint32 status'"}}
		}
		cfg.schema = sc
	}
	return nil
}

// encoder turns a VALUE argument or a line of input into the segment's value:
// for a struct segment, a JSON object giving the fields by name (missing
// ones are zero); for the others the bytes as they are (Publish checks that
// text is UTF-8 and json a JSON document).
type encoder struct {
	name string
	sc   *schema.Schema // nil unless struct
	buf  []byte
}

func newEncoder(p *seqlock.Publisher, name string) *encoder {
	e := &encoder{name: name}
	if p.Kind() == schema.Struct {
		e.sc = p.Schema()
	}
	return e
}

func (e *encoder) encode(what string, v []byte) ([]byte, error) {
	if e.sc == nil {
		return v, nil
	}
	out, err := e.sc.EncodeJSON(e.buf[:0], v)
	if err != nil {
		return nil, &cli.Error{Name: e.name, Err: err,
			Msg:   what + ": " + cli.Cause(err),
			Hints: []string{"a struct segment takes a JSON object of its fields, such as {\"x\":1,\"y\":2}; see its fields with: subscriber -info " + e.name}}
	}
	e.buf = out
	return out, nil
}
