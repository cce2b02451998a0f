// Package natskv bridges seqshm segments between machines through a NATS
// JetStream key-value bucket: Export mirrors a local segment into a key,
// Import publishes a key's values into a local segment. It is the library
// behind the seqshm-bridge command; see docs/bridge.md.
//
// It lives apart from the core packages: seqlock and shmfile never depend
// on NATS.
//
// # Latest-value semantics
//
// The bridge carries latest values, not a log. The exporter's segment is
// itself the mailbox: a Wait loop signals a 1-slot channel when there is a
// newer value, and the sender reads the newest value when its previous
// write is acknowledged. At most one write is in flight; values published
// faster than the network takes them coalesce, and nothing queues. The
// bucket is created with a history of 1.
//
// # The envelope
//
// KV values carry no headers, so each value travels after a 32-byte
// header (Envelope, HeaderSize): magic "sqbr", version 1, header size,
// flags, the exporter's owner id, the value's local write number and its
// publish time. The importer publishes the value with that publish time
// (seqlock.Publisher.PublishAt).
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
// A restarted exporter gets a new id, so it takes its key over after at
// most Stale (at once with ExportOptions.Takeover).
//
// # Failures
//
// Connections made by Connect reconnect forever, with the client's
// reconnect buffer turned off: nothing stale is queued while disconnected.
// A failed write is retried with the newest value, after a backoff of up
// to 2s or at once when the connection is back; after every reconnect the
// exporter writes its latest value again and the importer restarts its
// watch (which starts with the key's current value). The local side never
// waits for the network. A segment removed and created anew under the
// exporter is noticed at the next heartbeat and followed.
//
// # Concurrency
//
// Export and Import each use one goroutine of the caller plus at most one
// helper, and may run concurrently with each other on one *nats.Conn.
package natskv
