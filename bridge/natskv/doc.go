// Package natskv bridges seqshm segments between machines through a NATS
// JetStream key-value bucket: Export mirrors a local segment into a key and
// ExportGlob every segment matching globs; Import publishes a key's values
// into a local segment and ImportKeys the values of every key matching a
// wildcard into segments named after the keys (SegmentKey, SegmentName). It
// is the library behind the seqshm-bridge command; see docs/bridge.md.
//
// It lives apart from the core packages: seqlock and shmfile never depend
// on NATS.
//
// # Latest-value semantics
//
// The bridge carries latest values, not a log. The exporter's segment is
// itself the mailbox: a Wait loop (Export) or a poller over all segments
// (ExportGlob) notices a newer value; the Wait loop writes it itself when no
// write is in flight, otherwise a 1-slot channel tells the sender, which
// reads the newest value when its previous write is acknowledged and the
// rate cap (ExportOptions.MaxRate) allows. At most one write per key is in
// flight; values published faster than the network or the cap take them
// coalesce, the newest is always written, and nothing queues. The bucket
// is created with a history of 1.
//
// # The envelope
//
// Each value travels in an envelope with the exporter's owner id, the
// value's local write number and its publish time: a JSON object by default
// (FormatJSON, readable with nats kv get), or a 32-byte binary header
// before the value (FormatBinary). Decode reads both. The envelope also
// carries the segment's kind and schema (Envelope.Schema): the JSON one as
// "kind", "schema" (a struct's text form) and the value by kind ("value"
// for text, "json" embedded, "fields" and "base64" for a struct), the
// binary one in its header when the schema fits (BinaryCarries). The
// importer creates its segment with that kind and schema, and publishes
// each value with its publish time (seqlock.Publisher.PublishAt).
//
// # Ownership
//
// One exporter writes a key. Every write is a compare-and-set on the
// revision the exporter wrote last (KeyValue.Update); the first is a
// KeyValue.Create. An exporter that finds the key written by another owner
// (a different id in the envelope, or not an envelope) takes it over only
// once the key has gone unwritten for Stale, judged by the server's
// timestamp of the last write and by watching the key for at most Stale;
// a live exporter rewrites its value every Heartbeat (< Stale), so it is
// never taken for dead. A write seen meanwhile means the owner is alive:
// the newcomer stops with an *OwnedError. A failed compare-and-set during
// export is resolved by reading the key: the exporter's own id means its
// earlier write went through but the acknowledgement was lost (it goes on);
// a missing key (deleted, or lost by the server) is created again; another
// id means another exporter took the key, and Export stops with an
// *OwnedError. Two exporters therefore never alternate on a key.
//
// An exporter stopped cleanly (its context ended) writes its last value once
// more, marked released; the next exporter takes a released key over at
// once. A restarted exporter that did not release gets a new id, so it takes
// its key over after at most Stale (at once with ExportOptions.Takeover).
//
// # Failures
//
// Connect waits for a server that is down at start, and checks that
// JetStream answers (ErrNoJetStream, ErrPermission) before it returns.
// Connections made by Connect reconnect forever, with the client's
// reconnect buffer turned off: nothing stale is queued while disconnected.
// A failed write is retried with the newest value, after a backoff of up
// to 2s or at once when the connection is back; after every reconnect the
// exporter writes its latest value again and the importer restarts its
// watch (which starts with the key's current value). A bucket that
// disappears is created again (after a few failed writes, or by the
// importer's check every second), and a bucket deleted and created anew
// under an importer is watched again within a second. The local side never
// waits for the network. A segment removed and created anew under the
// exporter is noticed at the next heartbeat and followed.
//
// # Concurrency
//
// Export uses the caller's goroutine plus one blocked in Subscriber.Wait;
// ExportGlob one sender goroutine per segment plus one poller and the
// caller's (with WaitPerSegment or Spin, one in Subscriber.Wait per
// segment instead of the poller); Import and ImportKeys the caller's
// goroutine for any number of keys. All may run concurrently with each
// other on one *nats.Conn. Errors are *Error (Op, Bucket, Key, Err) or
// *OwnedError.
package natskv
