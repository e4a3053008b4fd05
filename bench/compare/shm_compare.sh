#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Side by side, in one run on this machine:
#
#   libbulk shm echo   bulkperf --backend shm --mode echo, two processes
#                      (--role create: the reflector; --role bind: the source,
#                      which counts), burst 32, FULL trust, 2 KiB and 64 KiB
#                      buffers; HALF and NONE trust at 64 KiB (their cost)
#   memif              two dpdk-testpmd over net_memif, 1024 packets
#                      circulating (memif_testpmd.sh: why that arrangement),
#                      2 KiB and 65535 bytes (testpmd's largest packet)
#   unix, pipe         bulk-streamperf: the same bytes over a Unix stream
#                      socket pair and over pipes, one way (stream) and as an
#                      echo, 2 KiB and 64 KiB chunks
#
# then prints the figures, the ratios and the issue's targets:
#
#   libbulk shm echo buffers/s / memif packets/s at 2 KiB      >= 1.0x
#   libbulk shm echo bytes/s / Unix socket bytes/s at 64 KiB   >= 10x
#
# The Unix-socket target is judged against the socket's one-way stream, its
# best case (a stream never waits for anything to come back; an echo does),
# so it is the harder of the two to beat; the echo ratio is printed too.
#
# Every process it starts is stopped by PID; its temp dir is removed.
#
# Usage: bash bench/compare/shm_compare.sh     (from any directory)
#   COMPARE_DURATION   seconds per measurement (default 5)
#   BULK_BUILD_DIR     use this build (must have bulkperf with shm); default:
#                      configure and build build-compare/ (release)
#   COMPARE_STREAM_CPUS  pin bulk-streamperf "TX,RX" (default: not pinned,
#                      like bulkperf)
#   COMPARE_SKIP       space-separated subset of: shm memif unix pipe
# Last line: compare: ... (the two targets, PASS or MISS each)
# Exit: 0 when every measurement ran (a MISS is a result, not a failure),
#       1 when one failed (its row says so).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=bench/compare

DURATION=${COMPARE_DURATION:-5}
if ! [[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $DURATION =~ ^0+([.]0*)?$ ]]; then
	echo "compare: COMPARE_DURATION='$DURATION' is not a number of seconds > 0" >&2
	exit 2
fi
SKIP=" ${COMPARE_SKIP:-} "
STREAM_CPUS=${COMPARE_STREAM_CPUS:-}

TMP=$(mktemp -d /tmp/bulk-compare.XXXXXX)
PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local p i
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner()
{
	echo
	echo "== $*"
}

# ---------------------------------------------------------------- build
if [[ -n ${BULK_BUILD_DIR:-} ]]; then
	BUILD=$BULK_BUILD_DIR
	banner "using build $BUILD"
else
	BUILD=build-compare
	banner "build $BUILD (release)"
	SETUP_ARGS=(--buildtype=release -Dtests=false -Dgbench=disabled)
	if [[ -f $BUILD/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$BUILD" "${SETUP_ARGS[@]}" >"$TMP/setup.log" 2>&1 ||
			meson setup --wipe "$BUILD" "${SETUP_ARGS[@]}" >"$TMP/setup.log" 2>&1 ||
			{ cat "$TMP/setup.log" >&2; exit 1; }
	else
		rm -rf "$BUILD"
		meson setup "$BUILD" "${SETUP_ARGS[@]}" >"$TMP/setup.log" 2>&1 ||
			{ cat "$TMP/setup.log" >&2; exit 1; }
	fi
	meson compile -C "$BUILD" >"$TMP/compile.log" 2>&1 ||
		{ tail -n 40 "$TMP/compile.log" >&2; exit 1; }
	echo "compare: built $BUILD"
fi
BULKPERF=$BUILD/bench/bulkperf/bulkperf
STREAMPERF=$BUILD/bench/compare/bulk-streamperf
if [[ ! -x $STREAMPERF ]]; then
	# Not (yet) built by meson: the top-level meson.build lacks
	# subdir('bench/compare'). Build the one file by hand next to it.
	STREAMPERF=$TMP/bulk-streamperf
	echo "compare: $BUILD has no bench/compare/bulk-streamperf; compiling $HERE/streamperf.c by hand"
	"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -o "$STREAMPERF" "$HERE/streamperf.c"
fi
if [[ $SKIP != *" shm "* && ! -x $BULKPERF ]]; then
	echo "compare: $BULKPERF was not built" >&2
	exit 1
fi

# -------------------------------------------------------- the machine
banner "machine"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "compare: $(nproc) CPUs ($cpu), kernel $(uname -r), $(date -u +%FT%TZ)"
echo "compare: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(
	git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')," \
	"${DURATION}s per measurement"
read -r load1 _ </proc/loadavg
echo "compare: load average (1 min) $load1 at the start"
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
	echo "compare: warning: the machine is not idle; every figure below shares its CPUs" \
		"with whatever else runs (ps: $(ps -eo pcpu=,comm= --sort=-pcpu | awk '$2 != "ps"' | head -n 2 |
			awk '{ printf "%s%s %s%%", s, $2, $1; s = ", " }'))"
fi

# --------------------------------------------------------- measurements
# Each result: RATE[KEY] msgs/s (or "fail", "n/a"), GBIT[KEY], NOTE[KEY],
# OTHER[KEY]: CPUs used on average by processes that are not ours while it
# ran (the machine's non-idle time from /proc/stat minus the CPU time of
# this script's reaped descendants, over the wall time). On a 2-CPU machine
# where both sides of every peer busy-poll or ping-pong, anything else
# running shows up in every figure; this column says when it did.
declare -A RATE GBIT NOTE OTHER
FAILED=0
HZ=$(getconf CLK_TCK)
M_T0="" M_BUSY0="" M_KIDS0="" KIDS=0

busy_secs()
{ # non-idle CPU seconds of the whole machine since boot
	awk -v hz="$HZ" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}

kids_secs()
{ # KIDS = user+sys seconds of this shell's reaped descendants (`times`,
  # line 2; run here, not in a $(...) subshell, which has no children)
	times >"$TMP/times"
	KIDS=$(awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2]
		}
		printf "%.3f\n", t
	}' "$TMP/times")
}

meas_begin()
{
	M_T0=$EPOCHREALTIME
	M_BUSY0=$(busy_secs)
	kids_secs
	M_KIDS0=$KIDS
}

meas_end()
{ # meas_end KEY
	local t1 busy1 kids1
	t1=$EPOCHREALTIME
	busy1=$(busy_secs)
	kids_secs
	kids1=$KIDS
	OTHER[$1]=$(awk -v t0="$M_T0" -v t1="$t1" -v b0="$M_BUSY0" -v b1="$busy1" \
		-v k0="$M_KIDS0" -v k1="$kids1" 'BEGIN {
		o = ((b1 - b0) - (k1 - k0)) / (t1 - t0); if (o < 0) o = 0; printf "%.2f", o }')
}

field()
{ # field LINE NAME: the value of NAME=value in a result line
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

record()
{ # record KEY LOG MSGS_FIELD: parse the log's last result line
	local key=$1 log=$2 f=$3 line
	meas_end "$key"
	line=$(grep '^result: ' "$log" | tail -n 1 || true)
	if [[ -z $line ]]; then
		RATE[$key]=fail
		FAILED=1
		return
	fi
	RATE[$key]=$(field "$line" "$f")
	GBIT[$key]=$(field "$line" gbit_s)
	echo "  $line"
	echo "  (other processes used ${OTHER[$key]} CPUs on average meanwhile)"
}

run_shm()
{ # run_shm SIZE TRUST [--verify]
	local size=$1 trust=$2 v=${3:-} c_pid c_rc=0 b_rc=0 rc i
	local key="shm/$2/$1${v:+/verify}" ep="@cmp-$$-$2-$1${v:+-v}"
	local log=$TMP/shm-$trust-$size${v}.log clog=$TMP/shm-$trust-$size${v}.create.log
	banner "libbulk shm echo, $size-byte buffers, burst 32, trust $trust${v:+, $v}"
	meas_begin
	"$BULKPERF" --backend shm --mode echo --role create --endpoint "$ep" --trust "$trust" \
		--stats-period 0 >"$clog" 2>&1 &
	c_pid=$!
	PIDS+=("$c_pid")
	"$BULKPERF" --backend shm --mode echo --role bind --endpoint "$ep" --trust "$trust" \
		--buffer-size "$size" --burst 32 --duration "$DURATION" --stats-period 0 ${v:+"$v"} \
		>"$log" 2>&1 || b_rc=$?
	# The reflector ends when the source tears the channel down.
	for ((i = 0; i < 100; i++)); do
		kill -0 "$c_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$c_pid" 2>/dev/null; then
		echo "  compare: the create side (pid $c_pid) did not exit 10 s after the bind side; SIGTERM"
		kill -TERM "$c_pid" 2>/dev/null || true
		c_rc=timeout
	fi
	if wait "$c_pid"; then rc=0; else rc=$?; fi
	[[ $c_rc == timeout ]] || c_rc=$rc
	PIDS=() # reaped: its PID may be reused, never signal it again
	record "$key" "$log" buffers_per_s
	# bulkperf says whether a payload byte was touched (without --verify
	# none is at FULL and HALF): nominal Gbit/s is buffers x size.
	if [[ $(field "$(grep '^result: ' "$log" | tail -n 1 || true)" payload) == nominal ]]; then
		NOTE[$key]=nominal
	fi
	if ((b_rc != 0)) || [[ $c_rc != 0 ]]; then
		echo "  compare: bulkperf exit status: bind side $b_rc, create side $c_rc"
		echo "  ---- bind side (last lines) ----"
		tail -n 15 "$log" | sed 's/^/  | /'
		echo "  ---- create side (last lines) ----"
		tail -n 15 "$clog" | sed 's/^/  | /'
		NOTE[$key]="exit $b_rc/$c_rc"
		FAILED=1
	fi
}

run_memif()
{ # run_memif SIZE
	local size=$1 key="memif/$1" log=$TMP/memif-$1.log rc=0
	banner "memif: two dpdk-testpmd, io forwarding, $size-byte packets"
	meas_begin
	bash "$HERE/memif_testpmd.sh" --size "$size" --duration "$DURATION" >"$log" 2>&1 || rc=$?
	if ((rc != 0 && rc != 3)); then
		# testpmd's memif link sometimes does not come up on a loaded
		# machine; one more try before the row counts as failed.
		grep -E '^memif: error' "$log" | sed 's/^/  first try: /' || true
		rc=0
		bash "$HERE/memif_testpmd.sh" --size "$size" --duration "$DURATION" >"$log" 2>&1 ||
			rc=$?
	fi
	grep -E '^memif: (client|note|n/a|error)' "$log" | sed 's/^/  /' || true
	if ((rc == 3)); then
		meas_end "$key"
		RATE[$key]=n/a
		return
	fi
	record "$key" "$log" pkts_per_s
	if ((rc != 0)); then
		tail -n 30 "$log" | sed 's/^/  | /'
		NOTE[$key]="exit $rc"
		FAILED=1
	fi
}

run_stream()
{ # run_stream PEER MODE SIZE
	local key="$1/$2/$3" log=$TMP/$1-$2-$3.log rc=0
	local args=(--peer "$1" --mode "$2" --size "$3" --duration "$DURATION")
	[[ -n $STREAM_CPUS ]] && args+=(--cpus "$STREAM_CPUS")
	banner "bulk-streamperf ${args[*]}"
	meas_begin
	"$STREAMPERF" "${args[@]}" >"$log" 2>&1 || rc=$?
	grep -E '^streamperf: (unix socketpair\(|pipe:)' "$log" | sed 's/^/  /' || true
	record "$key" "$log" msgs_per_s
	if ((rc != 0)); then
		tail -n 10 "$log" | sed 's/^/  | /'
		NOTE[$key]="exit $rc"
		FAILED=1
	fi
}

if [[ $SKIP != *" shm "* ]]; then
	run_shm 2048 full
	run_shm 65536 full
	run_shm 65536 half
	run_shm 65536 none
	# Not a target: the same with every payload byte written by the source
	# and read by the reflector (bulkperf --verify), i.e. with the bytes
	# actually touched, as the stream peers' kernel copies touch them.
	run_shm 65536 full --verify
fi
if [[ $SKIP != *" memif "* ]]; then
	run_memif 2048
	run_memif 65535
fi
for peer in unix pipe; do
	[[ $SKIP == *" $peer "* ]] && continue
	for mode in stream echo; do
		run_stream "$peer" "$mode" 2048
		run_stream "$peer" "$mode" 65536
	done
done

# ---------------------------------------------------------------- table
num()
{ # num KEY: the rate if it is a number, else empty
	local v=${RATE[$1]:-}
	[[ $v =~ ^[0-9]+([.][0-9]+)?$ ]] && echo "$v"
	return 0
}

BUSY_ROWS=0
row()
{ # row LABEL KEY SIZE
	local v=${RATE[$2]:-skipped} g=${GBIT[$2]:-} n=${NOTE[$2]:-} o=${OTHER[$2]:--}
	if [[ $o != - ]] && awk -v o="$o" 'BEGIN { exit !(o > 0.1) }'; then
		BUSY_ROWS=$((BUSY_ROWS + 1))
		o="$o !"
	fi
	if [[ $v =~ ^[0-9] ]]; then
		awk -v l="$1" -v s="$3" -v v="$v" -v g="$g" -v n="$n" -v o="$o" 'BEGIN {
			printf "| %-40s | %6s | %14.0f | %9.3f | %6s | %-8s |\n", l, s, v, g, o, n }'
	else
		printf '| %-40s | %6s | %14s | %9s | %6s | %-8s |\n' "$1" "$3" "$v" "-" "$o" "$n"
	fi
}

ratio()
{ # ratio LABEL NUM_KEY DEN_KEY [bytes NUM_SIZE DEN_SIZE] [TARGET]
	# Prints "label: x.xx" (+ target verdict); sets R_VAL and R_VERDICT.
	local label=$1 a b ns=1 ds=1 target=""
	a=$(num "$2")
	b=$(num "$3")
	shift 3
	if [[ ${1:-} == bytes ]]; then
		ns=$2
		ds=$3
		shift 3
	fi
	target=${1:-}
	R_VAL=n/a
	R_VERDICT=""
	if [[ -z $a || -z $b ]] || awk -v b="$b" 'BEGIN { exit !(b == 0) }'; then
		R_VAL=n/a
		[[ -z $target ]] || R_VERDICT="not measured"
	else
		R_VAL=$(awk -v a="$a" -v b="$b" -v ns="$ns" -v ds="$ds" \
			'BEGIN { printf "%.2f", (a * ns) / (b * ds) }')
		if [[ -n $target ]]; then
			if awk -v r="$R_VAL" -v t="$target" 'BEGIN { exit !(r >= t) }'; then
				R_VERDICT=PASS
			else
				R_VERDICT=MISS
			fi
		fi
	fi
	local shown=$R_VAL
	[[ $R_VAL == n/a ]] || shown=${R_VAL}x
	if [[ -n $target ]]; then
		printf '  %-58s %9s   target >= %sx: %s\n' "$label" "$shown" "$target" "$R_VERDICT"
	else
		printf '  %-58s %9s\n' "$label" "$shown"
	fi
}

banner "results (${DURATION}s each; msgs/s = buffers, packets or chunks per second; Gbit/s one way)"
echo "(nominal: libbulk moved ownership of the buffers; no payload byte was read or written)"
echo
printf '| %-40s | %6s | %14s | %9s | %6s | %-8s |\n' "what" "bytes" "msgs/s" "Gbit/s" \
	"others" "note"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "-------:" \
	"$(printf -- '-%.0s' {1..15}):" "----------:" "-------:" "----------"
row "libbulk shm echo, burst 32, FULL" shm/full/2048 2048
row "libbulk shm echo, burst 32, FULL" shm/full/65536 65536
row "libbulk shm echo, burst 32, HALF" shm/half/65536 65536
row "libbulk shm echo, burst 32, NONE" shm/none/65536 65536
row "libbulk shm echo, FULL, --verify" shm/full/65536/verify 65536
row "memif, 2 x testpmd io, 1024 in flight" memif/2048 2048
row "memif, 2 x testpmd io, 1024 in flight" memif/65535 65535
row "Unix stream socket, one way" unix/stream/2048 2048
row "Unix stream socket, one way" unix/stream/65536 65536
row "Unix stream socket, echo" unix/echo/2048 2048
row "Unix stream socket, echo" unix/echo/65536 65536
row "pipe, one way" pipe/stream/2048 2048
row "pipe, one way" pipe/stream/65536 65536
row "pipes, echo" pipe/echo/2048 2048
row "pipes, echo" pipe/echo/65536 65536
echo "others: CPUs used by processes not started here, on average, during that row;"
echo "        '!' (> 0.1): the machine was not idle; that figure is low by an unknown amount"
if ((BUSY_ROWS)); then
	echo "compare: warning: $BUSY_ROWS rows were measured while other processes ran; rerun on an idle machine"
fi
echo
echo "ratios (libbulk shm echo FULL over the peer; bytes/s where sizes differ):"
ratio "buffers/s over memif packets/s, 2 KiB" shm/full/2048 memif/2048 1.0
T1=$R_VAL T1V=$R_VERDICT
ratio "bytes/s over Unix socket one-way bytes/s, 64 KiB" shm/full/65536 unix/stream/65536 10
T2=$R_VAL T2V=$R_VERDICT
ratio "bytes/s over Unix socket echo bytes/s, 64 KiB" shm/full/65536 unix/echo/65536
ratio "bytes/s over pipe one-way bytes/s, 64 KiB" shm/full/65536 pipe/stream/65536
P1=$R_VAL
ratio "bytes/s over pipe echo bytes/s, 64 KiB" shm/full/65536 pipe/echo/65536
ratio "bytes/s over memif bytes/s, 64 KiB vs 65535 B packets" shm/full/65536 memif/65535 \
	bytes 65536 65535
M64=$R_VAL
ratio "bytes/s over Unix socket one-way bytes/s, 2 KiB" shm/full/2048 unix/stream/2048
ratio "the same, with --verify (payload written and read)" shm/full/65536/verify unix/stream/65536
echo "cost of trust at 64 KiB (buffers/s relative to FULL):"
ratio "HALF / FULL" shm/half/65536 shm/full/65536
HALF=$R_VAL
ratio "NONE / FULL" shm/none/65536 shm/full/65536
NONE=$R_VAL

fx()
{ # fx VALUE: "1.23x", or "n/a"
	if [[ $1 == n/a ]]; then echo "n/a"; else echo "${1}x"; fi
}

echo
echo "compare: shm/memif pkts/s 2KiB $(fx "$T1") (target >= 1.0x) ${T1V};" \
	"shm/unix bytes/s 64KiB $(fx "$T2") (target >= 10x) ${T2V};" \
	"shm/pipe 64KiB $(fx "$P1"); shm/memif 64KiB $(fx "$M64");" \
	"half $(fx "$HALF") none $(fx "$NONE") of full$( ((FAILED == 0)) || echo '; SOME RUNS FAILED')"
exit $((FAILED ? 1 : 0))
