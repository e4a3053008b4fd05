# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# Helpers of test_dpdk_memif.sh and test_dpdk_netns.sh (sourced).

# EAL arguments every dpdk_xfer_peer process gets: no hugepages, no runtime
# files (so processes run side by side), no PCI, one lcore that may run on
# any CPU we have (not pinned: 2 cores, 3 busy processes).
dpdk_eal_common() {
	local cpus
	cpus=$(taskset -pc $$ 2>/dev/null | sed -n 's/.*: *//p' | tr -d ' ')
	[ -n "$cpus" ] || cpus="0-$(($(nproc) - 1))"
	echo "--no-huge --no-shconf -m 512 --no-pci --lcores=0@($cpus) --log-level=lib.eal:error"
}

# dpdk_wait_line FILE REGEX PID: wait until FILE has a line matching REGEX,
# as long as PID lives. Returns 0 when seen, 1 when PID ended first.
dpdk_wait_line() {
	local f=$1 re=$2 pid=$3
	while :; do
		grep -qE -- "$re" "$f" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { grep -qE -- "$re" "$f" 2>/dev/null; return; }
		sleep 0.1
	done
}

# dpdk_check_xfer FILE ROLE COUNT: the last "xfer: role=" line of FILE says
# COUNT buffers and no failure of any kind.
dpdk_check_xfer() {
	local f=$1 role=$2 count=$3 line
	line=$(grep '^xfer: role=' "$f" | grep -v ' seed=' | tail -n 1)
	echo "$role final: $line"
	case "$line " in
	"xfer: role=$role buffers=$count "*' verify_failures=0 dups=0 out_of_order=0 errors=0 ') return 0 ;;
	esac
	echo "FAIL: $role side: expected buffers=$count and no failures" >&2
	return 1
}

# dpdk_stat FILE PREFIX FIELD: FIELD=value from the last line of FILE starting with PREFIX.
dpdk_stat() {
	grep "^$2" "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# dpdk_kill PID: SIGTERM, then SIGKILL after 2 s, then reap. Only our own children.
dpdk_kill() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# LeakSanitizer (the asan configuration of scripts/test.sh): net_af_xdp of
# DPDK 22.11 leaves libxdp's umem struct behind at rte_eth_dev_close (80
# bytes from xsk_umem__create: xsk_umem__delete refuses while a socket
# still counts it). Not ours; suppressed for the dpdk_xfer_peer processes.
# dpdk_lsan_suppress DIR: writes DIR/lsan.supp and exports LSAN_OPTIONS.
dpdk_lsan_suppress() {
	printf 'leak:xsk_umem__create\n' >"$1/lsan.supp"
	LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$1/lsan.supp"
	export LSAN_OPTIONS
}
