// Package cli holds what the seqshm command-line tools (publisher,
// subscriber and seqshm-bridge) share: errors explained for a person, with exit codes and
// hint lines; the -capacity size syntax; and the formatting of times and
// durations.
//
// # Exit codes
//
// 0: success, -h, or a clean stop by SIGINT or SIGTERM. 1: a failure,
// reported on stderr as "TOOL: NAME: what went wrong" plus "hint: ..."
// lines. 2: a usage error (bad flag, missing or invalid segment name).
package cli
