package cli

import "time"

// TimeLayout is RFC 3339 with all nine digits of nanoseconds, so that
// times line up in columns (time.RFC3339Nano drops trailing zeros).
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// RoundDuration rounds d to three significant digits, for display:
// 1.23456789s is 1.23s, 45678ns is 45.7µs.
func RoundDuration(d time.Duration) time.Duration {
	a := d
	if a < 0 {
		a = -a
	}
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if a < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}
