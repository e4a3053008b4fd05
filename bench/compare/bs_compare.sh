#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The block service side by side with nbdkit, in one run on this machine:
#
#   1. shm     bs-user -> nbs (memory store) over the shm backend, against
#              fio (nbd engine, libnbd) -> nbdkit's memory plugin over a Unix
#              socket: 1 MiB sequential write, 4 KiB random write (QD 32),
#              4 KiB random read (QD 32), 1 MiB sequential read (QD 8 for
#              the 1 MiB rows, both sides), over the same 64 MiB range of a
#              256 MiB store, COMPARE_DURATION seconds each (writes first,
#              so that the reads read written blocks on both servers).
#   2. veth    bs-user -> nbs-proxy (shm) -> nbs over the dpdk backend on a
#              net_af_xdp veth pair between two network namespaces
#              (198.18.0.1 / 198.18.0.2, no default route; the control
#              connections over Unix socket paths, which namespaces share),
#              and fio's nbd engine -> nbs-proxy's NBD front end -> nbs
#              (the same proxy, also listening with --nbd, issue 12),
#              against fio -> nbdkit over TCP across the same pair (after
#              the DPDK processes have gone, veth offloads on: the kernel's
#              best case), and an iperf3 TCP stream on the same pair
#              (offloads as the DPDK run has them, off, and on).
#              Skipped with "proxy: not measured (reason)" when nbs-proxy is
#              missing, does not start, or the machine cannot run af_xdp.
#
# For every row: IOPS and MB/s (1e6 bytes) as the client counted them; the
# server's CPU time (utime + stime of /proc/PID/stat, all its threads,
# sampled before and after the client ran); server cores = CPU s / wall s;
# IOPS and MB/s per server core = requests (bytes) / server CPU seconds;
# cycles per request = server CPU seconds x TSC Hz / requests. The client's
# CPU (reaped child time) and the CPU used by other processes meanwhile
# (/proc/stat minus ours) are printed as well: on a shared 2-vCPU machine a
# busy neighbour shows up in every figure.
#
# Targets (MET / MISSED):
#   shm:  nbs 4 KiB IOPS per server core >= 1,000,000 (random read, write)
#         and >= 20x nbdkit's 4 KiB IOPS per server core
#   veth: proxy path 4 KiB IOPS >= 2x nbdkit's over TCP on the same veth;
#         proxy path 1 MiB sequential goodput >= 1.0x the iperf3 stream
#
# Installs fio, nbdkit and iperf3 (Debian packages) when missing (one
# apt-get update if a package is not found). Builds a release build in
# build-bench-bs/ (or uses BULK_BUILD_DIR). Every process it starts is
# stopped by PID and the namespaces (bscmp<pid>a/b) are removed on exit,
# whatever happens.
#
# Usage: bash bench/compare/bs_compare.sh      (as root; from any directory)
#   COMPARE_DURATION  seconds per measurement (default 5)
#   COMPARE_DPDK_MTU  veth MTU (default 3442, as dpdk_compare.sh)
#   BULK_BUILD_DIR    use this build instead of build-bench-bs/
#   COMPARE_SKIP      space-separated subset of: shm veth
# Last line: bs-compare: ... (the targets)
# Exit: 0 when every measurement ran (a MISSED target is a result), 1 when
#       one failed, 77 when not root.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
DURATION=${COMPARE_DURATION:-5}
MTU=${COMPARE_DPDK_MTU:-3442}
SKIP=" ${COMPARE_SKIP:-} "
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION == 0)) || ! [[ $MTU =~ ^[0-9]+$ ]]; then
	echo "bs-compare: COMPARE_DURATION (whole seconds > 0) and COMPARE_DPDK_MTU must be numbers" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "bs-compare: needs root (apt-get, EAL, AF_XDP, network namespaces)"
	exit 77
fi

# shellcheck source=../../tests/integration/netns_lib.sh
. "$ROOT/tests/integration/netns_lib.sh"
TMP=$(mktemp -d /tmp/bulk-bs-compare.XXXXXX)
P_PAIR=bscmp$$
PIDS=()

stop_pid()
{ # stop_pid PID: SIGTERM, 5 s, SIGKILL; reap
	local p=$1 i
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		[[ $(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null) == Z ]] && break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do
		stop_pid "$p"
	done
	netns_cleanup "$P_PAIR"
	[[ -n ${THP_WAS:-} ]] && echo "$THP_WAS" >"$THP_SHMEM" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bs-compare: $*"; }
banner() { echo; echo "== $*"; }

# nbs asks for 2 MiB pages for its memory store (madvise); memfd memory
# gets them only with shmem THP at "advise". Set for the run, put back on
# exit (BS_COMPARE_THP=0 leaves the machine's setting alone).
THP_SHMEM=/sys/kernel/mm/transparent_hugepage/shmem_enabled
THP_WAS=
if [[ ${BS_COMPARE_THP:-1} != 0 && -w $THP_SHMEM ]] && grep -q '\[never\]' "$THP_SHMEM"; then
	THP_WAS=never
	echo "+ echo advise > $THP_SHMEM   (2 MiB pages for the memory stores; put back on exit)"
	echo advise >"$THP_SHMEM" || THP_WAS=
fi

# ------------------------------------------------------------- packages
APT_UPDATED=0
need_pkg()
{ # need_pkg COMMAND PACKAGE: install PACKAGE when COMMAND is missing
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2 (Debian package)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" \
		>"$TMP/apt-$2.log" 2>&1; then
		if ((APT_UPDATED == 0)); then
			APT_UPDATED=1
			apt-get update -q >"$TMP/apt-update.log" 2>&1 || true
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" \
				>"$TMP/apt-$2.log" 2>&1 || true
		fi
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	tail -n 5 "$TMP/apt-$2.log" >&2
	say "no $1 ($2 did not install)"
	return 1
}
need_pkg fio fio || exit 1
need_pkg nbdkit nbdkit || exit 1
need_pkg iperf3 iperf3 || true
if ! fio --enghelp 2>/dev/null | grep -qw nbd; then
	say "this fio has no nbd engine (it is built with libnbd in Debian 12's fio)"
	exit 1
fi

# ---------------------------------------------------------------- build
if [[ -n ${BULK_BUILD_DIR:-} ]]; then
	BUILD=$BULK_BUILD_DIR
	banner "using build $BUILD"
else
	BUILD=build-bench-bs
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
	say "built $BUILD"
fi
NBS=$BUILD/apps/nbs/nbs
BSU=$BUILD/apps/bs-user/bs-user
PROXY=$BUILD/apps/proxy/nbs-proxy
for b in "$NBS" "$BSU"; do
	[[ -x $b ]] || { say "$b was not built" >&2; exit 1; }
done

# ---------------------------------------------------------- the machine
banner "machine"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# Cycles: the nominal (TSC) rate. "@ x.xxGHz" in the model name when it has
# one; otherwise cpu MHz, which is the TSC rate on a VM whose flags say
# constant_tsc + tsc_known_freq (as here); perf's cycle counter is often
# absent in a VM and counts actual, not nominal, cycles anyway.
ghz=$(sed -n 's/.*@ *\([0-9.]*\)GHz.*/\1/p' <<<"$cpu")
if [[ -n $ghz ]]; then
	TSC_HZ=$(awk -v g="$ghz" 'BEGIN { printf "%.0f", g * 1e9 }')
	hz_src="model name"
else
	TSC_HZ=$(awk -F': ' '/^cpu MHz/ { printf "%.0f", $2 * 1e6; exit }' /proc/cpuinfo)
	hz_src="/proc/cpuinfo cpu MHz"
	grep -qw tsc_known_freq /proc/cpuinfo && hz_src="$hz_src, tsc_known_freq"
fi
say "$(nproc) CPUs ($cpu), TSC $(awk -v h="$TSC_HZ" 'BEGIN { printf "%.3f GHz", h / 1e9 }') ($hz_src)," \
	"kernel $(uname -r), $(date -u +%FT%TZ)"
say "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(
	git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)'), build $BUILD," \
	"${DURATION}s per measurement; $(fio --version), nbdkit $(nbdkit --version | awk '{ print $2 }')"
read -r load1 load5 _ </proc/loadavg
say "load average $load1 (1 min) $load5 (5 min) at the start"
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
	say "warning: the machine is not idle; every figure below shares its CPUs with" \
		"$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$2 != "ps"' | head -n 3 |
			awk '{ printf "%s%s %s%%", s, $2, $1; s = ", " }')"
fi

# ------------------------------------------------------------ measuring
HZ=$(getconf CLK_TCK)
declare -A IOPS MBS IOS BYTES SCPU WALL CCPU OTH
FAILED=0
SRV=() # the server PIDs whose CPU the current row charges
KIDS=0

kids_secs()
{ # KIDS = user+sys seconds of this shell's reaped children (run here, not in $(...))
	times >"$TMP/times"
	KIDS=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
		sub("s", "", a[2]); t += a[1] * 60 + a[2] } printf "%.3f\n", t }' "$TMP/times")
}

busy_secs()
{
	awk -v hz="$HZ" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}

srv_secs()
{ # CPU seconds (utime + stime, every thread) of the PIDs in SRV
	local p t=0 s
	for p in "${SRV[@]}"; do
		s=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || s=0
		t=$((t + ${s:-0}))
	done
	awk -v t="$t" -v hz="$HZ" 'BEGIN { printf "%.3f\n", t / hz }'
}

# measure KEY LOG CMD...: run the client in front, charging SRV's CPU
measure()
{
	local key=$1 log=$2 s0 s1 t0 t1 b0 b1 k0 rc
	shift 2
	echo "+ $*"
	s0=$(srv_secs)
	b0=$(busy_secs)
	kids_secs
	k0=$KIDS
	t0=$EPOCHREALTIME
	timeout $((DURATION + 60)) "$@" >"$log" 2>&1
	rc=$?
	t1=$EPOCHREALTIME
	s1=$(srv_secs)
	b1=$(busy_secs)
	kids_secs
	WALL[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	SCPU[$key]=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }')
	CCPU[$key]=$(awk -v a="$k0" -v b="$KIDS" -v w="${WALL[$key]}" 'BEGIN { printf "%.2f", (b - a) / w }')
	OTH[$key]=$(awk -v b0="$b0" -v b1="$b1" -v s="${SCPU[$key]}" -v k0="$k0" -v k1="$KIDS" \
		-v w="${WALL[$key]}" 'BEGIN { o = ((b1 - b0) - s - (k1 - k0)) / w; if (o < 0) o = 0;
		printf "%.2f", o }')
	return $rc
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }

# bs_row KEY LOG: parse a bs-user run
bs_row()
{
	local key=$1 log=$2 line
	line=$(grep '^result: ' "$log" | tail -n 1)
	if [[ -z $line || $(field "$line" errors) != 0 ]]; then
		say "$key: bs-user failed; its last lines:"
		tail -n 15 "$log" | sed 's/^/  | /'
		IOPS[$key]=fail
		FAILED=1
		return 1
	fi
	echo "  $line"
	IOPS[$key]=$(field "$line" iops)
	MBS[$key]=$(field "$line" mb_s)
	IOS[$key]=$(field "$line" ios)
	BYTES[$key]=$(field "$line" bytes)
	echo "  server CPU ${SCPU[$key]} s in ${WALL[$key]} s; client $(printf '%s' "${CCPU[$key]}") cores;" \
		"others ${OTH[$key]} cores"
}

# fio_row KEY LOG DIR(read|write): parse fio's JSON
fio_row()
{
	local key=$1 log=$2 dir=$3 out
	if ! out=$(python3 - "$log" "$dir" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
job = j["jobs"][0]
if job.get("error"):
    sys.exit(1)
r = job[sys.argv[2]]
print("%.0f %.1f %d %d" % (r["iops"], r["bw_bytes"] / 1e6, r["total_ios"], r["io_bytes"]))
EOF
	); then
		say "$key: fio failed; its last lines:"
		tail -n 15 "$log" "$log.err" 2>/dev/null | sed 's/^/  | /'
		IOPS[$key]=fail
		FAILED=1
		return 1
	fi
	read -r "IOPS[$key]" "MBS[$key]" "IOS[$key]" "BYTES[$key]" <<<"$out"
	echo "  fio: iops=${IOPS[$key]} mb_s=${MBS[$key]} ios=${IOS[$key]} bytes=${BYTES[$key]}"
	echo "  server CPU ${SCPU[$key]} s in ${WALL[$key]} s; client ${CCPU[$key]} cores;" \
		"others ${OTH[$key]} cores"
}

# wait_line FILE REGEX PID [SECS]: FILE has a line matching REGEX, PID alive
wait_line()
{
	local i
	for ((i = 0; i < ${4:-30} * 10; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The four workloads: name, bs-user args, fio args, fio direction.
RANGE=$((64 * 1024 * 1024))
WL=(seqwrite randwrite randread seqread)
declare -A BSARGS=(
	[seqwrite]="--workload seq --rw write --bs 1048576 --qd 8"
	[randwrite]="--workload rand --rw write --bs 4096 --qd 32"
	[randread]="--workload rand --rw read --bs 4096 --qd 32"
	[seqread]="--workload seq --rw read --bs 1048576 --qd 8"
)
declare -A FIOARGS=(
	[seqwrite]="--rw=write --bs=1m --iodepth=8"
	[randwrite]="--rw=randwrite --bs=4k --iodepth=32 --norandommap --randrepeat=0"
	[randread]="--rw=randread --bs=4k --iodepth=32 --norandommap --randrepeat=0"
	[seqread]="--rw=read --bs=1m --iodepth=8"
)
declare -A FIODIR=([seqwrite]=write [randwrite]=write [randread]=read [seqread]=read)

run_bs_user()
{ # run_bs_user KEY WL CONNECT [NS]
	local key=$1 w=$2 ctl=$3 ns=${4:-} pre=() f
	[[ -n $ns ]] && pre=(ip netns exec "$ns")
	f=$TMP/${key//\//-}
	# shellcheck disable=SC2086 # word lists
	measure "$key" "$f.log" "${pre[@]}" "$BSU" --connect "$ctl" ${BSARGS[$w]} \
		--duration "$DURATION" --range "$RANGE" --stats-period 0
	bs_row "$key" "$f.log"
}

run_fio()
{ # run_fio KEY WL URI [NS]
	local key=$1 w=$2 uri=$3 ns=${4:-} pre=() f
	[[ -n $ns ]] && pre=(ip netns exec "$ns")
	f=$TMP/${key//\//-}
	# shellcheck disable=SC2086
	measure "$key" "$f.log.err" "${pre[@]}" fio --name="$w" --ioengine=nbd --uri="$uri" \
		${FIOARGS[$w]} --size="$RANGE" --time_based --runtime="$DURATION" --numjobs=1 \
		--output-format=json --output="$f.log"
	fio_row "$key" "$f.log" "${FIODIR[$w]}"
}

start_nbdkit()
{ # start_nbdkit LOG [NS] -- NBDKIT ARGS...: sets KPID
	local log=$1 ns=$2 pre=()
	shift 3
	[[ -n $ns ]] && pre=(ip netns exec "$ns")
	echo "+ (background) ${pre[*]} nbdkit --foreground --exit-with-parent $* memory size=256M"
	"${pre[@]}" nbdkit --foreground --exit-with-parent "$@" memory size=256M \
		>"$log" 2>&1 &
	KPID=$!
	PIDS+=("$KPID")
}

stop_server()
{ # stop_server PID LOG: SIGTERM, print its statistics lines
	stop_pid "$1"
	grep -E 'stats: (total|hop=|store=)' "$2" 2>/dev/null | sed 's/^/  | /'
}

# ---------------------------------------------------------- 1. over shm
if [[ $SKIP != *" shm "* ]]; then
	banner "1. shm: bs-user -> nbs (memory store) vs fio (nbd) -> nbdkit memory, Unix socket"
	echo "+ (background) $NBS --store memory:256M --listen unix:$TMP/nbs.sock"
	"$NBS" --store memory:256M --listen "unix:$TMP/nbs.sock" >"$TMP/nbs-shm.out" 2>&1 &
	NP=$!
	PIDS+=("$NP")
	if wait_line "$TMP/nbs-shm.out" '^ready:' "$NP"; then
		sed -n '/^ready:/p' "$TMP/nbs-shm.out" | sed 's/^/  /'
		SRV=("$NP")
		for w in "${WL[@]}"; do
			run_bs_user "shm/nbs/$w" "$w" "unix:$TMP/nbs.sock"
		done
		echo "+ kill -TERM $NP (nbs)"
		stop_server "$NP" "$TMP/nbs-shm.out"
	else
		say "nbs did not start:"
		tail -n 10 "$TMP/nbs-shm.out" | sed 's/^/  | /'
		FAILED=1
	fi
	start_nbdkit "$TMP/nbdkit-shm.out" "" -- -U "$TMP/nbdkit.sock"
	for ((i = 0; i < 100; i++)); do
		[[ -S $TMP/nbdkit.sock ]] && break
		sleep 0.1
	done
	SRV=("$KPID")
	for w in "${WL[@]}"; do
		run_fio "shm/nbdkit/$w" "$w" "nbd+unix:///?socket=$TMP/nbdkit.sock"
	done
	stop_pid "$KPID"
fi

# ------------------------------------------------ 2. proxy over af_xdp veth
PROXY_REASON=""
if [[ $SKIP == *" veth "* ]]; then
	PROXY_REASON="skipped (COMPARE_SKIP)"
elif [[ ! -x $PROXY ]]; then
	PROXY_REASON="$PROXY was not built"
elif ! "$PROXY" --help >/dev/null 2>&1; then
	PROXY_REASON="nbs-proxy --help failed"
elif [[ $("$NBS" --help 2>&1) != *--dpdk* ]]; then
	PROXY_REASON="nbs has no --dpdk option"
elif ! netns_have_root; then
	PROXY_REASON="no network namespaces here"
fi
if [[ -z $PROXY_REASON ]]; then
	banner "2. veth (net_af_xdp, MTU $MTU): bs-user -> nbs-proxy -> nbs (dpdk) vs fio -> nbdkit (TCP), iperf3"
	if ! netns_setup_pair "$P_PAIR" "$MTU" || ! netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A" ||
		! netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"; then
		PROXY_REASON="could not set up the veth pair"
	fi
fi
if [[ -z $PROXY_REASON ]]; then
	echo "+ netns_setup_pair $P_PAIR $MTU: $NETNS_A/$NETNS_IF_A $NETNS_IP_A <-> $NETNS_B/$NETNS_IF_B $NETNS_IP_B"
	cpus="0-$(($(nproc) - 1))"
	eal() { echo "--no-huge --no-shconf -m 512 --no-pci --file-prefix $1 --lcores=0@($cpus)" \
		"--log-level=lib.eal:error --vdev net_af_xdp0,iface=$2,start_queue=0,queue_count=1"; }
	read -r -a EAL_N <<<"$(eal "bscn$$" "$NETNS_IF_B")"
	read -r -a EAL_P <<<"$(eal "bscp$$" "$NETNS_IF_A")"
	nctl=unix:$TMP/nbs-veth.sock
	pctl=unix:$TMP/proxy.sock
	echo "+ (background) ip netns exec $NETNS_B $NBS ${EAL_N[*]} -- --store memory:256M --listen $nctl" \
		"--dpdk port=0,ip=$NETNS_IP_B"
	ip netns exec "$NETNS_B" "$NBS" "${EAL_N[@]}" -- --store memory:256M --listen "$nctl" \
		--dpdk "port=0,ip=$NETNS_IP_B" >"$TMP/nbs-veth.out" 2>&1 &
	NP=$!
	PIDS+=("$NP")
	if ! wait_line "$TMP/nbs-veth.out" '^ready:' "$NP"; then
		tail -n 10 "$TMP/nbs-veth.out" | sed 's/^/  | /'
		if r=$(netns_af_xdp_missing "$TMP/nbs-veth.out"); then
			PROXY_REASON="$r"
		else
			PROXY_REASON="nbs --dpdk on net_af_xdp did not start"
			FAILED=1
		fi
	fi
fi
if [[ -z $PROXY_REASON ]]; then
	sed -n '/^ready:/p' "$TMP/nbs-veth.out" | sed 's/^/  /'
	# The proxy also serves NBD (issue 12's fio -> nbs-proxy -> (dpdk) -> nbs
	# rows), on a Unix socket in namespace a, where fio runs.
	pnbd=()
	"$PROXY" --help 2>&1 | grep -q -- '--nbd' && pnbd=(--nbd "unix:$TMP/proxy-nbd.sock")
	echo "+ (background) ip netns exec $NETNS_A $PROXY ${EAL_P[*]} -- --upstream $nctl" \
		"--via dpdk:port=0,ip=$NETNS_IP_A --listen $pctl ${pnbd[*]}"
	ip netns exec "$NETNS_A" "$PROXY" "${EAL_P[@]}" -- --upstream "$nctl" \
		--via "dpdk:port=0,ip=$NETNS_IP_A" --listen "$pctl" "${pnbd[@]}" >"$TMP/proxy.out" 2>&1 &
	PP=$!
	PIDS+=("$PP")
	if ! wait_line "$TMP/proxy.out" '^ready:' "$PP"; then
		tail -n 10 "$TMP/proxy.out" | sed 's/^/  | /'
		PROXY_REASON="nbs-proxy --via dpdk on net_af_xdp did not say ready: within 30 s"
		stop_pid "$PP"
		stop_pid "$NP"
	fi
fi
if [[ -z $PROXY_REASON ]]; then
	sed -n '/^ready:/p' "$TMP/proxy.out" | sed 's/^/  /'
	SRV=("$NP" "$PP")
	for w in "${WL[@]}"; do
		# Server CPU of this path: nbs and the proxy together.
		run_bs_user "veth/proxy/$w" "$w" "$pctl" "$NETNS_A" || true
	done
	if ((${#pnbd[@]} > 0)); then
		for w in "${WL[@]}"; do
			run_fio "veth/pnbd/$w" "$w" "nbd+unix:///?socket=$TMP/proxy-nbd.sock" \
				"$NETNS_A" || true
		done
	fi
	echo "+ kill -TERM $PP (nbs-proxy), $NP (nbs)"
	stop_server "$PP" "$TMP/proxy.out"
	stop_server "$NP" "$TMP/nbs-veth.out"

	# TCP, after the af_xdp ports are gone: offloads on (the kernel's best case)
	echo "+ ip netns exec NS ethtool -K IF tx on tso on gso on gro on   (both ends)"
	ip netns exec "$NETNS_A" ethtool -K "$NETNS_IF_A" tx on tso on gso on gro on >/dev/null 2>&1
	ip netns exec "$NETNS_B" ethtool -K "$NETNS_IF_B" tx on tso on gso on gro on >/dev/null 2>&1
	start_nbdkit "$TMP/nbdkit-veth.out" "$NETNS_B" -- -i "$NETNS_IP_B" -p 10809
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$NETNS_B" ss -ltn 2>/dev/null | grep -q ':10809 ' && break
		sleep 0.1
	done
	SRV=("$KPID")
	for w in "${WL[@]}"; do
		run_fio "veth/nbdkit/$w" "$w" "nbd://$NETNS_IP_B:10809/" "$NETNS_A" || true
	done
	stop_pid "$KPID"

	# iperf3 TCP stream a -> b: offloads on, then off (as the DPDK run has them)
	if command -v iperf3 >/dev/null 2>&1; then
		for off in on off; do
			key=veth/iperf3/$off
			if [[ $off == off ]]; then
				netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A"
				netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"
			fi
			echo "+ (background) ip netns exec $NETNS_B iperf3 -s -1 -B $NETNS_IP_B"
			ip netns exec "$NETNS_B" iperf3 -s -1 -B "$NETNS_IP_B" >"$TMP/iperf3-s.out" 2>&1 &
			IP=$!
			PIDS+=("$IP")
			for ((i = 0; i < 50; i++)); do
				ip netns exec "$NETNS_B" ss -ltn 2>/dev/null | grep -q ':5201 ' && break
				sleep 0.1
			done
			SRV=("$IP")
			if measure "$key" "$TMP/iperf3-$off.json" ip netns exec "$NETNS_A" iperf3 -c "$NETNS_IP_B" \
				-t "$DURATION" -J; then
				MBS[$key]=$(python3 -c 'import json, sys
print("%.1f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 8e6))' \
					"$TMP/iperf3-$off.json" 2>/dev/null) || MBS[$key]=fail
				echo "  iperf3 (offloads $off): ${MBS[$key]} MB/s received"
			else
				MBS[$key]=fail
				FAILED=1
			fi
			stop_pid "$IP"
		done
	else
		MBS[veth/iperf3/on]=n/a
		MBS[veth/iperf3/off]=n/a
	fi
	netns_cleanup "$P_PAIR"
fi

# --------------------------------------------------------------- table
isnum() { [[ ${1:-} =~ ^[0-9]+([.][0-9]+)?$ ]]; }
# per-core and cycles figures of a row
derive()
{ # derive KEY: sets D_CORES D_IOPS_C D_MBS_C D_CYC (or "-")
	local k=$1
	D_CORES=- D_IOPS_C=- D_MBS_C=- D_CYC=-
	isnum "${IOS[$k]:-}" && isnum "${SCPU[$k]:-}" || return 0
	awk -v s="${SCPU[$k]}" 'BEGIN { exit !(s > 0) }' || return 0
	read -r D_CORES D_IOPS_C D_MBS_C D_CYC < <(awk -v s="${SCPU[$k]}" -v w="${WALL[$k]}" \
		-v n="${IOS[$k]}" -v b="${BYTES[$k]}" -v hz="$TSC_HZ" 'BEGIN {
		printf "%.2f %.0f %.1f %.0f\n", s / w, n / s, b / 1e6 / s, s * hz / n }')
}

row()
{ # row LABEL KEY
	local k=$2 o=${OTH[$2]:--}
	derive "$k"
	awk -v o="$o" 'BEGIN { exit !(o > 0.1) }' 2>/dev/null && o="$o !"
	printf '| %-46s | %10s | %8s | %9s | %13s | %9s | %9s | %6s | %6s |\n' "$1" "${IOPS[$k]:--}" \
		"${MBS[$k]:--}" "$D_CORES" "$D_IOPS_C" "$D_MBS_C" "$D_CYC" "${CCPU[$k]:--}" "$o"
}

verdict()
{ # verdict LABEL VALUE TARGET UNIT: prints a target line, sets V (MET, MISSED, not measured)
	if isnum "$2"; then
		if awk -v v="$2" -v t="$3" 'BEGIN { exit !(v >= t) }'; then V=MET; else V=MISSED; fi
		printf '  %-62s %12s   target >= %s%s: %s\n' "$1" "$2$4" "$3" "$4" "$V"
	else
		V="not measured"
		printf '  %-62s %12s   target >= %s%s: %s\n' "$1" "-" "$3" "$4" "$V"
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0)
	printf "%.2f", a / b; else printf "-" }'; }

banner "results (${DURATION}s each; MB/s = 1e6 bytes/s; per core = per second of server CPU)"
printf '| %-46s | %10s | %8s | %9s | %13s | %9s | %9s | %6s | %6s |\n' "row" "IOPS" "MB/s" \
	"srv cores" "IOPS/srv core" "MB/s/core" "cyc/req" "client" "others"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "-----------:" \
	"---------:" "----------:" "--------------:" "----------:" "----------:" "-------:" "-------:"
for w in "${WL[@]}"; do
	case $w in
	seqwrite) d="1 MiB seq write QD8" ;; randwrite) d="4 KiB rand write QD32" ;;
	randread) d="4 KiB rand read QD32" ;; seqread) d="1 MiB seq read QD8" ;;
	esac
	[[ $SKIP == *" shm "* ]] || {
		row "shm: bs-user -> nbs, $d" "shm/nbs/$w"
		row "unix: fio -> nbdkit, $d" "shm/nbdkit/$w"
	}
done
if [[ -z $PROXY_REASON ]]; then
	for w in "${WL[@]}"; do
		case $w in
		seqwrite) d="1 MiB seq write QD8" ;; randwrite) d="4 KiB rand write QD32" ;;
		randread) d="4 KiB rand read QD32" ;; seqread) d="1 MiB seq read QD8" ;;
		esac
		row "veth: user->proxy->nbs, $d" "veth/proxy/$w"
		[[ -n ${WALL[veth/pnbd/$w]:-} ]] && row "veth: fio -nbd-> proxy->nbs, $d" "veth/pnbd/$w"
		row "veth TCP: fio -> nbdkit, $d" "veth/nbdkit/$w"
	done
	printf '| %-46s | %10s | %8s | %9s | %13s | %9s | %9s | %6s | %6s |\n' \
		"veth TCP: iperf3 stream, offloads on" - "${MBS[veth/iperf3/on]:--}" - - - - - \
		"${OTH[veth/iperf3/on]:--}"
	printf '| %-46s | %10s | %8s | %9s | %13s | %9s | %9s | %6s | %6s |\n' \
		"veth TCP: iperf3 stream, offloads off" - "${MBS[veth/iperf3/off]:--}" - - - - - \
		"${OTH[veth/iperf3/off]:--}"
fi
echo "srv cores: server CPU seconds / wall seconds (veth proxy rows: nbs + nbs-proxy; nbdkit: all"
echo "  its threads); IOPS/srv core = requests / server CPU seconds; cyc/req = server CPU s x"
echo "  $TSC_HZ Hz / requests; client: the client's CPU cores; others: CPUs used by processes"
echo "  not started here ('!' > 0.1: the machine was busy, the row is low by an unknown amount)"

banner "targets"
SUMMARY=()
derive shm/nbs/randread; nr=$D_IOPS_C
derive shm/nbs/randwrite; nw=$D_IOPS_C
derive shm/nbdkit/randread; kr=$D_IOPS_C
derive shm/nbdkit/randwrite; kw=$D_IOPS_C
verdict "shm: nbs 4 KiB rand read IOPS per server core" "$nr" 1000000 ""
SUMMARY+=("shm_rr_iops_core=$nr:$V")
verdict "shm: nbs 4 KiB rand write IOPS per server core" "$nw" 1000000 ""
SUMMARY+=("shm_rw_iops_core=$nw:$V")
r=$(ratio "$nr" "$kr")
verdict "shm: rand read IOPS/core, nbs over nbdkit" "$r" 20 x
SUMMARY+=("shm_rr_vs_nbdkit=${r/#-/n\/a}x:$V")
r=$(ratio "$nw" "$kw")
verdict "shm: rand write IOPS/core, nbs over nbdkit" "$r" 20 x
SUMMARY+=("shm_rw_vs_nbdkit=${r}x:$V")
if [[ -z $PROXY_REASON ]]; then
	for w in randread randwrite; do
		r=$(ratio "${IOPS[veth/proxy/$w]:-}" "${IOPS[veth/nbdkit/$w]:-}")
		verdict "veth: proxy path $w 4 KiB IOPS over nbdkit TCP" "$r" 2 x
		SUMMARY+=("veth_${w}_vs_nbdkit=${r}x:$V")
	done
	for w in randread randwrite; do
		[[ -n ${IOPS[veth/pnbd/$w]:-} ]] || continue
		r=$(ratio "${IOPS[veth/pnbd/$w]:-}" "${IOPS[veth/nbdkit/$w]:-}")
		printf '  %-62s %12s\n' "veth: fio (NBD) -> proxy -> nbs, $w, over fio -> nbdkit TCP" "${r}x"
		SUMMARY+=("veth_nbd_${w}_vs_nbdkit=${r}x")
	done
	for w in seqread seqwrite; do
		r=$(ratio "${MBS[veth/proxy/$w]:-}" "${MBS[veth/iperf3/on]:-}")
		verdict "veth: proxy path 1 MiB $w goodput over iperf3 (offloads on)" "$r" 1.0 x
		SUMMARY+=("veth_${w}_vs_iperf3=${r}x:$V")
		r2=$(ratio "${MBS[veth/proxy/$w]:-}" "${MBS[veth/iperf3/off]:-}")
		printf '  %-62s %12s\n' "  (the same over iperf3 with offloads off)" "${r2}x"
	done
else
	echo "proxy: not measured ($PROXY_REASON)"
	SUMMARY+=("proxy=not-measured")
fi
echo
echo "bs-compare: ${SUMMARY[*]}$( ((FAILED == 0)) || echo ' SOME RUNS FAILED')"
exit $((FAILED ? 1 : 0))
