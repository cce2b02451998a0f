#!/usr/bin/env bash
# Idle CPU of `subscriber -follow` against a publisher that publishes
# nothing, as another user (mode 0644 segment: the follower sleeps on the
# publisher's foreign waiter area) and as the publisher's own user, one after
# the other: CPU time (utime+stime of /proc/PID/stat, in clock ticks, and
# the sum of the threads' run time in /proc/PID/task/*/schedstat, in ns) and
# voluntary context switches (all threads) over SECONDS. Linux, as root.
#
#   bash bench/idle-follow.sh [SECONDS] [USER]     # defaults: 10 seqshm-bench
#
# USER must exist (useradd --system --no-create-home seqshm-bench).
set -euo pipefail
secs=${1:-10}
other=${2:-seqshm-bench}
[ "$(id -u)" = 0 ] || { echo "idle-follow: run as root (it runs the follower as $other)" >&2; exit 2; }
id "$other" >/dev/null
cd "$(dirname "$0")/.."
bin=$(mktemp -d /tmp/seqidle-XXXXXX)
trap 'rm -rf "$bin"' EXIT
chmod 755 "$bin"
go build -o "$bin/" ./cmd/publisher ./cmd/subscriber
name=seqidle-$$
hz=$(getconf CLK_TCK)

cpu() { # utime+stime of PID in clock ticks, its threads' run time in ns and voluntary switches
	local p=$1 stat v=0 ns=0 t
	for t in /proc/$p/task/*; do
		v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")))
		ns=$((ns + $(cut -d' ' -f1 "$t/schedstat")))
	done
	stat=$(cat /proc/$p/stat)
	stat=${stat##*) }
	set -- $stat
	echo "$((${12} + ${13})) $ns $v"
}

"$bin/publisher" -mode 0644 "$name" first
# A publisher that holds the segment and publishes nothing: its input is a
# FIFO that this script holds open and never writes.
mkfifo "$bin/in"
"$bin/publisher" -mode 0644 "$name" < "$bin/in" &
pubpid=$!
exec 3> "$bin/in"
sleep 0.5
for who in "$other" root; do
	if [ "$who" = root ]; then
		"$bin/subscriber" -follow "$name" >/dev/null &
	else
		setpriv --reuid="$other" --regid="$other" --clear-groups "$bin/subscriber" -follow "$name" >/dev/null &
	fi
	pid=$!
	sleep 1 # past start-up and the first value
	read -r c0 n0 v0 < <(cpu $pid)
	sleep "$secs"
	read -r c1 n1 v1 < <(cpu $pid)
	kill $pid; wait $pid 2>/dev/null || true
	echo "subscriber -follow as $who ($(id -u "$who")): utime+stime $(( (c1 - c0) * 1000 / hz )) ms, run time $(( (n1 - n0) / 1000 )) µs ($(awk -v n=$((n1 - n0)) -v s="$secs" 'BEGIN {printf "%.4f", n / (s * 1e7)}') % of a core) in ${secs} s, $((v1 - v0)) voluntary context switches"
done
exec 3>&- # end of the publisher's input: it closes the segment and exits
wait $pubpid 2>/dev/null || true
"$bin/publisher" -rm "$name"
