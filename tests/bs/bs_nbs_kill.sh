#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# kill -9 of nbs (file store) behind nbs-proxy, and nbs started again on
# the same file and address. The proxy's upstream is nbs over shm (net_memif
# would need its link re-established by the PMD, which DPDK's memif client
# does not do; the af_xdp namespace test keeps its veths).
#
#   1. a user writes a range through the proxy (verified), then FLUSH;
#   2. two users run: one at full speed (its requests are in flight when
#      nbs dies), one rate-limited that goes on after errors
#      (--continue-on-error); nbs is killed with SIGKILL mid-run;
#   3. the proxy fails the requests that were at nbs and those that
#      arrive while nbs is away (ENOTCONN: "my upstream is not
#      connected"), never drops one: the fast user stops at its first
#      failure and exits 1 with its result line;
#   4. nbs starts again; the proxy reconnects the user that stayed (with
#      backoff), assigns its pool again, and that user's run finishes with
#      every read verified (its failed writes are "unknown" in its map);
#   5. a new user reads the range of step 1 back and finds every block as
#      written there (--verify-written): what was acknowledged before the
#      FLUSH survived the kill;
#   6. SIGTERM: the proxy and nbs exit 0; the proxy counted the loss and
#      the reconnection, no request is left live and no pool leaked.
#
#   bs_nbs_kill.sh NBS BS_USER NBS_PROXY
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3
bs_init nbs-kill
ctl=unix:$T/nbs.sock
pctl=unix:$T/proxy.sock
truncate -s 64M "$T/disk.img" || exit 99
nbs_args=(--store "file:$T/disk.img" --listen "$ctl")

bs_start nbs1.out NP "$NBS" "${nbs_args[@]}"
bs_start proxy.out PP "$PROXY" --upstream "$ctl" --via shm --listen "$pctl" \
	--reconnect-timeout 120

# 1. Written, acknowledged, flushed.
bs_bg written.out U "$BS_USER" --connect "$pctl" --workload seq --rw write --verify --seed 5 \
	--offset 0 --range 4194304 --flush --stats-period 0
bs_wait "$U"
bs_check_user written.out "$BS_STATUS"
grep -q 'flush: done' "$T/written.out" || fail "the FLUSH did not complete"

# 2. Load, and the kill.
bs_bg fast.out F "$BS_USER" --connect "$pctl" --workload rand --rw mix --verify --qd 32 \
	--count 100000000 --offset 8388608 --range 4194304 --stats-period 0.1
bs_bg steady.out S "$BS_USER" --connect "$pctl" --workload rand --rw mix --verify --qd 8 \
	--rate 1000 --count 3000 --continue-on-error --offset 16777216 --range 4194304 \
	--stats-period 0.1
bs_until "$T/fast.out" 'ios=[1-9]' "$F" || fail "the fast user never got going"
bs_until "$T/steady.out" 'ios=[1-9][0-9][0-9]' "$S" || fail "the steady user never got going"
kill -KILL "$NP"
bs_wait "$NP"
echo "nbs killed (status $BS_STATUS)"

# 3. The fast user's requests failed; it stopped.
bs_wait "$F"
[ "$BS_STATUS" = 1 ] || fail "the fast user exited $BS_STATUS, not 1"
r=$(bs_result fast.out)
[ -n "$r" ] || fail "the fast user printed no result line"
[ "$(bs_kv "$r" verify_failures)" = 0 ] || fail "the fast user: verify failures: $r"
grep -q 'Transport endpoint is not connected' "$T/fast.out" ||
	fail "the fast user was not told the proxy's upstream is not connected"
echo "fast user: $r"
bs_until "$T/proxy.out" 'upstream .* lost' "$PP" || fail "the proxy did not say it lost nbs"

# 4. nbs again; the steady user's session comes back.
bs_start nbs2.out NP "$NBS" "${nbs_args[@]}"
bs_until "$T/proxy.out" 'upstream back after' "$PP" || fail "the proxy did not reconnect"
bs_wait "$S"
r=$(bs_result steady.out)
echo "steady user (exit $BS_STATUS): $r"
[ -n "$r" ] || fail "the steady user printed no result line"
[ "$(bs_kv "$r" ios)" = 3000 ] || fail "the steady user did not finish its 3000 requests: $r"
[ "$(bs_kv "$r" verify_failures)" = 0 ] || fail "the steady user: verify failures: $r"
[ "$(bs_kv "$r" errors)" -gt 0 ] || fail "the steady user saw no error while nbs was away: $r"
[ "$BS_STATUS" = 1 ] || fail "the steady user had errors but exited $BS_STATUS"

# 5. What was flushed is there.
bs_bg readback.out U "$BS_USER" --connect "$pctl" --workload seq --rw read --verify-written \
	--seed 5 --offset 0 --range 4194304 --stats-period 0
bs_wait "$U"
bs_check_user readback.out "$BS_STATUS"
v=$(bs_kv "$(bs_line readback.out 'hop shm:')" verified)
[ "$v" = 1024 ] || fail "expected the 1024 blocks written before the FLUSH verified, got $v"

# 6. Orderly end.
bs_term "$PP"
[ "$BS_STATUS" = 0 ] || fail "nbs-proxy exited $BS_STATUS"
bs_term "$NP"
NBS_STATUS=$BS_STATUS
bs_check_nbs nbs2.out
bs_check_shm_zero proxy.out
up=$(bs_line proxy.out 'stats: hop=up ')
tot=$(bs_line proxy.out 'stats: total ')
echo "proxy: $up"
echo "proxy: $tot"
[ "$(bs_kv "$up" lost)" -ge 2 ] || fail "the proxy counted fewer than 2 sessions lost: $up"
[ "$(bs_kv "$up" reconnects)" -ge 1 ] || fail "the proxy counted no reconnection: $up"
[ $(($(bs_kv "$tot" lost_inflight) + $(bs_kv "$tot" failed_fast))) -gt 0 ] ||
	fail "the proxy failed no request: $tot"
[ "$(bs_kv "$tot" live_requests)" = 0 ] && [ "$(bs_kv "$tot" pools_leaked)" = 0 ] ||
	fail "the proxy left requests or pools: $tot"
echo PASS
