package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// primitives maps the type names of the text form to types: the ROS .msg
// primitive names, and "byte" (ROS 2's octet) for uint8.
var primitives = map[string]Type{
	"bool": Bool, "int8": Int8, "int16": Int16, "int32": Int32, "int64": Int64,
	"uint8": Uint8, "uint16": Uint16, "uint32": Uint32, "uint64": Uint64,
	"float32": Float32, "float64": Float64, "byte": Uint8, "char": Char,
}

// noFixedSize explains the ROS types that have no fixed size.
var noFixedSize = map[string]string{
	"string":   "string has no fixed size: use char[N]",
	"wstring":  "wstring has no fixed size: use char[N]",
	"time":     "time is not a primitive here: use int64 (Unix nanoseconds) or struct{int32 sec; uint32 nsec}",
	"duration": "duration is not a primitive here: use int64 (nanoseconds) or struct{int32 sec; int32 nsec}",
	"int":      "int has a platform-dependent size: use int32 or int64",
	"uint":     "uint has a platform-dependent size: use uint32 or uint64",
	"float":    "use float32",
	"double":   "use float64",
}

// Parse parses the text form of a schema (see the package documentation):
// "bytes", "text" or "json" alone, or field declarations such as
// "float64 x [m]; float64 y [m]; float64[9] cov".
func Parse(text string) (_ *Schema, err error) {
	defer wrapErr(&err)
	if len(text) > MaxTextSize {
		return nil, fmt.Errorf("%w: text longer than %d bytes", ErrSyntax, MaxTextSize)
	}
	if k, ok := loneKind(text); ok {
		return ForKind(k)
	}
	p := parser{s: text, line: 1, lineStart: 0}
	fields, err := p.decls(1, false)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrSyntax)
	}
	return newStruct(fields, ErrInvalid)
}

// loneKind reports whether text, comments and spaces aside, is "bytes",
// "text" or "json".
func loneKind(text string) (Kind, bool) {
	var words []string
	for line := range strings.Lines(text) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		words = append(words, strings.Fields(line)...)
		if len(words) > 1 {
			return 0, false
		}
	}
	if len(words) == 1 {
		for k, name := range kindNames[:Struct] {
			if words[0] == name {
				return Kind(k), true
			}
		}
	}
	return 0, false
}

type parser struct {
	s               string
	pos             int
	line, lineStart int
	count           int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: line %d col %d: %s", ErrSyntax, p.line, p.pos-p.lineStart+1, fmt.Sprintf(format, args...))
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// space skips blanks and a comment, not newlines.
func (p *parser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\r':
			p.pos++
		case '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// separators skips blanks, comments, newlines and semicolons.
func (p *parser) separators() {
	for {
		p.space()
		switch p.peek() {
		case '\n':
			p.pos++
			p.line++
			p.lineStart = p.pos
		case ';':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

// decls parses declarations up to the end of the text, or up to and
// including a "}" if inner.
func (p *parser) decls(depth int, inner bool) ([]Field, error) {
	var fields []Field
	for {
		p.separators()
		if p.eof() {
			if inner {
				return nil, p.errorf("missing } at end of struct")
			}
			return fields, nil
		}
		if p.peek() == '}' {
			if !inner {
				return nil, p.errorf("unexpected }")
			}
			p.pos++
			if len(fields) == 0 {
				return nil, p.errorf("struct has no fields")
			}
			return fields, nil
		}
		p.count++
		if p.count > MaxFields {
			return nil, p.errorf("more than %d fields", MaxFields)
		}
		f, err := p.decl(depth)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
		p.space()
		switch c := p.peek(); {
		case p.eof(), c == ';', c == '\n', c == '}' && inner:
		default:
			return nil, p.errorf("unexpected %q after field %s: want ; or a new line", c, f.Name)
		}
	}
}

func (p *parser) decl(depth int) (Field, error) {
	var f Field
	tname := p.word()
	switch {
	case tname == "":
		return f, p.errorf("unexpected %q: want a type", p.peek())
	case tname == "struct":
		if depth >= MaxDepth {
			return f, p.errorf("structs nested deeper than %d levels", MaxDepth)
		}
		p.space()
		if p.peek() != '{' {
			return f, p.errorf("want { after struct")
		}
		p.pos++
		fields, err := p.decls(depth+1, true)
		if err != nil {
			return f, err
		}
		f.Type, f.Fields = Nested, fields
	default:
		t, ok := primitives[tname]
		if !ok {
			if why, ok := noFixedSize[tname]; ok {
				return f, p.errorf("%s", why)
			}
			return f, p.errorf("unknown type %q", tname)
		}
		f.Type = t
	}
	p.space()
	if p.peek() == '[' {
		p.pos++
		p.space()
		start := p.pos
		for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
			p.pos++
		}
		digits := p.s[start:p.pos]
		p.space()
		if digits == "" || p.peek() != ']' {
			if p.peek() == ']' || p.peek() == '<' {
				return f, p.errorf("%s: only fixed-size arrays T[N] are supported", tname)
			}
			return f, p.errorf("want an array length [N]")
		}
		p.pos++
		n, err := strconv.Atoi(digits)
		if err != nil || n < 1 || n > MaxSize {
			return f, p.errorf("array length %s out of range 1..%d", digits, MaxSize)
		}
		f.Len = n
		p.space()
		if p.peek() == '[' {
			return f, p.errorf("arrays of arrays are not supported: use a flat array")
		}
	} else if f.Type == Char {
		return f, p.errorf("char needs a length: char[N]")
	}
	name := p.word()
	if name == "" {
		return f, p.errorf("want a field name after %s", tname)
	}
	if err := checkName(name); err != nil {
		return f, p.errorf("%v", err)
	}
	f.Name = name
	p.space()
	if p.peek() == '[' {
		p.pos++
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] != ']' && p.s[p.pos] != '\n' {
			p.pos++
		}
		if p.peek() != ']' {
			return f, p.errorf("unit of %s: missing ]", name)
		}
		f.Unit = strings.TrimSpace(p.s[start:p.pos])
		p.pos++
		if f.Unit == "" {
			return f, p.errorf("empty unit [] for %s", name)
		}
		if err := checkUnit(f.Unit); err != nil {
			return f, p.errorf("%s: %v", name, err)
		}
	}
	return f, nil
}
