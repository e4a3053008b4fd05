#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# kill -9 of nbs-proxy in the middle of a user's run. The proxy's upstream
# is nbs over shm, or over the dpdk backend on net_memif (memif mode),
# while another bs-user is served by nbs directly over shm.
#
#   - the proxy's user does not hang: its requests fail (the shm channel
#     sees its peer gone and libbulk brings its buffers home), it prints its
#     result line saying the server is gone, and exits 1;
#   - nbs notices (the proxy's control connection hangs up; its data
#     channel's peer is gone: at once over shm, after the peer timeout over
#     dpdk), releases what the proxy held and reports the session ended;
#   - nbs keeps serving: the direct user finishes its verified run, a new
#     user is served afterwards, and at SIGTERM nbs exits 0 with no request
#     left live and no pool leaked.
#
#   bs_proxy_kill.sh NBS BS_USER NBS_PROXY shm|memif
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3 mode=$4
if [ "$mode" = memif ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: DPDK needs root (EAL, memif)"
	exit 77
fi
bs_init "proxy-kill-$mode"
ctl=unix:$T/nbs.sock
pctl=unix:$T/proxy.sock
nbs_dpdk=() px_eal=() via=(--via shm)
if [ "$mode" = memif ]; then
	read -r -a eal_n <<<"$(bs_eal "bkn$$")"
	read -r -a eal_p <<<"$(bs_eal "bkp$$")"
	nbs_dpdk=("${eal_n[@]}" --vdev="net_memif0,role=server,socket=$T/memif.sock,socket-abstract=no" --)
	px_eal=("${eal_p[@]}" --vdev="net_memif0,role=client,socket=$T/memif.sock,socket-abstract=no" --)
	via=(--via dpdk:port=0,ip=198.18.5.1)
	bs_start nbs.out NP "$NBS" "${nbs_dpdk[@]}" --store memory:64M --listen "$ctl" \
		--dpdk port=0,ip=198.18.5.2
else
	bs_start nbs.out NP "$NBS" --store memory:64M --listen "$ctl"
fi
bs_start proxy.out PP "$PROXY" ${px_eal[@]+"${px_eal[@]}"} --upstream "$ctl" "${via[@]}" \
	--listen "$pctl"

# The victim: a long run through the proxy, many requests in flight.
bs_bg victim.out V "$BS_USER" --connect "$pctl" --workload rand --rw mix --verify --qd 32 \
	--count 100000000 --offset 0 --range 4194304 --stats-period 0.1
# A user of nbs's own, over shm, all along.
bs_bg direct.out D "$BS_USER" --connect "$ctl" --workload rand --rw mix --verify --qd 16 \
	--rate 2000 --count 4000 --offset 8388608 --range 4194304 --stats-period 0
bs_until "$T/victim.out" 'ios=[1-9]' "$V" || fail "the proxy's user never got going"
bs_until "$T/proxy.out" 'ready:' "$PP" || fail "no proxy"
kill -KILL "$PP"
bs_wait "$PP"
echo "proxy killed (status $BS_STATUS)"

bs_wait "$V"
[ "$BS_STATUS" = 1 ] || fail "the proxy's user exited $BS_STATUS, not 1"
r=$(bs_result victim.out)
[ -n "$r" ] || fail "the proxy's user printed no result line"
grep -q 'hop shm: .*(server gone)' "$T/victim.out" || fail "the proxy's user did not see its server gone"
[ "$(bs_kv "$r" verify_failures)" = 0 ] || fail "the proxy's user: verify failures: $r"
echo "proxy's user: $r"

# nbs released the proxy's session (its user's).
bs_until "$T/nbs.out" 'nbs: stats: client=.*end=\(died\|hangup\)' "$NP" ||
	fail "nbs did not report the proxy's session gone"
bs_wait "$D"
bs_check_user direct.out "$BS_STATUS"
bs_bg after.out A "$BS_USER" --connect "$ctl" --workload basic --count 50 --offset 16777216 \
	--stats-period 0
bs_wait "$A"
bs_check_user after.out "$BS_STATUS"
bs_term "$NP"
NBS_STATUS=$BS_STATUS
bs_check_nbs nbs.out
tot=$(bs_line nbs.out 'nbs: stats: total ')
[ "$(bs_kv "$tot" died)" -ge 1 ] || fail "nbs counted no client that died: $tot"
echo PASS
