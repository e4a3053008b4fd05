#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run a bulkperf pair over the shm backend, two processes as a user would
# start them by hand: the create side (the reflector) in the background,
# the bind side (the source) through check_result.sh, then judge the
# create side by its exit status and its last line.
#
#   shm_pair.sh [--by-address] [--create-late SECONDS] [--stop-create]
#               [--create-exit N] [--expect-exit N] [--expect-stderr REGEX]
#               BULKPERF CREATE_ARGS... -- BIND_ARGS...
#
# Both sides get --backend shm, --endpoint @<unique name> and their --role;
# with --by-address, --endpoint shm:@<unique name> and no --backend (the
# address names the backend).
# --create-late: start the create side this long after the bind side, which
#   must retry while nobody listens.
# --stop-create: the bind side tears no channel down (a refused bind): stop
#   the create side with SIGTERM once the bind side is done.
# --create-exit N: the create side must exit N (not 0): only its status counts.
# --expect-exit, --expect-stderr: passed to check_result.sh for the bind side.
# The create side must exit 0 within 10 s of the bind side and, unless
# stopped, end with a result line carrying verify_failures=0 errors=0 and
# the bind side's buffers= count, and rtt_p50_ns=n/a rtt_p99_ns=n/a (the
# reflector measures no round trip). On any failure the create side is
# killed by its PID and its output shown.
set -u

here=$(cd "$(dirname "$0")" && pwd)
late=
stop=
cexit=0
check_opts=()
byaddr=
while [ $# -gt 0 ]; do
	case "$1" in
	--by-address) byaddr=1; shift ;;
	--create-late) late=$2; shift 2 ;;
	--stop-create) stop=1; shift ;;
	--create-exit) cexit=$2; shift 2 ;;
	--expect-exit | --expect-stderr) check_opts+=("$1" "$2"); shift 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ]; then
	echo "shm_pair.sh: no bulkperf" >&2
	exit 99
fi
bulkperf=$1
shift
create=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	create+=("$1")
	shift
done
if [ $# -eq 0 ]; then
	echo "shm_pair.sh: no '--' before the bind side's arguments" >&2
	exit 99
fi
shift
bind=("$@")

ep="@bulkperf-test-$$-$RANDOM"
# What names the link: the shorthand with --backend, or the address alone.
link=(--backend shm --endpoint "$ep")
[ -n "$byaddr" ] && link=(--endpoint "shm:$ep")
cout=$(mktemp)
bout=$(mktemp)
cpid=

cleanup() {
	# Only our own create side, by its PID, and only while it runs.
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		kill "$cpid" 2>/dev/null
		sleep 1
		kill -9 "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	rm -f "$cout" "$bout"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- create side output:" >&2
	cat "$cout" >&2
	exit 1
}

ccmd=("$bulkperf" "${link[@]}" --role create ${create[@]+"${create[@]}"})
echo "+ (create side${late:+, ${late} s late}) ${ccmd[*]}"
if [ -n "$late" ]; then
	# exec keeps the PID: the one we wait for and, on failure, kill.
	(sleep "$late" && exec "${ccmd[@]}") >"$cout" 2>&1 &
else
	"${ccmd[@]}" >"$cout" 2>&1 &
fi
cpid=$!

"$here/check_result.sh" ${check_opts[@]+"${check_opts[@]}"} -- \
	"$bulkperf" "${link[@]}" --role bind ${bind[@]+"${bind[@]}"} >"$bout" 2>&1
brc=$?
cat "$bout"
[ "$brc" = 0 ] || fail "bind side (check_result.sh exit $brc)"

if [ -n "$stop" ]; then
	kill -TERM "$cpid" 2>/dev/null
fi
# The bind side's teardown (or SIGTERM) ends the create side.
for _ in $(seq 100); do
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$cpid" 2>/dev/null && fail "create side (pid $cpid) still running 10 s after the bind side"
wait "$cpid"
crc=$?
p=$cpid
cpid=
echo "--- create side (pid $p, exit $crc):"
cat "$cout"
[ "$crc" = "$cexit" ] || fail "create side exit status $crc, expected $cexit"
[ "$cexit" != 0 ] && { echo "PASS: create side exit $crc as expected"; exit 0; }
[ -n "$stop" ] && { echo "PASS: create side stopped, exit 0"; exit 0; }

last=$(tail -n 1 "$cout")
case "$last" in
result:\ *) ;;
*) fail "create side's last line is not a result line: '$last'" ;;
esac
case "$last " in
*' verify_failures=0 '*) ;;
*) fail "create side: result line lacks verify_failures=0" ;;
esac
case "$last" in
*' errors=0') ;;
*) fail "create side: result line does not end in errors=0" ;;
esac
case "$last " in
*' rtt_p50_ns=n/a rtt_p99_ns=n/a '*) ;;
*) fail "create side: a reflector measures no round trip: rtt_p50_ns=n/a rtt_p99_ns=n/a" ;;
esac
bres=$(grep '^result: ' "$bout" | tail -n 1)
bbufs=$(echo "$bres" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
cbufs=$(echo "$last" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
[ -n "$bbufs" ] && [ "$bbufs" = "$cbufs" ] ||
	fail "the create side counted buffers=$cbufs, the bind side buffers=$bbufs"
echo "PASS: both sides, buffers=$bbufs"
exit 0
