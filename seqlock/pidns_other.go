//go:build !linux

package seqlock

// pidNamespace returns 0 (unknown): PID namespaces are Linux's.
func pidNamespace() uint64 { return 0 }
