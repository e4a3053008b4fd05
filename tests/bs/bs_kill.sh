#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# kill -9 of a bs-user in the middle of its run: nbs keeps serving the
# others (they finish their verified runs), releases everything the dead
# one held (its requests, its channel, its pool), serves a new client
# afterwards, and at SIGTERM reports one client that died, no request
# left live and no pool leaked.
#
#   bs_kill.sh NBS BS_USER
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2
bs_init kill
bs_nbs nbs.out --store memory:32M
bs_user a.out --workload rand --verify --duration 3 --qd 16 --offset 0 --range 4194304 --seed 1
a=$BSU_PID
bs_user b.out --workload seq --rw write --verify --duration 3 --qd 8 --offset 4194304 \
	--range 4194304
b=$BSU_PID
# The victim: a long run, with many requests in flight, killed once nbs has
# seen it connect.
bs_user victim.out --workload rand --qd 64 --duration 60 --offset 8388608 --range 4194304 \
	--stats-period 0.1
v=$BSU_PID
bs_wait_line "$T/victim.out" 30 'ios=[1-9]' || fail "the victim never got going"
kill -KILL "$v"
bs_wait "$v"
echo "victim killed (status $BS_STATUS)"
bs_wait "$a"
bs_check_user a.out "$BS_STATUS"
bs_wait "$b"
bs_check_user b.out "$BS_STATUS"
# nbs saw the victim go and released it.
bs_wait_line "$T/nbs.out" 30 'nbs: stats: client=.*end=\(died\|hangup\)' ||
	fail "nbs did not report the killed client gone"
# And serves a newcomer.
bs_user after.out --workload basic --count 50 --offset 8388608 --range 4194304
bs_wait "$BSU_PID"
bs_check_user after.out "$BS_STATUS"
bs_stop_nbs
bs_check_nbs nbs.out
tot=$(grep 'nbs: stats: total' "$T/nbs.out")
[ "$(bs_kv "$tot" died)" = 1 ] || fail "expected one client that died: $tot"
echo PASS
