#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Two dpdk_xfer_peer processes over net_memif (a memif socket under /tmp
# with a unique name): the create side is the memif server and the sink,
# the bind side the client and the source. 10,000 buffers of random
# lengths 64 B .. 1 MiB (seeded), each verified by the sink, every one back
# at the source. Both must exit 0 with their final lines clean.
#
#   test_dpdk_memif.sh DPDK_XFER_PEER
#
# Environment: BULK_SEED (default 20261123), BULK_DPDK_COUNT (default
# 10000; 2000 with BULKPERF_SHORT=1, the sanitizer runs), BULK_DPDK_MTU
# (the links' IP MTU; default: the port's, 1500).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/dpdk/dpdk_lib.sh
. "$here/dpdk_lib.sh"

peer=${1:?usage: test_dpdk_memif.sh DPDK_XFER_PEER}
seed=${BULK_SEED:-20261123}
if [ -n "${BULKPERF_SHORT:-}" ]; then
	count=${BULK_DPDK_COUNT:-2000}
else
	count=${BULK_DPDK_COUNT:-10000}
fi
mtu=${BULK_DPDK_MTU:-0}
sock=/tmp/bulk-memif-$$-$RANDOM.sock
clog=$(mktemp) blog=$(mktemp)
cpid='' bpid=''

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	dpdk_kill "$bpid"
	dpdk_kill "$cpid"
	rm -f "$sock" "$clog" "$blog"
}
trap cleanup EXIT

# shellcheck disable=SC2317
fail() {
	echo "FAIL: $*" >&2
	echo "--- create side:" >&2
	cat "$clog" >&2
	echo "--- bind side:" >&2
	cat "$blog" >&2
	exit 1
}

read -r -a eal <<<"$(dpdk_eal_common)"
common=(--count "$count" --min 64 --max 1048576 --seed "$seed" --ep-id 9 --mtu "$mtu")
rm -f "$sock"
t0=$SECONDS
ccmd=("$peer" "${eal[@]}" "--vdev=net_memif0,role=server,id=0,socket=$sock" --
	--role create --local-ip 198.18.5.2 --peer-ip 198.18.5.1 "${common[@]}")
bcmd=("$peer" "${eal[@]}" "--vdev=net_memif0,role=client,id=0,socket=$sock" --
	--role bind --local-ip 198.18.5.1 --peer-ip 198.18.5.2 "${common[@]}")
echo "+ ${ccmd[*]}"
"${ccmd[@]}" >"$clog" 2>&1 &
cpid=$!
dpdk_wait_line "$clog" '^xfer: listening' "$cpid" || fail "the create side did not start"
echo "+ ${bcmd[*]}"
"${bcmd[@]}" >"$blog" 2>&1 &
bpid=$!
wait "$bpid"
brc=$?
p=$bpid
bpid=
echo "--- bind side (pid $p, exit $brc):"
cat "$blog"
[ "$brc" = 0 ] || fail "bind side exit status $brc"
# The bind side's teardown ends the create side.
for _ in $(seq 300); do
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$cpid" 2>/dev/null && fail "create side (pid $cpid) still running 30 s after the bind side"
wait "$cpid"
crc=$?
p=$cpid
cpid=
echo "--- create side (pid $p, exit $crc):"
cat "$clog"
[ "$crc" = 0 ] || fail "create side exit status $crc"
dpdk_check_xfer "$clog" create "$count" || fail "create side result"
dpdk_check_xfer "$blog" bind "$count" || fail "bind side result"
b1=$(dpdk_stat "$blog" 'xfer: role=bind' bytes)
b2=$(dpdk_stat "$clog" 'xfer: role=create' bytes)
[ "$b1" = "$b2" ] || fail "bytes sent $b1, received $b2"
echo "PASS: net_memif, $count buffers, $b1 bytes, seed $seed, $((SECONDS - t0)) s"
exit 0
