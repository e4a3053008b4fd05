#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A chain of two proxies: bs-user -> nbs-proxy A (shm) -> nbs-proxy B (shm)
# -> nbs over the dpdk backend on net_memif. A's upstream is B, a proxy:
# B sees A's upstream session as a user like any other and forwards A's
# view of the user's pool on in turn, so the user's buffer travels the
# whole way (shm maps the same memfd in the user, A and B; the dpdk hop
# copies once on receive). Verified random mix, verified sequential reads
# of 64 KiB buffers and the basic workload; then every process stops on
# SIGTERM with exit 0: both shm hops copied nothing, the dpdk hop's copies
# are its bytes, and A, B and nbs counted the same requests.
#
#   bs_chain.sh NBS BS_USER NBS_PROXY
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: DPDK needs root (EAL, memif)"
	exit 77
fi
bs_init chain
sock=$T/memif.sock
ctl=unix:$T/nbs.sock
bctl=unix:$T/proxy-b.sock
actl=unix:$T/proxy-a.sock
read -r -a eal_n <<<"$(bs_eal "bcn$$")"
read -r -a eal_b <<<"$(bs_eal "bcb$$")"

bs_start nbs.out NP "$NBS" "${eal_n[@]}" --vdev="net_memif0,role=server,socket=$sock,socket-abstract=no" \
	-- --store memory:64M --listen "$ctl" --dpdk port=0,ip=198.18.5.2
bs_start proxy-b.out PB "$PROXY" "${eal_b[@]}" \
	--vdev="net_memif0,role=client,socket=$sock,socket-abstract=no" -- --upstream "$ctl" \
	--via dpdk:port=0,ip=198.18.5.1 --listen "$bctl"
bs_start proxy-a.out PA "$PROXY" --upstream "$bctl" --via shm --listen "$actl"

bs_bg rand.out U "$BS_USER" --connect "$actl" --workload rand --rw mix --verify --count 6000 \
	--range 2097152 --qd 32 --stats-period 0
bs_wait "$U"
bs_check_user rand.out "$BS_STATUS"
bs_bg seq.out U "$BS_USER" --connect "$actl" --workload seq --rw read --verify --bs 65536 --qd 8 \
	--offset 4194304 --range 2097152 --stats-period 0
bs_wait "$U"
bs_check_user seq.out "$BS_STATUS"
bs_bg basic.out U "$BS_USER" --connect "$actl" --workload basic --count 100 --offset 8388608 \
	--stats-period 0
bs_wait "$U"
bs_check_user basic.out "$BS_STATUS"

bs_term "$PA"
[ "$BS_STATUS" = 0 ] || fail "proxy A exited $BS_STATUS"
bs_term "$PB"
[ "$BS_STATUS" = 0 ] || fail "proxy B exited $BS_STATUS"
bs_term "$NP"
NBS_STATUS=$BS_STATUS
bs_check_nbs nbs.out
for u in rand seq basic; do
	[ "$(bs_kv "$(bs_line "$u.out" 'hop shm:')" copied_bytes)" = 0 ] || fail "$u: its shm hop copied"
done
bs_check_shm_zero proxy-a.out
bs_check_shm_zero proxy-b.out
a_down=$(bs_line proxy-a.out 'stats: hop=down ')
a_up=$(bs_line proxy-a.out 'stats: hop=up ')
b_down=$(bs_line proxy-b.out 'stats: hop=down ')
b_up=$(bs_line proxy-b.out 'stats: hop=up ')
nbs_tot=$(bs_line nbs.out 'nbs: stats: total ')
echo "A: $a_down"
echo "A: $a_up"
echo "B: $b_down"
echo "B: $b_up"
[ "$(bs_kv "$a_up" backend)" = shm ] && [ "$(bs_kv "$b_up" backend)" = dpdk ] ||
	fail "hops: A's upstream must be shm, B's dpdk"
r=$(bs_kv "$a_down" requests)
for l in "$a_up" "$b_down" "$b_up" "$nbs_tot"; do
	[ "$(bs_kv "$l" requests)" = "$r" ] || fail "not every hop carried the $r requests: $l"
done
m=$(bs_kv "$a_down" moved_bytes)
for l in "$a_up" "$b_down" "$b_up" "$nbs_tot"; do
	[ "$(bs_kv "$l" moved_bytes)" = "$m" ] || fail "not every hop moved the $m bytes: $l"
done
bs_check_hop_dpdk "$b_up" "$nbs_tot"
echo PASS
