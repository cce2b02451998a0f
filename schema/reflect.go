package schema

import (
	"fmt"
	"reflect"
	"strings"
)

// For returns the schema of the Go struct type T; see Of.
func For[T any]() (_ *Schema, err error) {
	defer wrapErr(&err)
	return Of(reflect.TypeFor[T]())
}

// Of returns the schema of the Go struct type t.
//
// Each field is described, in order, by its Go name or by the name in a
// `seqshm:"name,unit=m/s"` tag (either part may be left out: `seqshm:",unit=K"`).
// The tag option "char" makes a [N]byte field char[N] (text) rather than
// uint8[N]. Every field must be described, since its bytes are shared: the
// tag "-" is an error. Fields named _ are padding and are not described;
// they must lie where C padding would be.
//
// Accepted field types are bool, int8 to int64, uint8 to uint64, float32,
// float64, structs of those, and arrays [N]T of them (N ≥ 1; not arrays of
// arrays). Embedded structs are nested structs named after their type, not
// flattened. int and uint (whose size depends on the platform), uintptr,
// complex numbers, pointers, slices, strings, maps, channels, functions
// and interfaces are refused with ErrUnsupported naming the field.
//
// Of checks that Go lays t out as the schema's C layout and returns
// ErrLayout otherwise (for example with int64 fields on 32-bit platforms,
// where Go aligns them to 4 bytes).
func Of(t reflect.Type) (_ *Schema, err error) {
	defer wrapErr(&err)
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %v is not a struct type", ErrUnsupported, t)
	}
	name := t.Name()
	if name == "" {
		name = "struct"
	}
	fields, err := goFields(t, name)
	if err != nil {
		return nil, err
	}
	s, err := newStruct(fields, ErrInvalid)
	if err != nil {
		return nil, err
	}
	if err := checkGoLayout(t, s.root, name); err != nil {
		return nil, err
	}
	return s, nil
}

// goFields describes the fields of the struct type t, whose path is path.
// New checks the limits (nesting, number of fields): a Go type is finite.
func goFields(t reflect.Type, path string) ([]Field, error) {
	var out []Field
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Name == "_" {
			continue
		}
		fpath := path + "." + sf.Name
		f, char, err := parseTag(sf)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %v", ErrInvalid, fpath, err)
		}
		ft := sf.Type
		if ft.Kind() == reflect.Array {
			if ft.Len() == 0 {
				return nil, fmt.Errorf("%w: field %s: zero-length array", ErrUnsupported, fpath)
			}
			f.Len = ft.Len()
			ft = ft.Elem()
			if ft.Kind() == reflect.Array {
				return nil, fmt.Errorf("%w: field %s: arrays of arrays are not supported: use a flat array", ErrUnsupported, fpath)
			}
			if char {
				if ft.Kind() != reflect.Uint8 {
					return nil, fmt.Errorf("%w: field %s: option char needs a [N]byte, not %v", ErrUnsupported, fpath, sf.Type)
				}
				f.Type = Char
				out = append(out, f)
				continue
			}
		} else if char {
			return nil, fmt.Errorf("%w: field %s: option char needs a [N]byte, not %v", ErrUnsupported, fpath, sf.Type)
		}
		switch k := ft.Kind(); k {
		case reflect.Bool:
			f.Type = Bool
		case reflect.Int8:
			f.Type = Int8
		case reflect.Int16:
			f.Type = Int16
		case reflect.Int32:
			f.Type = Int32
		case reflect.Int64:
			f.Type = Int64
		case reflect.Uint8:
			f.Type = Uint8
		case reflect.Uint16:
			f.Type = Uint16
		case reflect.Uint32:
			f.Type = Uint32
		case reflect.Uint64:
			f.Type = Uint64
		case reflect.Float32:
			f.Type = Float32
		case reflect.Float64:
			f.Type = Float64
		case reflect.Struct:
			sub, err := goFields(ft, fpath)
			if err != nil {
				return nil, err
			}
			f.Type, f.Fields = Nested, sub
		case reflect.Int, reflect.Uint:
			return nil, fmt.Errorf("%w: field %s: %v has a platform-dependent size: use %v32 or %v64", ErrUnsupported, fpath, k, k, k)
		default:
			return nil, fmt.Errorf("%w: field %s: type %v has no fixed layout to share", ErrUnsupported, fpath, ft)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseTag(sf reflect.StructField) (f Field, char bool, err error) {
	f.Name = sf.Name
	tag, ok := sf.Tag.Lookup("seqshm")
	if !ok {
		return f, false, nil
	}
	if tag == "-" {
		return f, false, fmt.Errorf(`tag "-": every field's bytes are shared, so every field is described (name padding _)`)
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name != "" {
		f.Name = name
	}
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		switch {
		case opt == "char":
			char = true
		case strings.HasPrefix(opt, "unit="):
			f.Unit = strings.TrimPrefix(opt, "unit=")
		default:
			return f, false, fmt.Errorf("unknown tag option %q (want unit=U or char)", opt)
		}
	}
	return f, char, nil
}

// checkGoLayout compares Go's layout of t with n's.
func checkGoLayout(t reflect.Type, n *node, path string) error {
	j := 0
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Name == "_" {
			continue
		}
		f := &n.fields[j]
		j++
		if int(sf.Offset) != f.off {
			return fmt.Errorf("%w: field %s.%s: Go offset %d, C layout offset %d", ErrLayout, path, sf.Name, sf.Offset, f.off)
		}
		if f.sub != nil {
			et := sf.Type
			if et.Kind() == reflect.Array {
				et = et.Elem()
			}
			if err := checkGoLayout(et, f.sub, path+"."+sf.Name); err != nil {
				return err
			}
		}
	}
	if int(t.Size()) != n.size {
		return fmt.Errorf("%w: %s: Go size %d, C layout size %d", ErrLayout, path, t.Size(), n.size)
	}
	return nil
}
