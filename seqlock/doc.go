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
// own, and N slots (8, or 4 for slots over 4 KiB), each starting with its
// own sequence word. Both count half-steps: write n (n = 1, 2, …) stores
// 2n−1 (odd: write n in progress) into the counter and into the word of
// slot n%N, fills that slot with the length, publish time and payload,
// then stores 2n (complete) into the slot's word and then the counter. A
// reader loads the counter; the newest complete write is m = counter/2, in
// slot m%N. It checks that the slot's word is 2m, copies the slot, loads
// the word again, and accepts the copy if the word is still 2m. So a
// reader never waits for a write in progress, and checks its copy against
// a word that changes only when its slot is rewritten, N writes later,
// not against the counter, which every write changes twice: a reader keeps
// up with a writer publishing back to back. It retries only when the
// writer began N writes during its attempt, and gives up with ErrLapped
// after a bounded number of attempts. docs/layout.md gives every byte;
// docs/memory-model.md argues the ordering on amd64, arm64 and everything
// else.
//
// # Guarantees
//
// A Read that returns a nil error observes one complete Write: the write
// whose number it returns in Meta.Seq. It synchronizes after that Write's
// commit (the even stores of its slot's word and the counter), and every
// byte it returns was stored by that Write. Write numbers seen by one
// reader never decrease.
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
// A Read is lapped only when the writer begins N writes between the
// Read's load of the counter and the end of its copy. A reader that runs
// keeps up with a writer writing back to back, values up to 4 KiB
// included (docs/benchmarks.md); ErrLapped, after about a thousand
// attempts, comes when the reader is descheduled during attempt after
// attempt (a machine with more runnable threads than CPUs) or the values
// are so large that their copy takes as long as N writes of them. Reading
// again is always correct.
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
