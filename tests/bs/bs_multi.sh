#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 8 bs-users at once on one nbs, each verifying random load on its own
# range of the export; all succeed, and nbs reports 8 clients, none with a
# payload byte copied on its shm hop.
#
#   bs_multi.sh NBS BS_USER
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2
bs_init multi
bs_nbs nbs.out --store memory:64M
pids=()
for i in 0 1 2 3 4 5 6 7; do
	bs_user "u$i.out" --workload rand --rw mix --verify --count 5000 --qd 16 \
		--offset $((i * 4194304)) --range 4194304 --seed $((i + 1))
	pids+=("$BSU_PID")
done
for i in 0 1 2 3 4 5 6 7; do
	bs_wait "${pids[$i]}"
	bs_check_user "u$i.out" "$BS_STATUS"
done
bs_stop_nbs
bs_check_nbs nbs.out
n=$(grep -c 'nbs: stats: client=.*end=goodbye' "$T/nbs.out")
[ "$n" = 8 ] || fail "expected 8 clients, saw $n"
echo PASS
