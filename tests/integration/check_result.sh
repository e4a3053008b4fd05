#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run bulkperf and judge it by its exit status and its last line.
#
#   check_result.sh [--expect-exit N] [--expect-stderr REGEX] -- BULKPERF ARGS...
#
# Without --expect-exit (or with 0): the run must exit 0, its last stdout
# line must start with "result:" and carry verify_failures=0 errors=0 and
# bytes=buffers x --buffer-size (default 2048), and
# when ARGS has --count N, buffers=N. With --csv FILE in ARGS the file must
# hold a header and a final row, 11 fields on every line.
# With --expect-exit N (N != 0): the run must exit N and, with
# --expect-stderr, say something matching REGEX (extended, case-insensitive).
#
# BULKPERF_SHORT set (not empty, not 0), as in sanitizer runs: --count is cut
# to BULKPERF_SHORT_COUNT (default 20000) and --duration to
# BULKPERF_SHORT_DURATION seconds (default 1), and the expected buffers follow.
set -u

expect_exit=0
expect_stderr=
while [ $# -gt 0 ]; do
	case "$1" in
	--expect-exit) expect_exit=$2; shift 2 ;;
	--expect-stderr) expect_stderr=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "check_result.sh: unknown option $1" >&2; exit 99 ;;
	esac
done
if [ $# -lt 1 ]; then
	echo "check_result.sh: no command" >&2
	exit 99
fi

short=${BULKPERF_SHORT:-}
[ "$short" = 0 ] && short=
short_count=${BULKPERF_SHORT_COUNT:-20000}
short_duration=${BULKPERF_SHORT_DURATION:-1}

# Rewrite the arguments: shorten under BULKPERF_SHORT, note --count and --csv.
cmd=("$1")
shift
count=
csv=
size=2048
while [ $# -gt 0 ]; do
	# An option without its value (a refusal test) goes through untouched.
	if [ $# -lt 2 ]; then
		cmd+=("$1")
		break
	fi
	case "$1" in
	--count)
		v=$2
		if [ -n "$short" ] && [ "$v" -gt "$short_count" ] 2>/dev/null; then
			v=$short_count
		fi
		count=$v
		cmd+=(--count "$v")
		shift 2
		;;
	--duration)
		v=$2
		if [ -n "$short" ] && awk -v a="$v" -v b="$short_duration" 'BEGIN { exit !(a > b) }'
		then
			v=$short_duration
		fi
		cmd+=(--duration "$v")
		shift 2
		;;
	--buffer-size)
		size=$2
		cmd+=("$1" "$2")
		shift 2
		;;
	--csv)
		csv=$2
		rm -f "$csv"
		cmd+=(--csv "$csv")
		shift 2
		;;
	*)
		cmd+=("$1")
		shift
		;;
	esac
done

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

echo "+ ${cmd[*]}"
"${cmd[@]}" >"$out" 2>"$err"
rc=$?
cat "$out"
cat "$err" >&2

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if [ "$expect_exit" != 0 ]; then
	[ "$rc" = "$expect_exit" ] || fail "exit status $rc, expected $expect_exit"
	if [ -n "$expect_stderr" ]; then
		grep -Eqi -- "$expect_stderr" "$err" ||
			fail "stderr does not match /$expect_stderr/"
	fi
	echo "PASS: exit $rc as expected"
	exit 0
fi

[ "$rc" = 0 ] || fail "exit status $rc"
last=$(tail -n 1 "$out")
case "$last" in
result:\ *) ;;
*) fail "last line is not a result line: '$last'" ;;
esac
for want in ' verify_failures=0 ' ' errors=0'; do
	case "$last " in
	*"$want"*) ;;
	*) fail "result line lacks '${want# }'" ;;
	esac
done
case "$last" in
*' errors=0') ;;
*) fail "result line does not end in errors=0" ;;
esac
for key in backend mode buffers bytes buffers_per_s gbit_s rtt_p50_ns rtt_p99_ns; do
	echo "$last" | grep -Eq " $key=[^ ]+" || fail "result line lacks $key="
done
if [ -n "$count" ]; then
	echo "$last" | grep -q " buffers=$count " || fail "expected buffers=$count"
fi
# Every buffer carries --buffer-size payload bytes, whatever the mode counts.
bufs=$(echo "$last" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
bytes=$(echo "$last" | sed -n 's/.* bytes=\([0-9]*\) .*/\1/p')
[ -n "$bufs" ] && [ -n "$bytes" ] || fail "result line has no numeric buffers= or bytes="
[ "$bytes" = "$((bufs * size))" ] || fail "bytes=$bytes is not buffers=$bufs x $size"
if [ -n "$csv" ]; then
	[ -s "$csv" ] || fail "CSV file $csv missing or empty"
	head -n 1 "$csv" | grep -q '^time_s,row,buffers,' || fail "CSV header wrong"
	tail -n 1 "$csv" | grep -q '^[0-9.]*,final,' || fail "CSV lacks a final row"
	rows=$(wc -l <"$csv")
	[ "$rows" -ge 2 ] || fail "CSV has $rows lines"
	awk -F, 'NF != 11 { exit 1 }' "$csv" || fail "CSV row without 11 fields"
fi
echo "PASS: $last"
exit 0
