#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE main job: install what is missing, build a release libbulk into
# build-release/, and show it working with two bulkperf runs over the local
# backend (two domains on two threads, zero-copy move/pass of 64 KiB buffers)
# and over the shm backend (separate processes):
#
#   1. local echo: the source moves bursts of 32 buffers, the sink passes
#      them back; 5 seconds; every payload verified;
#   2. local rtt:  200000 single-buffer round trips with latency percentiles;
#   3. shm echo through a chain of processes (source -> hop -> sink, the
#      hop a separate process that moves every buffer on), verified;
#   4. shm rtt between two processes started by hand (create side in the
#      background, bind side in front): 4 MiB buffers, not touched, so the
#      round trip costs what a 64-byte one does;
#   5. dpdk echo between two processes over a net_memif link (the dpdk
#      backend's UDP frames, acks and retransmission, zero-copy transmit),
#      64 KiB buffers, verified. EAL without hugepages; vdevs only.
#
# The last line printed is the "result: ..." line of the last run.
#
# NOTE: this is the interim demo. Later issues replace it with the block
# service demo (nbs + nbs-proxy + bs-user over shm and dpdk channels); keep
# the contract: `bash scripts/demo.sh` as root on a fresh Debian 12, and the
# last line is the result.
#
# Usage: bash scripts/demo.sh     (from any directory)

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=build-release
BULKPERF=$BUILD/bench/bulkperf/bulkperf

banner()
{
	echo
	echo "=================================================================="
	echo "== $*"
	echo "=================================================================="
}

banner "deps (scripts/deps.sh)"
bash scripts/deps.sh

banner "build $BUILD (release)"
SETUP_ARGS=(--buildtype=release -Dtests=false -Dgbench=disabled)
if [[ -f "$BUILD/meson-private/coredata.dat" ]]; then
	meson setup --reconfigure "$BUILD" "${SETUP_ARGS[@]}" ||
		meson setup --wipe "$BUILD" "${SETUP_ARGS[@]}"
else
	rm -rf "$BUILD"
	meson setup "$BUILD" "${SETUP_ARGS[@]}"
fi
meson compile -C "$BUILD"

if [[ ! -x "$BULKPERF" ]]; then
	echo "demo: $BULKPERF was not built" >&2
	exit 1
fi

run()
{
	banner "$BULKPERF $*"
	"$BULKPERF" "$@"
}

run --backend local --mode echo --burst 32 --buffer-size 65536 --duration 5 --verify
run --backend local --mode rtt --count 200000 --verify
run --backend shm --mode echo --hops 1 --burst 32 --buffer-size 65536 --duration 3 --verify

EP="@bulk-demo-$$"
banner "$BULKPERF --backend shm --mode echo --role create --endpoint $EP  (background)"
"$BULKPERF" --backend shm --mode echo --role create --endpoint "$EP" --stats-period 0 \
	>"/tmp/bulk-demo-$$.log" 2>&1 &
CREATOR=$!
trap 'kill "$CREATOR" 2>/dev/null || true; rm -f "/tmp/bulk-demo-$$.log"' EXIT
run --backend shm --mode rtt --role bind --endpoint "$EP" --buffer-size 4194304 \
	--buffers 64 --count 50000 --stats-period 0
wait "$CREATOR"
trap - EXIT
rm -f "/tmp/bulk-demo-$$.log"

SOCK="/tmp/bulk-demo-memif-$$.sock"
EAL=(--no-pci --no-huge -m 512 --no-shconf --log-level=lib.eal:warning)
banner "$BULKPERF ${EAL[*]} -l 1 --vdev net_memif0,role=server,... -- --backend dpdk --role create  (background)"
"$BULKPERF" "${EAL[@]}" -l 1 --file-prefix "bdc$$" \
	--vdev "net_memif0,role=server,socket=$SOCK,socket-abstract=no" -- \
	--backend dpdk --role create --local-ip 198.18.0.2 --peer-ip 198.18.0.1 \
	--mode echo --verify --stats-period 0 >"/tmp/bulk-demo-$$.log" 2>&1 &
CREATOR=$!
trap 'kill "$CREATOR" 2>/dev/null || true; rm -f "/tmp/bulk-demo-$$.log" "$SOCK"' EXIT
# The memif server (creator) must be up before the client connects.
for _ in $(seq 100); do
	grep -q 'listening on endpoint' "/tmp/bulk-demo-$$.log" && break
	sleep 0.1
done
run "${EAL[@]}" -l 0 --file-prefix "bdb$$" \
	--vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no" -- \
	--backend dpdk --role bind --local-ip 198.18.0.1 --peer-ip 198.18.0.2 \
	--mode echo --burst 32 --buffer-size 65536 --buffers 256 --duration 3 --verify --stats-period 0
wait "$CREATOR"
trap - EXIT
rm -f "/tmp/bulk-demo-$$.log" "$SOCK"
