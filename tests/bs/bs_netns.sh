#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bs-user -> nbs-proxy (shm) -> nbs over the dpdk backend on net_af_xdp,
# across two network namespaces, through the impairment relay: nbs in
# namespace b on its veth end (198.18.0.2), the proxy and its users in
# namespace a (198.18.0.1), bulk_impair in namespace m between them with
# loss 5%, reordering 25% and duplication 2% (seeded), in both directions
# (tests/integration/netns_lib.sh: netns_setup_relay). The control
# connections run over unix socket paths, which the namespaces share (the
# file system is one), so no TCP needs the veths that the PMD owns.
#
# Verified random mix of 4 KiB (3 frames a buffer) from two users at once,
# and verified sequential reads of 64 KiB buffers (45 frames each); then
# SIGTERM everywhere, exit 0: the shm hops copied nothing; the dpdk hop
# moved the same bytes at both ends and each end copied on receive what
# it received; and the wire was impaired (the relay's counters show drops,
# duplicates and reordering both ways).
#
# Skips (77) without root, without bulk_impair, or when net_af_xdp cannot
# run here (no AF_XDP in the kernel or no PMD in DPDK: netns_af_xdp_missing).
#
#   bs_netns.sh NBS BS_USER NBS_PROXY BULK_IMPAIR NETNS_LIB
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3 IMPAIR=$4 NETNS_LIB=$5
. "$NETNS_LIB"
if ! netns_have_root; then
	echo "SKIP: needs root and iproute2 (network namespaces)"
	exit 77
fi
if [ ! -x "$IMPAIR" ]; then
	echo "SKIP: bulk_impair not built ($IMPAIR)"
	exit 77
fi
bs_init netns
p=bn$$
p=${p:0:13}
netns_done=
# The namespaces and the relay go with everything else, whatever happens.
bs_netns_cleanup()
{
	[ -n "$netns_done" ] && return
	netns_done=1
	netns_stop_relay >/dev/null 2>&1
	netns_cleanup "$p"
	rm -f "${NETNS_RELAY_LOG:-}"
}
trap 'bs_cleanup; bs_netns_cleanup' EXIT
# LeakSanitizer: net_af_xdp of DPDK 22.11 leaves libxdp's umem behind at
# close, and with it, in some processes, the socket context that still
# counts it; not ours. The project's list (tests/lsan.supp) says which.
cp "$(dirname "${BASH_SOURCE[0]}")/../lsan.supp" "$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp"

netns_setup_relay "$p" 1500 || fail "netns_setup_relay"
netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A" || fail "net_af_xdp cannot run on $NETNS_IF_A"
netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B" || fail "net_af_xdp cannot run on $NETNS_IF_B"
imp=(--seed 11 --loss 5 --reorder 25 --dup 2 --quiet)
netns_start_relay "$p" "$IMPAIR" "${imp[@]}" || fail "bulk_impair did not start"
echo "relay: bulk_impair ${imp[*]} in $NETNS_M"

ctl=unix:$T/nbs.sock
pctl=unix:$T/proxy.sock
read -r -a eal_n <<<"$(bs_eal "bnn$$")"
read -r -a eal_p <<<"$(bs_eal "bnp$$")"
vdev() { echo "--vdev=net_af_xdp0,iface=$1,start_queue=0,queue_count=1"; }

bs_bg nbs.out NP ip netns exec "$NETNS_B" "$NBS" "${eal_n[@]}" "$(vdev "$NETNS_IF_B")" -- \
	--store memory:64M --listen "$ctl" --dpdk "port=0,ip=$NETNS_IP_B"
if ! bs_until "$T/nbs.out" '^ready:' "$NP"; then
	bs_wait "$NP" 10
	if why=$(netns_af_xdp_missing "$T/nbs.out"); then
		cat "$T/nbs.out"
		echo "SKIP: net_af_xdp cannot run here: $why"
		exit 77
	fi
	fail "nbs on net_af_xdp did not come up in $NETNS_B"
fi
bs_start proxy.out PP ip netns exec "$NETNS_A" "$PROXY" "${eal_p[@]}" "$(vdev "$NETNS_IF_A")" -- \
	--upstream "$ctl" --via "dpdk:port=0,ip=$NETNS_IP_A" --listen "$pctl"

user() { # OUT VAR ARGS...
	local out=$1 var=$2
	shift 2
	bs_bg "$out" "$var" ip netns exec "$NETNS_A" "$BS_USER" --connect "$pctl" --stats-period 0 "$@"
}
user u1.out U1 --workload rand --rw mix --verify --count 3000 --qd 16 --offset 0 --range 1048576
user u2.out U2 --workload rand --rw mix --verify --count 1500 --qd 8 --bs 16384 \
	--offset 4194304 --range 1048576
bs_wait "$U1"
bs_check_user u1.out "$BS_STATUS"
bs_wait "$U2"
bs_check_user u2.out "$BS_STATUS"
user seq.out U3 --workload seq --rw read --verify --bs 65536 --qd 4 --offset 8388608 \
	--range 1048576
bs_wait "$U3"
bs_check_user seq.out "$BS_STATUS"

bs_term "$PP"
[ "$BS_STATUS" = 0 ] || fail "nbs-proxy exited $BS_STATUS"
bs_term "$NP"
NBS_STATUS=$BS_STATUS
bs_check_nbs nbs.out
bs_check_shm_zero proxy.out
for u in u1 u2 seq; do
	[ "$(bs_kv "$(bs_line "$u.out" 'hop shm:')" copied_bytes)" = 0 ] || fail "$u: its shm hop copied"
done
up=$(bs_line proxy.out 'stats: hop=up ')
down=$(bs_line proxy.out 'stats: hop=down ')
nbs_tot=$(bs_line nbs.out 'nbs: stats: total ')
echo "proxy: $down"
echo "proxy: $up"
echo "nbs: $nbs_tot"
[ "$(bs_kv "$down" requests)" = "$(bs_kv "$up" requests)" ] &&
	[ "$(bs_kv "$up" requests)" = "$(bs_kv "$nbs_tot" requests)" ] ||
	fail "the hops carried different numbers of requests"
bs_check_hop_dpdk "$up" "$nbs_tot"
echo "transmit copies (net_af_xdp cannot send chained mbufs in DPDK 22.11):" \
	"proxy $(bs_kv "$up" tx_copied_frames) frames, nbs $(bs_kv "$nbs_tot" tx_copied_frames) frames"

echo "--- relay:"
netns_stop_relay
for dir in 'a->b' 'b->a'; do
	for f in dropped duplicated reordered; do
		v=$(netns_relay_counter "$dir" "$f")
		[ -n "$v" ] && [ "$v" -gt 0 ] || fail "relay $dir: $f=${v:-?}: the wire was not impaired"
	done
done
echo PASS
