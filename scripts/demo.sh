#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE main job: install what is missing, build a release libbulk into
# build-release/, and show it working with two bulkperf runs over the local
# backend (two domains on two threads, zero-copy move/pass of 64 KiB buffers):
#
#   1. echo: the source moves bursts of 32 buffers, the sink passes them
#      back; 5 seconds; every payload verified;
#   2. rtt:  200000 single-buffer round trips with latency percentiles.
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
