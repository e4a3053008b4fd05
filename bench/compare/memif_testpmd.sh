#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The field's peer of bulkperf's shm echo: two dpdk-testpmd processes linked
# by net_memif (DPDK's driver for memif, the shared-memory packet interface
# of VPP/FD.io), packets going out and coming back, packets/s measured.
#
# Arrangement (why it is the fair peer of `bulkperf --mode echo`):
#
#   testpmd "E" (echo side): role=server, --forward-mode=io, forwards every
#       packet it receives on port 0 back out of port 0 (--port-topology=loop).
#   testpmd "G" (generator side): role=client, --forward-mode=io too; it
#       starts with `start tx_first BURSTS`, which puts BURSTS bursts of
#       --burst (32) packets of --size bytes on the link once, then forwards
#       whatever comes back out again.
#
#   So a fixed population of BURSTS x 32 packets (default 32 x 32 = 1024)
#   circulates G -> E -> G, a closed loop like bulkperf's echo (1024 buffers
#   in the pool, all in flight, bursts of 32, the sink passing each back).
#   The figure is G's Rx-pps: packets that completed the round trip per
#   second, measured by testpmd itself between two `show port stats all`
#   (the first after WARMUP seconds, the second DURATION seconds later).
#   Neither side touches the payload (io mode rewrites nothing), as bulkperf
#   without --verify does not. Not chosen: txonly (never receives, so
#   nothing "comes back"), flowgen + io (open loop: it offers more than the
#   loop carries and counts what the full rings did not drop), macswap
#   (writes both MAC addresses of every packet: work bulkperf does not do).
#
#   memif runs in its default copy mode: the sender copies each packet into
#   the shared region, the receiver copies it out into an mbuf (4 copies per
#   round trip). memif's zero-copy mode (zero-copy=yes, client only) needs
#   hugepage memory with --single-file-segments; it is not used here.
#
# Memory: --no-huge -m 1024 (EAL on plain anonymous memory; memif allocates
# its shared rings and buffers itself, memfd-backed, so no hugepages are
# needed and none are reserved). --in-memory cannot be used: with --no-huge
# EAL refuses it ("--legacy-mem is not compatible with --in-memory"). memif
# between two primary processes does not use DPDK's multi-process channel
# (it has its own Unix socket and passes memfds), so each process gets
# --no-shconf and its own --file-prefix, and the memif warning "Failed to
# register mp action callback" (secondary-process support) is harmless.
# The control socket is a real file in a temp dir (socket-abstract=no).
#
# Cores: testpmd needs a main lcore plus at least one forwarding lcore
# ("-l 0" alone is refused), so both get "-l 0,1": G forwards on lcore 0
# (--main-lcore 1), E on lcore 1 (--main-lcore 0). Each busy-polls its own
# core; the main lcores are idle (each waits for commands on stdin).
#
# Sizes: testpmd's packet length is 16 bits and so is memif's bsize, so the
# largest packet is 65535 bytes; a bigger --size is "n/a" (exit 3). Packets
# up to 32768 bytes are one mbuf; bigger ones two segments (--txpkts A,B).
# memif bsize = --size (one memif descriptor per packet, never chained).
#
# Usage: memif_testpmd.sh [--size BYTES] [--duration S] [--bursts N] [--burst N]
#        env: TESTPMD (binary, default dpdk-testpmd from PATH or /usr/bin),
#             MEMIF_WARMUP (s, default 1), MEMIF_KEEP_LOGS=1 (print log dir,
#             keep it)
# Installs the Debian package dpdk-dev (which carries /usr/bin/dpdk-testpmd
# on Debian 12; the package "dpdk" does not) when testpmd is missing and we
# are root.
# Last line: result: peer=memif mode=echo size=N pkts=N bytes=N pkts_per_s=X
#            gbit_s=X inflight=N
# Exit: 0 measured, 1 failure, 2 usage, 3 not applicable (size > 65535).

set -euo pipefail

SIZE=2048
DURATION=5
BURSTS=32
BURST=32
WARMUP=${MEMIF_WARMUP:-1}

usage()
{
	sed -n '/^# Usage:/,/^# Exit:/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
	case "$1" in
	--size) SIZE=${2:?}; shift 2 ;;
	--duration) DURATION=${2:?}; shift 2 ;;
	--bursts) BURSTS=${2:?}; shift 2 ;;
	--burst) BURST=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "memif: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
for v in SIZE BURSTS BURST; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "memif: --${v,,} must be a positive integer" >&2
		exit 2
	fi
done
if ! [[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ && $WARMUP =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	echo "memif: --duration and MEMIF_WARMUP must be seconds" >&2
	exit 2
fi
if ((SIZE < 64)); then
	echo "memif: --size must be at least 64 (Ethernet+IPv4+UDP headers)" >&2
	exit 2
fi
if ((BURST > 512)); then
	echo "memif: --burst is at most 512 (testpmd's MAX_PKT_BURST)" >&2
	exit 2
fi
if ((SIZE > 65535)); then
	echo "memif: n/a: --size $SIZE: testpmd's packet length and memif's bsize are 16-bit (max 65535)"
	exit 3
fi

# ------------------------------------------------------------- testpmd
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || echo /usr/bin/dpdk-testpmd)}
if [[ ! -x $TESTPMD ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "memif: $TESTPMD not found; as root: apt-get install dpdk-dev" >&2
		exit 1
	fi
	echo "memif: installing dpdk-dev (Debian 12 ships dpdk-testpmd in it)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends dpdk-dev >/dev/null
	TESTPMD=/usr/bin/dpdk-testpmd
	[[ -x $TESTPMD ]] || { echo "memif: dpdk-testpmd still missing" >&2; exit 1; }
fi

# ------------------------------------------------------------ geometry
# One mbuf per packet up to 32 KiB, else segments of 32 KiB (mbuf data room
# is 16 bits as well); --mbuf-size adds the 128-byte headroom.
SEG=$((SIZE < 32768 ? SIZE : 32768))
TXPKTS=""
rest=$SIZE
while ((rest > 0)); do
	s=$((rest < SEG ? rest : SEG))
	TXPKTS+="${TXPKTS:+,}$s"
	rest=$((rest - s))
done
MBUF_SIZE=$((SEG + 128))
NB_MBUFS=8192
MEM_MB=1024
INFLIGHT=$((BURSTS * BURST))
if ((INFLIGHT > 1024)); then
	echo "memif: --bursts x --burst ($INFLIGHT) is more than the memif ring (1024)" >&2
	exit 2
fi

# ------------------------------------------------------- run and clean
TMP=$(mktemp -d /tmp/bulk-memif.XXXXXX)
SOCK=$TMP/memif.sock
PFX_E=bulk-memif-$$-e
PFX_G=bulk-memif-$$-g
E_PID=""
G_PID=""

stop_pid()
{ # stop_pid PID SIGNAL SECONDS: signal, wait up to SECONDS, then SIGKILL
	local pid=$1 sig=$2 secs=$3 i
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "memif: pid $pid did not stop on SIG$sig; SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

stop_after()
{ # stop_after SECONDS PID SIGNAL: give PID SECONDS to exit, then stop_pid it
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.1
	done
	stop_pid "$2" "$3" 5
}

cleanup()
{
	exec 3>&- 4>&-
	stop_pid "$G_PID" TERM 5
	stop_pid "$E_PID" TERM 5
	if [[ -n $G_PID ]]; then wait "$G_PID" 2>/dev/null || true; fi
	if [[ -n $E_PID ]]; then wait "$E_PID" 2>/dev/null || true; fi
	rm -rf "/var/run/dpdk/$PFX_E" "/var/run/dpdk/$PFX_G" 2>/dev/null || true
	if [[ ${MEMIF_KEEP_LOGS:-0} == 1 ]]; then
		echo "memif: logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail()
{
	echo "memif: error: $*" >&2
	for f in "$TMP"/e.log "$TMP"/g.log; do
		[[ -f $f ]] || continue
		echo "---- last lines of $(basename "$f") ----" >&2
		grep -v '^[[:space:]]*$' "$f" | tail -n 25 >&2 || true
	done
	exit 1
}

EAL_COMMON=(--no-pci --no-huge -m "$MEM_MB" --no-shconf --log-level=lib.eal:warning)
VDEV="net_memif0,socket=$SOCK,socket-abstract=no,bsize=$SIZE,rsize=10"
APP_COMMON=(--forward-mode=io --port-topology=loop --nb-cores=1 --rxq=1 --txq=1
	--burst="$BURST" --mbuf-size="$MBUF_SIZE" --total-num-mbufs="$NB_MBUFS")

echo "memif: $TESTPMD, size $SIZE (txpkts $TXPKTS, mbuf-size $MBUF_SIZE, memif bsize $SIZE," \
	"ring 1024), $INFLIGHT packets circulating, warmup ${WARMUP}s, measured ${DURATION}s"

# Both read their commands from FIFOs this script writes (fd 3: G, fd 4: E),
# so that both can be told to stop forwarding before either disconnects.
mkfifo "$TMP/g.in" "$TMP/e.in"

# E: the echo side, memif server, forwards on lcore 1 from the start.
stdbuf -oL "$TESTPMD" -l 0,1 --main-lcore 0 "${EAL_COMMON[@]}" --file-prefix "$PFX_E" \
	--vdev="$VDEV,role=server" -- "${APP_COMMON[@]}" \
	-i --auto-start <"$TMP/e.in" >"$TMP/e.log" 2>&1 &
E_PID=$!
exec 4>"$TMP/e.in"
for ((i = 0; i < 300; i++)); do
	[[ -S $SOCK ]] && break
	kill -0 "$E_PID" 2>/dev/null || fail "the server testpmd exited during start-up"
	sleep 0.1
done
[[ -S $SOCK ]] || fail "the server testpmd did not create $SOCK in 30 s"

# G: the generator side, memif client, forwards on lcore 0.
stdbuf -oL "$TESTPMD" -l 0,1 --main-lcore 1 "${EAL_COMMON[@]}" --file-prefix "$PFX_G" \
	--vdev="$VDEV,role=client" -- "${APP_COMMON[@]}" --txpkts="$TXPKTS" \
	-i <"$TMP/g.in" >"$TMP/g.log" 2>&1 &
G_PID=$!
exec 3>"$TMP/g.in"

wait_for()
{ # wait_for FILE REGEX TENTHS_OF_SECONDS [PID] (fails at once if PID, default G, died)
	local i
	for ((i = 0; i < $3; i++)); do
		grep -q -E "$2" "$1" 2>/dev/null && return 0
		kill -0 "${4:-$G_PID}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

wait_for "$TMP/g.log" 'testpmd> ' 600 || fail "the client testpmd gave no prompt"
# The link is up once the client connected to the server's socket.
up=0
for ((i = 0; i < 20; i++)); do
	echo "show port info 0" >&3
	if wait_for "$TMP/g.log" 'Link status: up' 5; then
		up=1
		break
	fi
done
((up)) || fail "the memif link did not come up in 10 s"

echo "start tx_first $BURSTS" >&3
sleep "$WARMUP"
echo "show port stats all" >&3
sleep "$DURATION"
echo "show port stats all" >&3
# Stop forwarding on both sides, then G quits (disconnects), then E.
# (E used to be stopped by SIGINT while its lcore still forwarded; it then
# crashed now and then (SIGSEGV) as the client went away: testpmd 22.11.11.)
echo "stop" >&3
wait_for "$TMP/g.log" 'Done\.' 100 || true
echo "stop" >&4
wait_for "$TMP/e.log" 'Done\.' 100 "$E_PID" || true
echo "quit" >&3
exec 3>&-
g_rc=0
stop_after 15 "$G_PID" TERM
wait "$G_PID" || g_rc=$?
G_PID=""
echo "quit" >&4
exec 4>&-
e_rc=0
stop_after 15 "$E_PID" TERM
wait "$E_PID" || e_rc=$?
E_PID=""

# The second "show port stats all" is the measurement: its "Throughput
# (since last show)" covers the DURATION window, timed by testpmd (TSC).
# NIC statistics blocks only (the forward statistics printed by "stop" have
# "RX-dropped"/"TX-dropped" on the same lines instead).
read -r rx_pps tx_pps rx_pkts tx_pkts rx_delta < <(awk '
	/RX-packets:/ && /RX-missed:/ { rxp[++n] = $2 }
	/TX-packets:/ && /TX-errors:/ { txp[++m] = $2 }
	/Rx-pps:/ { rx[++k] = $2 }
	/Tx-pps:/ { tx[++l] = $2 }
	END { printf "%s %s %s %s %s\n", rx[k], tx[l], rxp[n], txp[m], rxp[n] - rxp[n - 1] }' "$TMP/g.log")
stats_shown=$(grep -c 'Rx-pps:' "$TMP/g.log" || true)
if ((stats_shown < 2)) || [[ -z $rx_pps ]]; then
	fail "no statistics in the client's output (testpmd exit $g_rc)"
fi
if ((rx_pps == 0)); then
	fail "nothing came back (Rx-pps 0): the packets did not circulate"
fi
if ((g_rc != 0)); then
	echo "memif: note: the client testpmd exited with status $g_rc after the measurement"
fi
if ((e_rc != 0)); then
	echo "memif: note: the server testpmd exited with status $e_rc at shutdown" \
		"(after the measurement; the figures are the client's)"
fi
echo "memif: client Rx-pps $rx_pps Tx-pps $tx_pps over ${DURATION}s;" \
	"in flight at the end $((tx_pkts - rx_pkts)) of $INFLIGHT"

# pkts: packets back between the two shows (DURATION plus command latency);
# pkts_per_s: testpmd's own rate over exactly that window.
awk -v pps="$rx_pps" -v size="$SIZE" -v pkts="$rx_delta" -v infl="$INFLIGHT" 'BEGIN {
	printf "result: peer=memif mode=echo size=%d pkts=%.0f bytes=%.0f pkts_per_s=%.1f gbit_s=%.3f inflight=%d\n",
		size, pkts, pkts * size, pps, pps * size * 8 / 1e9, infl
}'
