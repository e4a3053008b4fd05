#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# nbs-proxy --cache: bs-user -> nbs-proxy (shm, a 4 MiB read cache) -> nbs
# (shm). Users with --copies get cache hits as read-only copies of the
# cache's blocks; the others by memcpy. Checks, every run verified:
#  - a random mix through the cache (reads hit, writes invalidate), two
#    users at once on disjoint ranges;
#  - one user writes what another read before: a third sees the new data
#    (the cache held the old data: the write invalidated it), then reads
#    it again from the cache;
#  - a user without --copies is served from the cache by memcpy;
#  - a user killed with copies out: the core gives the copies back, its
#    blocks are written over and reused, a newcomer is served;
#  - at SIGTERM the proxy exits 0 with cache hits and copy hits > 0, no
#    block left waiting for copies (zombies=0), every shm hop copied 0.
#
#   bs_cache.sh NBS BS_USER NBS_PROXY
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3
bs_init cache
pctl="unix:@bs-test-cache-px-$$"
bs_nbs nbs.out --store memory:64M
# The cache from a config file (its keys are the options).
printf '[nbs-proxy]\ncache = 4M\ncache-block = 4096\n' >"$T/px.ini"
bs_start proxy.out PX "$PROXY" --config "$T/px.ini" --upstream "$NBS_CTL" --listen "$pctl" \
	--nbd "unix:$T/px-nbd.sock"
"$PROXY" --upstream "$NBS_CTL" --listen "$pctl-bad" --cache 4Q >"$T/bad.out" 2>&1
st=$?
[ "$st" = 2 ] || fail "nbs-proxy --cache 4Q exited $st"
"$PROXY" --upstream "$NBS_CTL" --listen "$pctl-bad" --cache 4K >"$T/bad.out" 2>&1
st=$?
[ "$st" = 2 ] || fail "nbs-proxy --cache of one block exited $st"

user()
{
	local out=$1
	shift
	bs_bg "$out" U "$BS_USER" --connect "$pctl" --stats-period 0 "$@"
}

copies_on()
{
	local l
	l=$(bs_line "$1" 'copies: on')
	[ -n "$l" ] || fail "$1: the copy channel was not used"
	[ "$(bs_kv "$l" held)" = 0 ] || fail "$1: copies still held at the end: $l"
	echo "$1: $l"
}

# Two users at once, random mixes over disjoint 1 MiB ranges.
user mixa.out --copies --workload rand --rw mix --verify --count 20000 --range 1048576 --qd 16
UA=$U
user mixb.out --copies --workload rand --rw mix --verify --count 20000 --range 1048576 \
	--offset 1048576 --qd 16 --seed 7
UB=$U
bs_wait "$UA"
bs_check_user mixa.out "$BS_STATUS"
bs_wait "$UB"
bs_check_user mixb.out "$BS_STATUS"
copies_on mixa.out
copies_on mixb.out
[ "$(bs_kv "$(bs_line mixa.out 'copies: on')" reads)" -gt 0 ] || fail "no READ came as a copy"

# Writer and reader: the reader caches seed 1's data, the writer writes
# seed 2's over it, a reader must see seed 2's, then again from the cache.
R="--range 1048576 --offset 8388608"
user w1.out --workload seq --rw write --verify --seed 1 $R --qd 8
bs_wait "$U"
bs_check_user w1.out "$BS_STATUS"
user r1.out --copies --workload seq --rw read --verify-written --seed 1 $R --qd 8
bs_wait "$U"
bs_check_user r1.out "$BS_STATUS"
user w2.out --copies --workload seq --rw write --verify --seed 2 $R --qd 8
bs_wait "$U"
bs_check_user w2.out "$BS_STATUS"
for i in 2 3; do
	user "r$i.out" --copies --workload seq --rw read --verify-written --seed 2 $R --qd 8
	bs_wait "$U"
	bs_check_user "r$i.out" "$BS_STATUS"
	copies_on "r$i.out"
done
[ "$(bs_kv "$(bs_line r3.out 'copies: on')" reads)" -gt 0 ] || fail "r3: no cache hit as a copy"
# Without --copies: the same data, by memcpy from the cache.
user r4.out --workload seq --rw read --verify-written --seed 2 $R --qd 8
bs_wait "$U"
bs_check_user r4.out "$BS_STATUS"

# A user dies holding copies; its blocks come back and are written over.
user kill.out --copies --workload rand --rw read --duration 30 $R --qd 32
K=$U
bs_until "$T/kill.out" 'connected to' "$K" || fail "the user to kill did not connect"
sleep 0.5
kill -KILL "$K"
bs_wait "$K"
user w3.out --workload seq --rw write --verify --seed 3 $R --qd 8
bs_wait "$U"
bs_check_user w3.out "$BS_STATUS"
user r5.out --copies --workload seq --rw read --verify-written --seed 3 $R --qd 8
bs_wait "$U"
bs_check_user r5.out "$BS_STATUS"

# NBD writes through the same proxy invalidate the cache too: R holds
# seed 3's data (cached by r5); nbdcopy writes a second nbs's whole store,
# whose R holds seed 4's, through the proxy's NBD front end; a native
# reader must then see seed 4's.
if command -v nbdcopy >/dev/null 2>&1; then
	N2_CTL="unix:@bs-test-cache-n2-$$"
	bs_start nbs2.out N2 "$NBS" --listen "$N2_CTL" --store memory:64M --nbd "unix:$T/n2-nbd.sock"
	bs_bg w4.out U "$BS_USER" --connect "$N2_CTL" --stats-period 0 --workload seq --rw write \
		--verify --seed 4 $R --qd 8
	bs_wait "$U"
	bs_check_user w4.out "$BS_STATUS"
	nbdcopy "nbd+unix:///?socket=$T/n2-nbd.sock" "nbd+unix:///?socket=$T/px-nbd.sock" \
		>"$T/nbdcopy.out" 2>&1 || fail "nbdcopy through the proxy's NBD front end: $(cat "$T/nbdcopy.out")"
	user r6.out --copies --workload seq --rw read --verify-written --seed 4 $R --qd 8
	bs_wait "$U"
	bs_check_user r6.out "$BS_STATUS"
	bs_term "$N2"
	echo "NBD writes through the proxy invalidated its cache (r6 saw them)"
else
	echo "the NBD part: skipped (no nbdcopy: Debian's libnbd-bin)"
fi

bs_term "$PX"
[ "$BS_STATUS" = 0 ] || fail "nbs-proxy exited $BS_STATUS"
bs_stop_nbs
bs_check_nbs nbs.out
c=$(bs_line proxy.out 'stats: cache ')
[ -n "$c" ] || fail "no cache statistics"
echo "proxy: $c"
[ "$(bs_kv "$c" hits)" -gt 0 ] || fail "no cache hit: $c"
[ "$(bs_kv "$c" copy_hits)" -gt 0 ] || fail "no hit as a copy: $c"
[ "$(bs_kv "$c" memcpy_hits)" -gt 0 ] || fail "no hit by memcpy (r4): $c"
[ "$(bs_kv "$c" invalidations)" -gt 0 ] || fail "no invalidation: $c"
[ "$(bs_kv "$c" zombies)" = 0 ] || fail "blocks still waiting for copies: $c"
tot=$(bs_line proxy.out 'stats: total')
[ "$(bs_kv "$tot" died)" = 1 ] || fail "expected the killed user to be counted: $tot"
[ "$(bs_kv "$tot" live_requests)" = 0 ] || fail "requests left live: $tot"
[ "$(bs_kv "$tot" pools_leaked)" = 0 ] || fail "pools leaked: $tot"
bs_check_shm_zero proxy.out
for u in mixa mixb r3 r4 r5; do
	[ "$(bs_kv "$(bs_line "$u.out" 'hop shm:')" copied_bytes)" = 0 ] || fail "$u: its shm hop copied"
done
echo PASS
