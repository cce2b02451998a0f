package schema

import "errors"

// An Error is what this package's functions return: Err says what went
// wrong, wrapping one of the errors below (use errors.Is to test for them);
// Error puts "schema: " before it.
type Error struct {
	Err error
}

func (e *Error) Error() string { return "schema: " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// wrapErr makes *err an *Error, unless it is nil or one already (one
// exported function calling another).
func wrapErr(err *error) {
	if _, ok := (*err).(*Error); !ok && *err != nil {
		*err = &Error{Err: *err}
	}
}

// The errors this package's Errors wrap, with more detail.
var (
	// ErrSyntax: the text form could not be parsed.
	ErrSyntax = errors.New("syntax error")
	// ErrInvalid: a schema breaks a rule (bad or duplicate name, bad unit,
	// no fields, a limit exceeded, an unknown kind or type).
	ErrInvalid = errors.New("invalid schema")
	// ErrUnsupported: a Go type has no fixed, portable layout.
	ErrUnsupported = errors.New("unsupported type")
	// ErrLayout: a Go struct's layout differs from the C layout of its schema.
	ErrLayout = errors.New("layout mismatch")
	// ErrFormat: a binary schema is malformed.
	ErrFormat = errors.New("malformed binary schema")
	// ErrValue: a value does not match its schema (wrong size, invalid JSON
	// payload of a JSON kind).
	ErrValue = errors.New("invalid value")
	// ErrEncode: a JSON document cannot be encoded as a value.
	ErrEncode = errors.New("cannot encode value")
	// ErrNotFound: Lookup found no such field or element.
	ErrNotFound = errors.New("no such field")
)
