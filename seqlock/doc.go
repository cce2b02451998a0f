// Package seqlock shares the latest value of something between processes
// through a shared-memory segment guarded by a sequence lock: one writer
// publishes, any number of readers copy the newest complete value at memory
// speed, never see a half-written value, never slow the writer, and never
// hang because the writer died.
//
// The happy path:
//
//	pub, err := seqlock.Create("imu", nil) // or CreateTyped[T]
//	pub.Publish(value)
//
//	sub, err := seqlock.Open("imu", nil) // or OpenTyped[T]
//	m, err := sub.Read(buf)              // buf[:m.Len], m.Seq, m.Time()
//
// Publisher and Subscriber work on named segments (package shmfile).
// Writer and Reader run the same protocol on any byte region, with no
// operating system involved.
//
// # Protocol
//
// A segment is a header, a 64-bit sequence counter on a cache line of its
// own, and two slots. The counter counts half-steps: write n (n = 1, 2, …)
// first stores 2n−1 (odd: write n in progress, into slot n%2), fills slot
// n%2 with the length, publish time, write number and payload, then stores
// 2n (complete). A reader loads the counter s1; the newest complete write
// is m = s1/2, in slot m%2, which no writer touches until write m+2 stores
// 2m+3. The reader copies that slot, loads the counter again as s2, and
// accepts the copy if s2 ≤ 2m+2. So a reader never waits for a write in
// progress: it reads the other slot. It retries only when lapped by two
// whole writes, and gives up with ErrLapped after a bounded number of
// attempts. docs/layout.md gives every byte; docs/memory-model.md argues
// the ordering on amd64, arm64 and everything else.
//
// # Guarantees
//
// A Read that returns a nil error observes one complete Write: the write
// whose number it returns in Meta.Seq. It synchronizes after that Write's
// commit (the even counter store), and every byte it returns was stored by
// that Write. Write numbers seen by one reader never decrease.
//
// A writer killed at any instant leaves the last complete value readable
// forever. A new writer adopting the region completes the interrupted write
// number with its own value.
//
// Readers never store to the values' pages, so a Subscriber maps them
// read-only. Subscriber.Wait sleeps when it may write the segment's small
// waiter area (on Linux a futex on the waiter word, on Windows a named
// event per wake epoch), on Linux also when it may only read the segment
// (the foreign waiter area), and polls otherwise; a Publish with nobody
// waiting makes no system call.
//
// # Caveats
//
// A Writer is not safe for concurrent use; two writers on one region are
// detected (ErrConcurrentWrite) but one named segment is meant to have one
// Publisher, which the writer lock enforces across processes.
//
// Values are copied as bytes: a typed value must be fixed-size and
// pointer-free, which CreateTyped and OpenTyped check, and its layout must
// be the same in every program, which the type fingerprint checks.
//
// A reader lapped on every attempt (a writer publishing large values
// back-to-back while the reader is descheduled again and again) gets
// ErrLapped; reading again is always correct.
//
// A Publish after which a subscriber went to sleep makes one wake system
// call (FUTEX_WAKE, or SetEvent on Windows); Publishes while every
// subscriber is busy, or after the sleepers were woken, make none. A waiter
// killed while asleep costs its publisher one needless wake, once.
//
// The publish time is the writer's wall clock: a publish-to-read latency
// computed from it is as accurate as the two processes' clocks agree, which
// on one machine they do.
//
// Layout fields are little-endian and the protocol needs 64-bit atomics:
// big-endian machines are not supported.
package seqlock
