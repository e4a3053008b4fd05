#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bs-user -> nbs over shm, memory or file store: the spec's basic workload
# (write, wait, read back, verify), then verified random and sequential
# load, one after the other on one server; then nbs stops on SIGTERM, exits
# 0 and reports every client with 0 payload bytes copied on its shm hop.
#
#   bs_basic.sh NBS BS_USER memory|file
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 kind=$3
bs_init "basic-$kind"
if [ "$kind" = file ]; then
	truncate -s 32M "$T/disk.img" || exit 99
	store="file:$T/disk.img"
else
	store="memory:32M"
fi
bs_nbs nbs.out --store "$store"

bs_user basic.out --workload basic --count 200
bs_wait "$BSU_PID"
bs_check_user basic.out "$BS_STATUS"

bs_user rand.out --workload rand --rw mix --verify --count 20000 --range 4194304 --qd 32
bs_wait "$BSU_PID"
bs_check_user rand.out "$BS_STATUS"

bs_user seq.out --workload seq --rw read --verify --range 2097152 --bs 65536 --qd 8
bs_wait "$BSU_PID"
bs_check_user seq.out "$BS_STATUS"

bs_stop_nbs
bs_check_nbs nbs.out
n=$(grep -c 'nbs: stats: client=.* hop=shm .*end=goodbye' "$T/nbs.out")
[ "$n" = 3 ] || fail "expected 3 clients that said goodbye, saw $n"
if [ "$kind" = memory ]; then
	# The memory store copied once per byte it read or wrote, and said so apart.
	tot=$(grep 'nbs: stats: total' "$T/nbs.out")
	[ "$(bs_kv "$tot" store_copied_bytes)" -gt 0 ] || fail "no store copy counted: $tot"
fi
echo PASS
