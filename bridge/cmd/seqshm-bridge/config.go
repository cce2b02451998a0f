package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"time"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

// A config is the JSON config file of "seqshm-bridge run"
// (docs/bridge.md, "Config file"). Unknown fields are refused, so that a
// misspelt one is not silently ignored.
type config struct {
	Server   string `json:"server"`
	Creds    string `json:"creds"`
	User     string `json:"user"`
	Password string `json:"password"`
	TLSCA    string `json:"tlsca"`
	TLSCert  string `json:"tlscert"`
	TLSKey   string `json:"tlskey"`
	Bucket   string `json:"bucket"`
	MaxRate  string `json:"max_rate"`
	Envelope string `json:"envelope"`
	Stale    string `json:"stale"`
	Spin     string `json:"spin"`
	Health   string `json:"health"`
	Export   []struct {
		Segments  string `json:"segments"`
		KeyPrefix string `json:"key_prefix"`
	} `json:"export"`
	Import []struct {
		Keys       string `json:"keys"`
		Strip      string `json:"strip"`
		NamePrefix string `json:"name_prefix"`
		Capacity   string `json:"capacity"`
		Mode       string `json:"mode"`
	} `json:"import"`
}

// runFlags are run's flags (those of the connection and the daemon), set
// into p.
func runFlags(p *plan) *flag.FlagSet {
	fs := flag.NewFlagSet("seqshm-bridge run", flag.ContinueOnError)
	p.c.register(fs)
	return fs
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p plan
	fs := runFlags(&p)
	args, err := parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(args) != 1:
		return usageErr("want one CONFIG file, got %d arguments", len(args))
	}
	if err := p.load(args[0], fs); err != nil {
		return err
	}
	if err := p.c.check(args[0], stderr); err != nil {
		return err
	}
	return p.execute(ctx)
}

// load reads the config file into p. Flags given on the command line win
// over the file.
func (p *plan) load(file string, fs *flag.FlagSet) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return &cli.Error{Name: file, Msg: "cannot read config: " + cli.Cause(err), Err: err}
	}
	bad := func(format string, a ...any) error {
		return &cli.Error{Name: file, Msg: fmt.Sprintf(format, a...),
			Hints: []string{"see docs/bridge.md, \"Config file\""}}
	}
	var c config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return bad("invalid config: %v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]struct {
		dst *string
		val string
	}{
		"server": {&p.c.conn.URL, c.Server}, "creds": {&p.c.conn.Creds, c.Creds},
		"user": {&p.c.conn.User, c.User}, "password": {&p.c.conn.Password, c.Password},
		"tlsca": {&p.c.conn.TLSCA, c.TLSCA}, "tlscert": {&p.c.conn.TLSCert, c.TLSCert},
		"tlskey": {&p.c.conn.TLSKey, c.TLSKey}, "bucket": {&p.c.bucket, c.Bucket},
		"health": {&p.c.health, c.Health},
	} {
		if v.val != "" && !set[name] {
			*v.dst = v.val
		}
	}
	r := rate{natskv.DefaultMaxRate}
	if c.MaxRate != "" {
		if err := r.Set(c.MaxRate); err != nil {
			return bad("max_rate: %v", err)
		}
	}
	var env envelope
	if c.Envelope != "" {
		if err := env.Set(c.Envelope); err != nil {
			return bad("envelope: %v", err)
		}
	}
	p.export.MaxRate, p.export.Format = r.maxRate(), env.f
	if c.Stale != "" {
		if p.export.Stale, err = time.ParseDuration(c.Stale); err != nil || p.export.Stale <= 0 {
			return bad("stale %q: want a positive duration such as 10s", c.Stale)
		}
	}
	if c.Spin != "" {
		if p.export.Spin, err = time.ParseDuration(c.Spin); err != nil || p.export.Spin < 0 || p.export.Spin > maxSpin {
			return bad("spin %q: want a duration from 0 to %v, such as 200us", c.Spin, maxSpin)
		}
	}
	for i, e := range c.Export {
		m := natskv.ExportMapping{Glob: e.Segments, Prefix: e.KeyPrefix}
		if e.Segments == "" || natskv.CheckExportMapping(m) != nil {
			return bad("export[%d]: segments %q, key_prefix %q: want a glob and a key prefix (%s)", i, e.Segments, e.KeyPrefix, keyRule)
		}
		p.globs = append(p.globs, m)
	}
	for i, im := range c.Import {
		job := importJob{opts: natskv.ImportOptions{Strip: im.Strip, Prefix: im.NamePrefix, Capacity: seqlock.DefaultCapacity, Mode: 0o600}}
		if natskv.CheckPattern(im.Keys) != nil {
			return bad("import[%d]: keys %q: %s", i, im.Keys, keyRule)
		}
		job.pattern = im.Keys
		if im.Capacity != "" {
			var s cli.Size
			if err := s.Set(im.Capacity); err != nil {
				return bad("import[%d]: capacity: %v", i, err)
			}
			job.opts.Capacity = s.Bytes
		}
		if im.Mode != "" {
			var m cli.Mode
			if err := m.Set(im.Mode); err != nil {
				return bad("import[%d]: mode: %v", i, err)
			}
			job.opts.Mode = iofs.FileMode(m)
		}
		p.imports = append(p.imports, job)
	}
	if len(p.globs) == 0 && len(p.imports) == 0 {
		return bad("nothing to do: no export and no import mappings")
	}
	return nil
}
