package exporter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/seqshm/seqshm/schema"
)

// fieldLabels turns the numbers of a segment's values into seqshm_value
// samples, keeping the label set of each field between scrapes.
type fieldLabels struct {
	seg *dto.LabelPair // segment="NAME"

	units   map[string]string   // struct field path → unit
	ordered [][]*dto.LabelPair  // struct: the label sets in the order Numbers visits them
	byPath  map[string]*pathSet // json, text: the label sets by field path
	gen     uint64              // decodes so far, to drop a path seen twice in one value
	path    []byte              // scratch for json paths

	// The state of one decode, for the callbacks.
	onNumber func(string, []int, float64)
	onPath   func([]byte, float64)
	out      *samples
	sent     int
	max      int
}

type pathSet struct {
	labels []*dto.LabelPair
	gen    uint64 // the decode that last sent it
}

// reset forgets the label sets, for values of another schema.
func (f *fieldLabels) reset(sch *schema.Schema) {
	f.units, f.ordered, f.byPath = nil, nil, nil
	if sch.Kind() == schema.Struct {
		f.units = map[string]string{}
		addUnits(f.units, "", sch.Fields())
	}
}

func addUnits(units map[string]string, prefix string, fields []schema.Field) {
	for _, fd := range fields {
		if fd.Type == schema.Nested {
			addUnits(units, prefix+fd.Name+".", fd.Fields)
		} else if fd.Unit != "" {
			units[prefix+fd.Name] = fd.Unit
		}
	}
}

// decode sends a seqshm_value sample for each number in value, at most
// o.MaxFields. It returns an error if the value is not what its kind says
// (a struct of the wrong size, JSON that does not parse, text that is not
// UTF-8).
func (f *fieldLabels) decode(sch *schema.Schema, o *Options, value []byte, out *samples) error {
	if f.onNumber == nil { // made once: a func value made at each call would be allocated each time
		f.onNumber, f.onPath = f.number, f.pathNumber
	}
	f.gen++
	f.out, f.sent, f.max = out, 0, o.MaxFields
	defer func() { f.out = nil }()
	switch sch.Kind() {
	case schema.Struct:
		return sch.Numbers(value, f.onNumber)
	case schema.JSON:
		if !json.Valid(value) {
			return fmt.Errorf("%w: value is not valid JSON", schema.ErrValue)
		}
		f.path = walkJSON(value, f.path[:0], f.onPath)
	case schema.Text:
		if !utf8.Valid(value) {
			return fmt.Errorf("%w: text value is not UTF-8", schema.ErrValue)
		}
		parseText(value, f.onPath)
	}
	return nil
}

func (f *fieldLabels) send(labels []*dto.LabelPair, v float64) {
	f.out.send(descValue, labels, v, false)
	f.sent++
}

// number sends a number of a struct value. Numbers visits the numbers of
// a schema in the same order every time: the sent-th one has the label set
// ordered[sent].
func (f *fieldLabels) number(name string, index []int, v float64) {
	if f.sent >= f.max {
		return
	}
	if f.sent == len(f.ordered) {
		f.ordered = append(f.ordered, f.valueLabels(name, indexLabel(index), f.units[name]))
	}
	f.send(f.ordered[f.sent], v)
}

// pathNumber sends a number of a json or text value.
func (f *fieldLabels) pathNumber(path []byte, v float64) {
	if f.sent >= f.max {
		return
	}
	p := f.byPath[string(path)]
	if p == nil {
		if f.byPath == nil || len(f.byPath) >= 4*f.max {
			// Keys that change from value to value would grow the map
			// for ever: start again.
			f.byPath = make(map[string]*pathSet)
		}
		p = &pathSet{labels: f.valueLabels(string(path), "", "")}
		f.byPath[string(path)] = p
	}
	if p.gen == f.gen {
		return // a key seen twice in one value: the first counts
	}
	p.gen = f.gen
	f.send(p.labels, v)
}

// valueLabels returns the label set of seqshm_value for a field, sorted by
// label name: field, index, segment, unit. index and unit are left out if
// "". A path "" (a value that is one number) is the field "value".
func (f *fieldLabels) valueLabels(path, index, unit string) []*dto.LabelPair {
	if path == "" {
		path = "value"
	}
	path = strings.ToValidUTF8(path, "\uFFFD")
	ls := make([]*dto.LabelPair, 0, 4)
	ls = append(ls, labelPair(&lnField, path))
	if index != "" {
		ls = append(ls, labelPair(&lnIndex, index))
	}
	ls = append(ls, f.seg)
	if unit != "" {
		ls = append(ls, labelPair(&lnUnit, unit))
	}
	return ls
}

// indexLabel is the index label of a struct number: its array indices
// along the path, separated by commas.
func indexLabel(index []int) string {
	var b []byte
	for i, n := range index {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}
