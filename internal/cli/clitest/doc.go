// Package clitest runs the seqshm command-line tools as separate processes
// for end-to-end tests: it builds them once (with the race detector when
// the test binary has it), gives each test its own segment directory
// (SEQSHM_DIR), and wraps the processes it starts so that a test cannot
// hang or leak them.
package clitest
