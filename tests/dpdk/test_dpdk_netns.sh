#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Two dpdk_xfer_peer processes in two network namespaces, on net_af_xdp on
# their veth ends (net_af_packet only when BULK_DPDK_DRIVER=af_packet asks
# for it), with bulk_impair relaying between them in a third namespace
# (tests/integration/netns_lib.sh: 198.18.0.1 in a, 198.18.0.2 in b, no
# default route). The bind side (source) runs in a, the create side (sink)
# in b.
#
#   test_dpdk_netns.sh --mode impair|corrupt DPDK_XFER_PEER BULK_IMPAIR NETNS_LIB
#
# impair: --loss 5 --reorder 25 --dup 2 (seed fixed). N buffers of random
#   lengths 64 B .. 1 MiB arrive exactly once, in order, verified. The sink
#   then holds its last buffers and is killed with SIGKILL (by PID); the
#   source must see the peer gone and get every buffer of its pool back
#   (exit 0 only then). And the impairment must have happened
#   (dpdk_check_impair in dpdk_lib.sh): in each direction the relay's
#   counters show frames dropped, duplicated and reordered (each at least
#   half of what its percentage predicts); both sides sent and received NAKs
#   and each retransmitted at least half of the frames the relay dropped
#   that it had to resend (the "chan:" lines, struct bulk_dpdk_chan_stats).
# corrupt: --corrupt 1 and nothing else. The data still verifies, and the
#   frames the relay corrupted show up as drops at the two ends: checksum
#   drops (> 0), plus "not ours" (a flipped IP address) and malformed ones
#   (a flipped length), in sum no more than the relay corrupted and not
#   much fewer (a corrupted frame may also be lost otherwise).
#
# Environment: BULK_SEED (data, default 20261123), BULK_DPDK_COUNT (default
# 10000 for impair, 2000 for corrupt; a fifth with BULKPERF_SHORT=1),
# BULK_DPDK_DRIVER=af_packet runs on net_af_packet instead (by hand: the
# registered tests are af_xdp tests), BULK_DPDK_IMPAIR replaces the relay's
# options (experiments; impair mode still insists on loss, duplicates and
# reordering). Needs root (else 77). net_af_xdp that cannot come up is a
# failure, or a skip (77) when this kernel has no AF_XDP sockets or this
# DPDK no net_af_xdp PMD (netns_af_xdp_missing says which).
set -u

mode=impair
if [ "${1:-}" = --mode ]; then
	mode=$2
	shift 2
fi
peer=${1:?usage: test_dpdk_netns.sh --mode impair|corrupt PEER IMPAIR NETNS_LIB}
impair=${2:?}
lib=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/dpdk/dpdk_lib.sh
. "$here/dpdk_lib.sh"
# shellcheck source=tests/integration/netns_lib.sh
. "$lib"

if ! netns_have_root; then
	echo "SKIP: needs root and iproute2 (network namespaces)"
	exit 77
fi
if [ ! -x "$impair" ]; then
	echo "SKIP: bulk_impair not built ($impair)"
	exit 77
fi

seed=${BULK_SEED:-20261123}
case $mode in
impair) count=${BULK_DPDK_COUNT:-10000} ;;
corrupt) count=${BULK_DPDK_COUNT:-2000} ;;
*) echo "test_dpdk_netns.sh: unknown mode $mode" >&2; exit 2 ;;
esac
if [ -n "${BULKPERF_SHORT:-}" ] && [ -z "${BULK_DPDK_COUNT:-}" ]; then
	count=$((count / 5))
fi
p=bd$$
p=${p:0:13}
clog=$(mktemp) blog=$(mktemp)
supp=$(mktemp -d)
dpdk_lsan_suppress "$supp"
cpid='' bpid=''

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	dpdk_kill "$bpid"
	dpdk_kill "$cpid"
	netns_stop_relay >/dev/null 2>&1
	netns_cleanup "$p"
	rm -f "$clog" "$blog" "${NETNS_RELAY_LOG:-}"
	rm -rf "$supp"
}
trap cleanup EXIT

# shellcheck disable=SC2317
fail() {
	echo "FAIL: $*" >&2
	echo "--- create side (ns b):" >&2
	cat "$clog" >&2
	echo "--- bind side (ns a):" >&2
	cat "$blog" >&2
	if [ -n "${NETNS_RELAY_LOG:-}" ]; then
		echo "--- relay:" >&2
		tail -n 5 "$NETNS_RELAY_LOG" >&2
	fi
	exit 1
}

driver=${BULK_DPDK_DRIVER:-af_xdp}
case $driver in
af_xdp | af_packet) ;;
*) echo "test_dpdk_netns.sh: BULK_DPDK_DRIVER=$driver: af_xdp or af_packet" >&2; exit 2 ;;
esac
netns_setup_relay "$p" 1500 || fail "netns_setup_relay"
if [ "$driver" = af_xdp ]; then
	netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A" || fail "net_af_xdp cannot run on $NETNS_IF_A"
	netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B" || fail "net_af_xdp cannot run on $NETNS_IF_B"
fi
case $mode in
impair) imp=(--seed 7 --loss 5 --reorder 25 --dup 2 --quiet) ;;
corrupt) imp=(--seed 7 --corrupt 1 --quiet) ;;
esac
if [ -n "${BULK_DPDK_IMPAIR:-}" ]; then
	read -r -a imp <<<"$BULK_DPDK_IMPAIR"
fi
netns_start_relay "$p" "$impair" "${imp[@]}" || fail "bulk_impair did not start"
echo "relay: bulk_impair ${imp[*]} in $NETNS_M"

read -r -a eal <<<"$(dpdk_eal_common)"
common=(--count "$count" --min 64 --max 1048576 --seed "$seed" --ep-id 5
	--peer-timeout-ms 3000)
copts=()
bopts=()
if [ "$mode" = impair ]; then
	copts=(--hold-at-end)
	bopts=(--expect-peer-death)
fi
vdev() { # DRIVER IFACE
	case $1 in
	af_xdp) echo "--vdev=net_af_xdp0,iface=$2,start_queue=0,queue_count=1" ;;
	af_packet) echo "--vdev=net_af_packet0,iface=$2" ;;
	esac
}

t0=$SECONDS
ccmd=(ip netns exec "$NETNS_B" "$peer" "${eal[@]}" "$(vdev "$driver" "$NETNS_IF_B")" --
	--role create --local-ip "$NETNS_IP_B" --peer-ip "$NETNS_IP_A" "${common[@]}"
	${copts[@]+"${copts[@]}"})
echo "+ ${ccmd[*]}"
"${ccmd[@]}" >"$clog" 2>&1 &
cpid=$!
if ! dpdk_wait_line "$clog" '^xfer: listening' "$cpid"; then
	wait "$cpid"
	crc=$?
	cpid=
	# No silent fallback to net_af_packet: this test is about net_af_xdp.
	if [ "$driver" = af_xdp ] && why=$(netns_af_xdp_missing "$clog"); then
		echo "--- create side (exit $crc):"
		cat "$clog"
		echo "SKIP: net_af_xdp cannot run here: $why"
		exit 77
	fi
	fail "the create side on net_$driver did not come up in $NETNS_B (exit $crc)"
fi
echo "driver: net_$driver"
bcmd=(ip netns exec "$NETNS_A" "$peer" "${eal[@]}" "$(vdev "$driver" "$NETNS_IF_A")" --
	--role bind --local-ip "$NETNS_IP_A" --peer-ip "$NETNS_IP_B" "${common[@]}"
	${bopts[@]+"${bopts[@]}"})
echo "+ ${bcmd[*]}"
"${bcmd[@]}" >"$blog" 2>&1 &
bpid=$!

if [ "$mode" = impair ]; then
	# The sink says it holds its last buffers; then it dies without a word.
	dpdk_wait_line "$clog" '^hold: ' "$cpid" || fail "the create side ended before holding"
	kill -0 "$bpid" 2>/dev/null || fail "the bind side ended before the sink's death"
	t1=$SECONDS
	echo "sink done after $((t1 - t0)) s; SIGKILL to the create side (pid $cpid)"
	kill -KILL "$cpid"
	wait "$cpid" 2>/dev/null
	k=$cpid
	cpid=
	echo "--- create side (pid $k, killed):"
	cat "$clog"
	dpdk_check_xfer "$clog" create "$count" || fail "create side result"
fi
wait "$bpid"
brc=$?
k=$bpid
bpid=
echo "--- bind side (pid $k, exit $brc):"
cat "$blog"
[ "$brc" = 0 ] || fail "bind side exit status $brc"
dpdk_check_xfer "$blog" bind "$count" || fail "bind side result"
if [ "$mode" = impair ]; then
	grep -q '^peer-death: reclaimed=' "$blog" || fail "no peer-death line"
fi
if [ "$mode" = corrupt ]; then
	for _ in $(seq 300); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$cpid" 2>/dev/null && fail "create side still running 30 s after the bind side"
	wait "$cpid"
	crc=$?
	k=$cpid
	cpid=
	echo "--- create side (pid $k, exit $crc):"
	cat "$clog"
	[ "$crc" = 0 ] || fail "create side exit status $crc"
	dpdk_check_xfer "$clog" create "$count" || fail "create side result"
fi
echo "--- relay:"
netns_stop_relay
ab=$(netns_relay_counter 'a->b' corrupted)
ba=$(netns_relay_counter 'b->a' corrupted)
echo "relay corrupted: a->b ${ab:-?} b->a ${ba:-?}"
echo "data: $count buffers in $((SECONDS - t0)) s over net_$driver (mode $mode, seed $seed)"

# Impair mode passes only if the wire really was impaired and the transport
# really recovered: data that verifies proves nothing if nothing was lost.
if [ "$mode" = impair ]; then
	dpdk_check_impair "$NETNS_RELAY_LOG" "$blog" "$clog" "${imp[@]}" ||
		fail "impair mode: the checks of the impairment above failed"
fi
if [ "$mode" = corrupt ]; then
	sum=0
	csum=0
	for f in "$clog" "$blog"; do
		for fld in rx_csum_drops rx_not_ours rx_malformed; do
			v=$(dpdk_stat "$f" 'port:' "$fld")
			sum=$((sum + ${v:-0}))
			[ "$fld" = rx_csum_drops ] && csum=$((csum + ${v:-0}))
		done
	done
	corrupted=$((${ab:-0} + ${ba:-0}))
	echo "corrupt: relay corrupted $corrupted frames; the ends dropped $sum" \
		"($csum by checksum, the rest not ours or malformed)"
	[ "$csum" -gt 0 ] || fail "no checksum drops"
	# "Not ours" also counts what the namespaces' own kernels send now and
	# then (IGMP, say): the bound holds for the checksum drops alone, and
	# for everything with a little room.
	[ "$csum" -le "$corrupted" ] || fail "more checksum drops ($csum) than corrupted frames ($corrupted)"
	[ "$sum" -le $((corrupted + 16)) ] || fail "more drops ($sum) than corrupted frames ($corrupted)"
	[ $((sum * 100)) -ge $((corrupted * 95)) ] ||
		fail "drops ($sum) far below the corrupted frames ($corrupted)"
fi
echo "PASS: net_$driver, mode $mode, $count buffers"
exit 0
