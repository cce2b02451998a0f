package main

// ticks reads the time-stamp counter (tsc_amd64.s).
func ticks() uint64
