#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run bulkperf and judge it by its exit status and its last line.
#
#   check_result.sh [--expect-exit N] [--expect-stderr REGEX]
#                   [--expect-stdout REGEX] -- BULKPERF ARGS...
#
# Without --expect-exit (or with 0): the run must exit 0, its last stdout
# line must start with "result:" and carry verify_failures=0 errors=0,
# bytes=buffers x --buffer-size (default 2048; or the buffer-size of a
# --config FILE in ARGS when the command line has none), payload=touched
# when ARGS has --verify (touched or nominal otherwise), rtt_p50_ns and
# rtt_p99_ns numbers or n/a, and when ARGS has --count N, buffers=N. With
# --csv FILE in ARGS the file must hold the header, period rows whose
# intervals follow each other and add up to no more than the final row's
# buffers, and a final row from t0_s=0; 20 fields on every line.
# With --expect-stdout (repeatable), stdout must match each REGEX (extended).
# With --expect-exit N (N != 0): the run must exit N and, with
# --expect-stderr, say something matching REGEX (extended, case-insensitive).
#
# BULKPERF_SHORT set (not empty, not 0), as in sanitizer runs: --count is cut
# to BULKPERF_SHORT_COUNT (default 20000) and --duration to
# BULKPERF_SHORT_DURATION seconds (default 1), and the expected buffers follow.
set -u

expect_exit=0
expect_stderr=
expect_stdout=()
while [ $# -gt 0 ]; do
	case "$1" in
	--expect-exit) expect_exit=$2; shift 2 ;;
	--expect-stderr) expect_stderr=$2; shift 2 ;;
	--expect-stdout) expect_stdout+=("$2"); shift 2 ;;
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
size=
config=
verify=
while [ $# -gt 0 ]; do
	# An option without its value (a refusal test) goes through untouched.
	if [ $# -lt 2 ]; then
		[ "$1" = --verify ] && verify=1
		cmd+=("$1")
		break
	fi
	case "$1" in
	--verify)
		verify=1
		cmd+=("$1")
		shift
		;;
	--config)
		config=$2
		cmd+=("$1" "$2")
		shift 2
		;;
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
for re in ${expect_stdout[@]+"${expect_stdout[@]}"}; do
	grep -Eq -- "$re" "$out" || fail "stdout does not match /$re/"
done
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
for key in backend mode buffers bytes buffers_per_s gbit_s payload rtt_p50_ns rtt_p99_ns; do
	echo "$last" | grep -Eq " $key=[^ ]+" || fail "result line lacks $key="
done
echo "$last" | grep -Eq ' payload=(touched|nominal) ' || fail "payload= is not touched or nominal"
if [ -n "$verify" ]; then
	echo "$last" | grep -q ' payload=touched ' || fail "--verify touched every payload: payload=touched"
fi
for key in rtt_p50_ns rtt_p99_ns; do
	echo "$last" | grep -Eq " $key=([0-9]+|n/a) " || fail "$key= is neither a number nor n/a"
done
# The buffer size: the command line's, else the config file's, else the default.
if [ -z "$size" ] && [ -n "$config" ]; then
	size=$(sed -n 's/^[[:space:]]*buffer-size[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$config" | tail -n 1)
fi
size=${size:-2048}
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
	header='backend,mode,buffer_size,burst,trust,hops,process,row,t0_s,t1_s,buffers,bytes,buffers_per_s,gbit_s,payload,rtt_p50_ns,rtt_p99_ns,verify_failures,errors,queue_full'
	[ "$(head -n 1 "$csv")" = "$header" ] || fail "CSV header wrong"
	rows=$(wc -l <"$csv")
	[ "$rows" -ge 2 ] || fail "CSV has $rows lines"
	awk -F, 'NF != 20 { exit 1 }' "$csv" || fail "CSV row without 20 fields"
	# One meaning per column: every row counts its own interval [t0_s, t1_s].
	awk -F, -v bufs="$bufs" '
		NR == 1 { next }
		$8 == "period" {
			if (t1 != "" && $9 != t1) { print "period rows do not follow each other"; exit 1 }
			if ($10 < $9) { print "a period ends before it starts"; exit 1 }
			t1 = $10; sum += $11; next
		}
		$8 == "final" {
			final++
			if ($9 != 0) { print "the final row does not start at 0"; exit 1 }
			if ($11 != bufs) { print "the final row has " $11 " buffers, the result line " bufs; exit 1 }
			if (sum > $11) { print "the periods add up to more than the whole run"; exit 1 }
			next
		}
		{ print "row kind " $8; exit 1 }
		END { if (final != 1) { print "not one final row"; exit 1 } }' "$csv" ||
		fail "CSV rows inconsistent"
	tail -n 1 "$csv" | awk -F, '$8 != "final" { exit 1 }' || fail "CSV does not end in the final row"
fi
echo "PASS: $last"
exit 0
