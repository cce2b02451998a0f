package seqlock

// waiterAlign: a view of a file mapping starts at a multiple of the
// allocation granularity, 64 KiB.
const waiterAlign = 64 << 10
