#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE main job: install what is missing, build a release libbulk into
# build-release/, and run the network block service across two "machines"
# (two network namespaces joined by a veth pair, 198.18.0.0/24, no default
# route):
#
#   namespace bulk-demob                        namespace bulk-demoa
#   +---------------------------+               +-----------------------------+
#   | nbs  --store memory:256M  |   dpdk on     | nbs-proxy        bs-user    |
#   |      --dpdk ip=198.18.0.2 |<=net_af_xdp==>| --via dpdk  <=shm=> --verify |
#   +---------------------------+   veth pair   +-----------------------------+
#        ^                                            |
#        +---- control: unix socket path /tmp/... ----+
#
#   1. nbs (memory store) in namespace b, its DPDK port on net_af_xdp on
#      its end of the veth pair;
#   2. nbs-proxy in namespace a, its upstream nbs: data channels over the
#      dpdk backend on the other end of the pair, the control connection
#      over a unix socket PATH: network namespaces share the file system,
#      and net_af_xdp's default XDP program takes every frame of the veth
#      away from the kernel, so no TCP could cross it;
#   3. bs-user in namespace a over shm to the proxy: the spec's basic
#      workload (write, wait, read back, verify), then verified random 4 KiB
#      reads and writes, 32 in flight;
#   4. SIGTERM to the proxy and nbs: their statistics, and a table of what
#      crossed each hop (requests, payload bytes moved, bytes copied).
#
# No payload byte is copied on the shm hop; the dpdk hop copies each byte
# once, on receive (the NIC's mbuf into the buffer: into the user's own
# pages when the proxy receives); net_af_xdp in DPDK 22.11 cannot send
# chained mbufs, so there the sender copies too, counted in frames.
#
# If this kernel has no AF_XDP sockets (or this DPDK no net_af_xdp), the
# same runs on net_af_packet on the same veth pair, and says so.
#
# The last line printed is bs-user's "result: ..." line.
#
# Usage: bash scripts/demo.sh     (as root, from any directory)
# Environment: BULK_DEMO_BUILD (default build-release), BULK_DEMO_COUNT
# (random requests, default 200000).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=${BULK_DEMO_BUILD:-build-release}
COUNT=${BULK_DEMO_COUNT:-200000}
NBS=$ROOT/$BUILD/apps/nbs/nbs
PROXY=$ROOT/$BUILD/apps/proxy/nbs-proxy
BSU=$ROOT/$BUILD/apps/bs-user/bs-user

banner()
{
	echo
	echo "=================================================================="
	echo "== $*"
	echo "=================================================================="
}

banner "deps (scripts/deps.sh)"
bash scripts/deps.sh

banner "build $BUILD (release)"
SETUP_ARGS=(--buildtype=release -Dtests=false -Dgbench=disabled)
if [[ -f "$BUILD/meson-private/coredata.dat" ]]; then
	meson setup --reconfigure "$BUILD" "${SETUP_ARGS[@]}" ||
		meson setup --wipe "$BUILD" "${SETUP_ARGS[@]}"
else
	rm -rf "$BUILD"
	meson setup "$BUILD" "${SETUP_ARGS[@]}"
fi
meson compile -C "$BUILD"
for b in "$NBS" "$PROXY" "$BSU"; do
	if [[ ! -x "$b" ]]; then
		echo "demo: $b was not built (DPDK missing?)" >&2
		exit 1
	fi
done
if [[ "$(id -u)" -ne 0 ]]; then
	echo "demo: network namespaces and DPDK need root" >&2
	exit 1
fi

# ------------------------------------------------------------ the set-up
# shellcheck source=tests/integration/netns_lib.sh
. "$ROOT/tests/integration/netns_lib.sh"
PREFIX=bulk-demo
TMP=$(mktemp -d /tmp/bulk-demo.XXXXXX)
CTL=unix:$TMP/nbs.sock
PCTL=unix:$TMP/proxy.sock
NBS_PID='' PROXY_PID=''

stop() # PID: SIGTERM, wait (the programs finish in order and print statistics)
{
	local pid=$1 i
	[[ -n "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup()
{
	stop "$PROXY_PID"
	stop "$NBS_PID"
	netns_cleanup "$PREFIX"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A namespace of that name left by an interrupted run goes first.
netns_cleanup "$PREFIX"
banner "two namespaces, one veth pair: $PREFIX""a (198.18.0.1) <-> $PREFIX""b (198.18.0.2)"
netns_setup_pair "$PREFIX" 1500
netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A"
netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"
ip -n "$NETNS_A" -br addr show dev "$NETNS_IF_A"
ip -n "$NETNS_B" -br addr show dev "$NETNS_IF_B"
echo "control connections: unix socket paths under $TMP (the namespaces share the file system)"

EAL=(--no-pci --no-huge -m 512 --no-shconf --log-level=lib.eal:error)
# One lcore each: nbs on CPU 1, the proxy on CPU 0 (both on 0 with one CPU).
LC_NBS=1
[[ "$(nproc)" -lt 2 ]] && LC_NBS=0
vdev() # PMD IFACE
{
	case $1 in
	af_xdp) echo "net_af_xdp0,iface=$2,start_queue=0,queue_count=1" ;;
	af_packet) echo "net_af_packet0,iface=$2,qpairs=1,qdisc_bypass=1" ;;
	esac
}

wait_ready() # LOG PID
{
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qs '^ready:' "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

start_nbs() # PMD
{
	banner "nbs in $NETNS_B: memory store, DPDK port on net_$1 ($NETNS_IF_B)"
	echo "+ ip netns exec $NETNS_B nbs ${EAL[*]} --file-prefix bdn --vdev $(vdev "$1" "$NETNS_IF_B") --" \
		"--store memory:256M --listen $CTL --dpdk port=0,ip=$NETNS_IP_B"
	ip netns exec "$NETNS_B" "$NBS" "${EAL[@]}" -l "$LC_NBS" --file-prefix bdn \
		--vdev "$(vdev "$1" "$NETNS_IF_B")" -- --store memory:256M --listen "$CTL" \
		--dpdk "port=0,ip=$NETNS_IP_B" >"$TMP/nbs.log" 2>&1 &
	NBS_PID=$!
	wait_ready "$TMP/nbs.log" "$NBS_PID"
}

PMD=af_xdp
if ! start_nbs af_xdp; then
	stop "$NBS_PID"
	NBS_PID=''
	if why=$(netns_af_xdp_missing "$TMP/nbs.log"); then
		echo "net_af_xdp cannot run here ($why): net_af_packet on the same veth pair instead"
		PMD=af_packet
		start_nbs af_packet || { cat "$TMP/nbs.log"; exit 1; }
	else
		cat "$TMP/nbs.log"
		exit 1
	fi
fi
grep '^ready:' "$TMP/nbs.log"

banner "nbs-proxy in $NETNS_A: upstream nbs over dpdk (net_$PMD, $NETNS_IF_A), users over shm"
echo "+ ip netns exec $NETNS_A nbs-proxy ${EAL[*]} --file-prefix bdp --vdev $(vdev "$PMD" "$NETNS_IF_A") --" \
	"--upstream $CTL --via dpdk:port=0,ip=$NETNS_IP_A --listen $PCTL"
ip netns exec "$NETNS_A" "$PROXY" "${EAL[@]}" -l 0 --file-prefix bdp \
	--vdev "$(vdev "$PMD" "$NETNS_IF_A")" -- --upstream "$CTL" \
	--via "dpdk:port=0,ip=$NETNS_IP_A" --listen "$PCTL" >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
if ! wait_ready "$TMP/proxy.log" "$PROXY_PID"; then
	cat "$TMP/proxy.log"
	exit 1
fi
grep '^ready:' "$TMP/proxy.log"

user() # LOG ARGS...
{
	local log=$1
	shift
	banner "bs-user $* (namespace $NETNS_A, over shm to the proxy)"
	ip netns exec "$NETNS_A" "$BSU" --connect "$PCTL" "$@" 2>&1 | tee "$TMP/$log"
	return "${PIPESTATUS[0]}"
}
user basic.log --workload basic --count 100 --stats-period 0
STATUS=0
user rand.log --workload rand --rw mix --verify --qd 32 --count "$COUNT" --range 67108864 \
	--offset 16777216 --stats-period 1 || STATUS=$?

banner "SIGTERM to nbs-proxy and nbs: their statistics"
stop "$PROXY_PID"
PROXY_PID=''
stop "$NBS_PID"
NBS_PID=''
grep 'stats:' "$TMP/proxy.log" | grep -v 'stats: upstream client=' || true
grep 'stats:' "$TMP/nbs.log" | grep -v ' requests=0 reads=' || true

# ------------------------------------------------------------ the table
kv() # LINE KEY
{
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
sum_users() # KEY: over bs-user's hop lines
{
	local s=0 f v
	for f in basic.log rand.log; do
		v=$(kv "$(grep 'hop shm:' "$TMP/$f" | tail -n 1)" "$1")
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
down=$(grep 'stats: hop=down ' "$TMP/proxy.log" | tail -n 1)
up=$(grep 'stats: hop=up ' "$TMP/proxy.log" | tail -n 1)
ntot=$(grep 'nbs: stats: total ' "$TMP/nbs.log" | tail -n 1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
row() { printf '%-34s %10s %14s %14s %16s\n' "$@"; }

banner "what crossed each hop"
row "hop (side)" requests "bytes moved" "bytes copied" "tx frames copied"
row "bs-user -> nbs-proxy: shm" "" "" "" ""
row "  bs-user" "$(sum_users requests)" "$(mib "$(sum_users moved_bytes)")" \
	"$(sum_users copied_bytes)" "-"
row "  nbs-proxy (users)" "$(kv "$down" requests)" "$(mib "$(kv "$down" moved_bytes)")" \
	"$(kv "$down" copied_bytes)" "-"
row "nbs-proxy -> nbs: dpdk, net_$PMD" "" "" "" ""
row "  nbs-proxy (upstream sessions)" "$(kv "$up" requests)" "$(mib "$(kv "$up" moved_bytes)")" \
	"$(mib "$(kv "$up" copied_bytes)")" "$(kv "$up" tx_copied_frames)"
row "  nbs" "$(kv "$ntot" requests)" "$(mib "$(kv "$ntot" moved_bytes)")" \
	"$(mib "$(kv "$ntot" copied_bytes)")" "$(kv "$ntot" tx_copied_frames)"
row "nbs's memory store" "" "" "$(mib "$(kv "$ntot" store_copied_bytes)")" ""
echo
echo "shm hop: the user's buffers are mapped in both processes, nothing copied."
echo "dpdk hop: every byte copied once on receive (reads by the proxy, into the user's"
echo "  pages; writes by nbs); bytes moved = the two receive copies together."
if [[ "$(kv "$up" tx_copied_frames)" != 0 ]]; then
	echo "  net_$PMD cannot send chained mbufs here, so frames are also copied on transmit."
fi
echo "store: the memory store's one copy between its blocks and the request's buffer."
echo
grep '^result:' "$TMP/rand.log" | tail -n 1
exit "$STATUS"
