//go:build !amd64

package main

import "time"

var tickBase = time.Now()

// ticks is the monotonic clock in ns where there is no RDTSC here.
func ticks() uint64 { return uint64(time.Since(tickBase)) }
