// Package exporter exports seqshm segments to Prometheus: a
// prometheus.Collector that, at each scrape, reads every segment whose
// name matches its globs once through the seqlock protocol and turns what
// it finds into metrics. It never writes a segment.
//
//	c, err := exporter.New(&exporter.Options{Globs: []string{"imu*"}})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Per segment, labelled segment="NAME":
//
//	seqshm_up                       gauge    1 if the segment was opened, read and decoded, else 0
//	seqshm_read_errors_total        counter  scrapes at which the segment could not be read or decoded
//	seqshm_writes_total             counter  writes so far (the write number of the newest value)
//	seqshm_value_bytes              gauge    length of the newest value
//	seqshm_capacity_bytes           gauge    largest value the segment holds
//	seqshm_value_timestamp_seconds  gauge    publish time of the newest value (Unix seconds)
//	seqshm_value_age_seconds        gauge    scrape time minus publish time
//	seqshm_writer_state{state}      gauge    1 for the publisher's state (alive, closed, died, none), 0 for the others
//
// The two time metrics are absent for a segment with no value or with
// unstamped values; the value metrics are absent while no value was
// published.
//
// The numbers in the values, one metric family seqshm_value with the
// labels segment and field, plus index for elements of struct arrays and
// unit for struct fields that have one:
//
//   - struct: every number and bool (0 or 1) of the schema, field being
//     the dotted path without indices ("pos.x"), index the array indices
//     along the path ("3", or "1,4" for an array in an array of structs),
//     unit the schema's unit ("m/s"); char fields are skipped;
//   - json: every number and bool (0 or 1), field being the path in the
//     document ("a.b[2]", "[0].x" under a top-level array, "value" for a
//     top-level number); strings and nulls are skipped;
//   - text: every KEY=VALUE token (tokens separated by white space or
//     commas) whose VALUE strconv.ParseFloat accepts, field being KEY; a
//     text that is one number alone gives field "value";
//   - bytes: nothing (values without a schema are opaque; the publisher
//     command makes text segments unless told -type bytes).
//
// A value is exported as published: no unit conversion. NaN and ±Inf pass
// through. At most Options.MaxFields numbers a segment are exported, the
// first in document order. A key that occurs twice in one value is
// exported once (its first occurrence).
//
// # Cost
//
// The Collector keeps each segment open between scrapes (reopening it when
// it was removed or replaced) together with a value buffer and the label
// sets of its fields, so a scrape in the steady state allocates little
// beyond the metrics it hands to the registry. Files in the segment
// directory that are not seqshm segments, or that this user may not read,
// are skipped, and not opened again until they change.
package exporter
