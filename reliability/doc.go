// Package reliability holds no code: its tests prove that seqshm holds up
// outside the happy path, across real processes. docs/reliability.md lists
// each claim, the command that checks it and the results measured.
//
// The tests re-execute the test binary as helper processes (writers and
// readers, selected by an environment variable) and use the publisher and
// subscriber binaries built from cmd/. They run in a few tens of seconds by
// default; SEQSHM_LONG=1 selects the long runs (10^8 cross-process reads,
// hundreds of writer kills, a minute of load):
//
//	go test -race ./reliability/
//	SEQSHM_LONG=1 go test -timeout 60m -v ./reliability/
//
// # What is covered
//
//   - torn reads: checksummed values of varying length, published at full
//     speed by one process and verified by several reader processes;
//   - crashes: a publisher of 16 MiB values killed with SIGKILL at random
//     instants, many of them in the middle of a write, then taken over;
//   - hostile and damaged segments: every header field lying, truncation
//     under a live mapping, links, directories, FIFOs and random bytes, seen
//     through the library and through the subscriber binary;
//   - the cost of the fault protection of Subscriber.Read (a benchmark);
//   - load: 16 subscriber -follow processes on a publisher at full rate;
//   - security: permissions, read-only mappings, names, planted links;
//   - a fuzz target for everything that parses segment bytes.
package reliability
