package seqlock

import (
	"context"
	"fmt"
)

// A TypedPublisher publishes values of a fixed-size, pointer-free type T
// into a named segment. Like Publisher, it is not safe for concurrent use.
type TypedPublisher[T any] struct {
	p  *Publisher
	tw TypedWriter[T] // over p's Writer
}

// CreateTyped is Create for values of type T: the segment keeps T's schema
// (package schema: field names, types, offsets, units from `seqshm` tags),
// so that any tool can decode its values, a subscriber of another type gets
// ErrTypeMismatch and a publisher of another type ErrIncompatible. T must
// have a fixed C-compatible layout (schema.For says why not).
func CreateTyped[T any](name string, opts *Options) (*TypedPublisher[T], error) {
	sc, err := schemaFor[T]()
	if err != nil {
		return nil, &Error{Op: "create", Name: name, Err: fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Schema = sc // Create checks a Capacity given against its size
	p, err := Create(name, &o)
	if err != nil {
		return nil, err
	}
	return &TypedPublisher[T]{p: p, tw: TypedWriter[T]{w: p.w}}, nil
}

// Publish makes v the newest value and returns its write number; see
// Publisher.Publish.
func (tp *TypedPublisher[T]) Publish(v T) (uint64, error) { return tp.p.Publish(bytesOf(&v)) }

// Publisher returns the underlying Publisher.
func (tp *TypedPublisher[T]) Publisher() *Publisher { return tp.p }

// Writer returns the TypedWriter over the segment's mapping, the fast path
// without fault protection; see Publisher.Writer.
func (tp *TypedPublisher[T]) Writer() *TypedWriter[T] { return &tp.tw }

// Close is Publisher.Close.
func (tp *TypedPublisher[T]) Close() error { return tp.p.Close() }

// A TypedSubscriber reads values of type T from a named segment. Like
// Subscriber, it is safe for concurrent use except for Close.
type TypedSubscriber[T any] struct {
	s  *Subscriber
	tr *TypedReader[T]
}

// OpenTyped is Open for a segment published by a TypedPublisher[T]; it
// returns ErrTypeMismatch if the segment holds another type.
func OpenTyped[T any](name string, opts *OpenOptions) (*TypedSubscriber[T], error) {
	s, err := Open(name, opts)
	if err != nil {
		return nil, err
	}
	tr, err := typedReader[T](s.r)
	if err != nil {
		s.Close()
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	return &TypedSubscriber[T]{s: s, tr: tr}, nil
}

// Read returns the newest value; see Subscriber.Read.
func (ts *TypedSubscriber[T]) Read() (T, Meta, error) {
	var v T
	m, err := ts.s.Read(bytesOf(&v))
	return v, m, checkTypedLen(m, err, len(bytesOf(&v)))
}

// Wait is Subscriber.Wait.
func (ts *TypedSubscriber[T]) Wait(ctx context.Context, after uint64) (uint64, error) {
	return ts.s.Wait(ctx, after)
}

// Subscriber returns the underlying Subscriber.
func (ts *TypedSubscriber[T]) Subscriber() *Subscriber { return ts.s }

// Reader returns the TypedReader over the segment's mapping, the fast path
// without fault protection; see Subscriber.Reader.
func (ts *TypedSubscriber[T]) Reader() *TypedReader[T] { return ts.tr }

// Close is Subscriber.Close.
func (ts *TypedSubscriber[T]) Close() error { return ts.s.Close() }
