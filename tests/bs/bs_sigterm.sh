#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# SIGTERM of nbs while clients are busy: nbs tells them, they finish what
# they have in flight and say goodbye, nbs flushes, prints its statistics
# (every client, the totals, the store) and exits 0; no client hangs. A
# client whose requests were refused for the shutdown says so and ends.
#
#   bs_sigterm.sh NBS BS_USER
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2
bs_init sigterm
truncate -s 16M "$T/disk.img" || exit 99
bs_nbs nbs.out --store "file:$T/disk.img"
pids=()
for i in 0 1; do
	bs_user "u$i.out" --workload rand --verify --duration 60 --qd 16 \
		--offset $((i * 4194304)) --range 4194304 --stats-period 0.1
	pids+=("$BSU_PID")
done
for i in 0 1; do
	bs_wait_line "$T/u$i.out" 30 'ios=[1-9]' || fail "client $i never got going"
done
bs_stop_nbs
bs_check_nbs nbs.out
grep -q 'nbs: stats: store=file:' "$T/nbs.out" || fail "no store statistics"
n=$(grep -c 'nbs: stats: client=' "$T/nbs.out")
[ "$n" = 2 ] || fail "expected 2 clients in the statistics, saw $n"
for i in 0 1; do
	bs_wait "${pids[$i]}" 30
	[ "$BS_STATUS" != timeout ] || fail "client $i hung after the server shut down"
	grep -q 'server shut down\|^result:' "$T/u$i.out" || fail "client $i did not end cleanly"
	r=$(bs_result "u$i.out")
	[ "$(bs_kv "$r" verify_failures)" = 0 ] || fail "client $i: verify failures: $r"
	echo "u$i: exit $BS_STATUS: $r"
done
echo PASS
