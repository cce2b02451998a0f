package exporter

import (
	"bytes"
	"strconv"
)

// parseText calls fn for each KEY=VALUE token of a text value whose VALUE
// is a number (as strconv.ParseFloat reads it: 1.5, -2e3, NaN, +Inf),
// tokens being separated by white space or commas; KEY is what comes
// before the first '='. A text that is one number alone, spaces around it
// aside, gives the key "" (the field "value"). Other tokens are skipped:
// a bare word, an empty key, a quoted or unit-suffixed value ("21.5C").
func parseText(text []byte, fn func(key []byte, v float64)) {
	if t := bytes.TrimSpace(text); len(t) > 0 && bytes.IndexByte(t, '=') < 0 {
		if v, err := strconv.ParseFloat(string(t), 64); err == nil {
			fn(nil, v)
		}
		return
	}
	for len(text) > 0 {
		i := 0
		for i < len(text) && separator(text[i]) {
			i++
		}
		j := i
		for j < len(text) && !separator(text[j]) {
			j++
		}
		tok := text[i:j]
		text = text[j:]
		k := bytes.IndexByte(tok, '=')
		if k <= 0 || k == len(tok)-1 {
			continue
		}
		if v, err := strconv.ParseFloat(string(tok[k+1:]), 64); err == nil {
			fn(tok[:k], v)
		}
	}
}

func separator(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', ',':
		return true
	}
	return false
}
