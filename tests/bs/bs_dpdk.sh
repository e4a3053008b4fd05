#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The dpdk hop on net_memif, three processes on this host, the control
# connections over unix socket paths:
#
#   1. bs-user --via dpdk -> nbs --dpdk: verified random mix (4 KiB) and
#      verified sequential reads of 64 KiB buffers (45 frames each);
#   2. through the proxy: two bs-users at once over shm -> nbs-proxy --via
#      dpdk -> the same nbs (its memif server takes the proxy next):
#      verified random mix on disjoint ranges, each with its own upstream
#      session; then the spec's basic workload.
#
# Then every process stops on SIGTERM with exit 0, and the counters say:
# the shm hops copied nothing (bs-user's, the proxy's down hop and its
# clients); each dpdk hop moved the same bytes at both ends, and each end
# copied on receive exactly what it received (nbs: the writes; bs-user or
# the proxy: the reads), so the copies of a dpdk hop sum to its bytes; no
# dpdk frame was copied on transmit (memif chains mbufs); nbs and the proxy
# hold no request and leak no pool.
#
#   bs_dpdk.sh NBS BS_USER NBS_PROXY
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: DPDK needs root (EAL, memif)"
	exit 77
fi
bs_init dpdk
sock=$T/memif.sock
ctl=unix:$T/nbs.sock
pctl=unix:$T/proxy.sock
read -r -a eal_n <<<"$(bs_eal "bsn$$")"
read -r -a eal_u <<<"$(bs_eal "bsu$$")"
read -r -a eal_p <<<"$(bs_eal "bsp$$")"
server=(--vdev="net_memif0,role=server,socket=$sock,socket-abstract=no")
client=(--vdev="net_memif0,role=client,socket=$sock,socket-abstract=no")

bs_start nbs.out NP "$NBS" "${eal_n[@]}" "${server[@]}" -- --store memory:64M --listen "$ctl" \
	--dpdk port=0,ip=198.18.5.2

# 1. bs-user straight to nbs over dpdk.
bs_bg direct.out UP "$BS_USER" "${eal_u[@]}" "${client[@]}" -- --connect "$ctl" \
	--via dpdk:port=0,ip=198.18.5.1 --workload rand --rw mix --verify --count 4000 \
	--range 2097152 --qd 32 --stats-period 0
bs_wait "$UP"
bs_check_user direct.out "$BS_STATUS"
bs_bg direct64.out UP "$BS_USER" "${eal_u[@]}" "${client[@]}" -- --connect "$ctl" \
	--via dpdk:port=0,ip=198.18.5.1 --workload seq --rw read --verify --bs 65536 --qd 8 \
	--range 2097152 --stats-period 0
bs_wait "$UP"
bs_check_user direct64.out "$BS_STATUS"
for u in direct direct64; do
	# nbs's client lines come in the order the clients went.
	n=$([ "$u" = direct ] && echo 1 || echo 2)
	bs_until "$T/nbs.out" "nbs: stats: client=$n .*hop=dpdk" "$NP" || fail "nbs did not report client $n"
	bs_check_hop_dpdk "$(bs_line "$u.out" 'hop dpdk:')" "$(bs_line nbs.out "nbs: stats: client=$n ")"
done

# 2. Through the proxy: users over shm, the proxy's upstream over dpdk.
bs_start proxy.out PP "$PROXY" "${eal_p[@]}" "${client[@]}" -- --upstream "$ctl" \
	--via dpdk:port=0,ip=198.18.5.1 --listen "$pctl"
bs_bg u1.out U1 "$BS_USER" --connect "$pctl" --workload rand --rw mix --verify --count 6000 \
	--offset 0 --range 2097152 --qd 32 --stats-period 0
bs_bg u2.out U2 "$BS_USER" --connect "$pctl" --workload rand --rw mix --verify --count 6000 \
	--offset 4194304 --range 2097152 --qd 16 --bs 8192 --stats-period 0
bs_wait "$U1"
bs_check_user u1.out "$BS_STATUS"
bs_wait "$U2"
bs_check_user u2.out "$BS_STATUS"
bs_bg basic.out U3 "$BS_USER" --connect "$pctl" --workload basic --count 100 --offset 8388608 \
	--stats-period 0
bs_wait "$U3"
bs_check_user basic.out "$BS_STATUS"
for u in u1 u2 basic; do
	[ "$(bs_kv "$(bs_line "$u.out" 'hop shm:')" copied_bytes)" = 0 ] ||
		fail "$u: its shm hop copied payload"
done

bs_term "$PP"
[ "$BS_STATUS" = 0 ] || fail "nbs-proxy exited $BS_STATUS"
bs_term "$NP"
NBS_STATUS=$BS_STATUS
bs_check_nbs nbs.out
bs_check_shm_zero proxy.out
up=$(bs_line proxy.out 'nbs-proxy: stats: hop=up ')
down=$(bs_line proxy.out 'nbs-proxy: stats: hop=down ')
tot=$(bs_line proxy.out 'nbs-proxy: stats: total ')
echo "proxy: $down"
echo "proxy: $up"
[ "$(bs_kv "$up" backend)" = dpdk ] || fail "the proxy's upstream hop is not dpdk: $up"
[ "$(bs_kv "$up" sessions)" = 3 ] || fail "expected 3 upstream sessions (one per user): $up"
[ "$(bs_kv "$down" requests)" = "$(bs_kv "$up" requests)" ] ||
	fail "requests down and up differ: $down / $up"
[ "$(bs_kv "$down" moved_bytes)" = "$(bs_kv "$up" moved_bytes)" ] ||
	fail "bytes moved down and up differ: $down / $up"
[ "$(bs_kv "$up" tx_copied_frames)" = 0 ] || fail "memif copied frames on transmit: $up"
[ "$(bs_kv "$tot" live_requests)" = 0 ] && [ "$(bs_kv "$tot" pools_leaked)" = 0 ] ||
	fail "the proxy left requests or pools: $tot"
# The proxy's sessions are nbs's clients 3 (the first session, which only
# learns the export), 4, 5 and 6: together they are the dpdk hop's far end.
nbs_up=$(grep 'nbs: stats: client=[3-6] .*hop=dpdk' "$T/nbs.out" |
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "moved_bytes") m += kv[2];
		if (kv[1] == "copied_bytes") c += kv[2] } } END { print "moved_bytes=" m " copied_bytes=" c }')
bs_check_hop_dpdk "$up" "$nbs_up"
echo PASS
