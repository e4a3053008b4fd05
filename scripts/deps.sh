#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Install what libbulk needs to build, test and run on Debian 12 (bookworm).
# Idempotent: checks each package with dpkg-query and installs only the
# missing ones (after one `apt-get update`). Needs root only when something
# is missing.
#
# Usage: bash scripts/deps.sh        (as root on a fresh Debian 12)

set -euo pipefail

# Build: meson/ninja/pkg-config, gcc and clang (clang-rt-14 carries the
# ASan/UBSan/TSan runtimes for the sanitizer builds in scripts/test.sh).
# Libraries: jemalloc (control structures), Google Benchmark (bench/gbench),
# DPDK (rte_ring comparison now, dpdk backend later), inih (config files),
# liburing (nbs's file store: io_uring reads, writes, fsync, fallocate),
# libbpf-dev (bpf/bpf_helpers.h for the dpdk backend's XDP program,
# backends/dpdk/xdp, compiled with clang -target bpf).
# Tools: python3 (meson, test summary), iproute2 and ethtool (the dpdk
# backend's netns/veth tests: tests/integration/netns_lib.sh).
PACKAGES=(
	meson
	ninja-build
	pkg-config
	gcc
	g++
	libc6-dev
	clang
	make
	libjemalloc-dev
	libbenchmark-dev
	libdpdk-dev
	libinih-dev
	liburing-dev
	libbpf-dev
	libclang-rt-14-dev
	python3
	iproute2
	ethtool
)

is_installed()
{
	local st
	st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[[ "$st" == "installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
	if ! is_installed "$p"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PACKAGES[@]} packages present"
else
	echo "deps: missing: ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: error: not root; install them as root:" >&2
		echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	echo "deps: apt-get update"
	apt-get update -q
	echo "deps: apt-get install ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}"
	for p in "${missing[@]}"; do
		if ! is_installed "$p"; then
			echo "deps: error: $p still not installed" >&2
			exit 1
		fi
	done
	echo "deps: installed: ${missing[*]}"
fi

# Nothing more to set up here: DPDK runs without hugepages (--no-huge) and
# on vdevs only, and each dpdk test creates and removes its own network
# namespaces and veth pairs (tests/integration/netns_lib.sh).
exit 0
