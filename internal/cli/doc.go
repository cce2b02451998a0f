// Package cli holds what the seqshm command-line tools (publisher,
// subscriber, seqshm-bridge and seqshm-exporter) share: errors explained
// for a person, with exit codes and hint lines; signal handling; the
// -capacity size syntax; and the formatting of times and durations.
//
// # Exit codes
//
// 0: success, -h, or a clean stop by SIGINT or SIGTERM. 1: a failure,
// reported on stderr as "TOOL: NAME: what went wrong" plus "hint: ..."
// lines. 2: a usage error (bad flag, missing or invalid segment name).
// 128 plus the signal's number (130 for SIGINT, 143 for SIGTERM): a
// signal that interrupted a wait before the tool did its work, such as
// subscriber -wait before a value came.
package cli
