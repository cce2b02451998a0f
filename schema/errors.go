package schema

import "errors"

// Errors returned by this package, always wrapped with more detail (use
// errors.Is to test for them).
var (
	// ErrSyntax: the text form could not be parsed.
	ErrSyntax = errors.New("schema: syntax error")
	// ErrInvalid: a schema breaks a rule (bad or duplicate name, bad unit,
	// no fields, a limit exceeded, an unknown kind or type).
	ErrInvalid = errors.New("schema: invalid schema")
	// ErrUnsupported: a Go type has no fixed, portable layout.
	ErrUnsupported = errors.New("schema: unsupported type")
	// ErrLayout: a Go struct's layout differs from the C layout of its schema.
	ErrLayout = errors.New("schema: layout mismatch")
	// ErrFormat: a binary schema is malformed.
	ErrFormat = errors.New("schema: malformed binary schema")
	// ErrValue: a value does not match its schema (wrong size, invalid JSON
	// payload of a JSON kind).
	ErrValue = errors.New("schema: invalid value")
	// ErrEncode: a JSON document cannot be encoded as a value.
	ErrEncode = errors.New("schema: cannot encode value")
	// ErrNotFound: Lookup found no such field or element.
	ErrNotFound = errors.New("schema: no such field")
)
