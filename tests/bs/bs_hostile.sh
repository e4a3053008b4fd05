#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_bs_hostile against a running nbs; then nbs must still be alive, stop
# on SIGTERM with exit 0, and account for every client (no request left
# live, no pool leaked, the protocol errors counted).
#
#   bs_hostile.sh NBS TEST_BS_HOSTILE
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 hostile=$2
bs_init hostile
bs_nbs nbs.out --store memory:16M --block-size 4096
"$hostile" "$NBS_CTL" >"$T/hostile.out" 2>&1
st=$?
cat "$T/hostile.out"
[ "$st" = 0 ] || fail "test_bs_hostile exited $st"
kill -0 "$NBS_PID" 2>/dev/null || fail "nbs died"
bs_stop_nbs
bs_check_nbs nbs.out
tot=$(grep 'nbs: stats: total' "$T/nbs.out")
[ "$(bs_kv "$tot" invalid)" -ge 12 ] || fail "invalid requests not counted: $tot"
echo PASS
