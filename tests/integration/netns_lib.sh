# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# netns_lib.sh: network namespaces for the dpdk backend's tests. Source it:
#
#   . tests/integration/netns_lib.sh
#   trap 'netns_cleanup t1' EXIT
#   netns_setup_pair t1 1500          # t1a <-veth-> t1b
#   netns_setup_relay t2 1500         # t2a <-veth-> t2m <-veth-> t2b
#   netns_start_relay t2 build/tests/tools/bulk_impair --seed 7 --loss 5
#   ...
#   netns_stop_relay                  # prints the relay's counters
#
# Everything stays inside namespaces this library creates: interfaces are
# created inside them (never in the caller's namespace), addresses are
# 198.18.0.1/24 (a) and 198.18.0.2/24 (b), there is no default route, and
# IPv6 is off in the namespaces (no ND/MLD noise on the wire).
#
# Needs root, iproute2 and ethtool. netns_have_root tells whether it can run
# (tests exit 77 = skip otherwise).
#
# Variables set (and exported) by netns_setup_pair / netns_setup_relay:
#   NETNS_A NETNS_B [NETNS_M]          namespace names  (PREFIXa, PREFIXb, PREFIXm)
#   NETNS_IF_A NETNS_IF_B              PREFIXa0 (in a), PREFIXb0 (in b)
#   NETNS_IF_MA NETNS_IF_MB            PREFIXma, PREFIXmb (in m; relay only)
#   NETNS_MAC_A NETNS_MAC_B            MACs of a0 and b0 (fixed: 02:00:c6:12:00:01 / :02)
#   NETNS_IP_A NETNS_IP_B              198.18.0.1 / 198.18.0.2
#   NETNS_MTU                          the MTU set on every veth
#
# Offloads: the a0/b0 ends get tx checksumming, TSO/GSO and GRO off, so that
# the kernel's own frames (ping, nc, ARP) reach AF_PACKET/AF_XDP readers and
# the relay as complete frames with valid checksums (veth otherwise hands
# CHECKSUM_PARTIAL frames and 64 KiB GSO super-frames to raw sockets). The
# relay's interfaces get the same treatment. Frames built in user space
# (DPDK) are never touched by these offloads either way.
# For net_af_xdp on a0/b0 see netns_xdp_prepare and /tmp/dpdk_recon.md.

NETNS_IP_A=198.18.0.1
NETNS_IP_B=198.18.0.2

netns_have_root() {
	[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 &&
		ip netns list >/dev/null 2>&1
}

_netns_log() {
	[ -n "${NETNS_VERBOSE:-}" ] && echo "netns: $*" >&2
	return 0
}

# _netns_check_prefix PREFIX: interface names are PREFIX + 2 chars, <= 15.
_netns_check_prefix() {
	local p=$1
	if [ -z "$p" ] || [ "${#p}" -gt 13 ] || [[ ! "$p" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]*$ ]]; then
		echo "netns: bad prefix '$p' (1..13 chars of [A-Za-z0-9_-])" >&2
		return 1
	fi
}

# _netns_free NAME...: none of these namespaces exists yet (they are not
# touched when one does: they may belong to a test running beside us).
_netns_free() {
	local ns
	for ns in "$@"; do
		if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
			echo "netns: namespace $ns already exists (netns_cleanup first)" >&2
			return 1
		fi
	done
}

# _netns_new NAME: a fresh namespace with lo up and IPv6 off.
_netns_new() {
	local ns=$1
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# _netns_if_prep NS IF MTU: MTU, offloads off, up.
_netns_if_prep() {
	local ns=$1 ifn=$2 mtu=$3
	ip -n "$ns" link set dev "$ifn" mtu "$mtu" || return 1
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifn.disable_ipv6=1" >/dev/null 2>&1 || true
	# Not every feature exists on every kernel: ask for all, ignore refusals.
	ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off gro off \
		>/dev/null 2>&1 || true
	ip -n "$ns" link set dev "$ifn" up
}

_netns_mac() {
	ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

_netns_export_ends() {
	local p=$1 mtu=$2
	NETNS_A=${p}a NETNS_B=${p}b
	NETNS_IF_A=${p}a0 NETNS_IF_B=${p}b0
	NETNS_MAC_A=$(_netns_mac "$NETNS_A" "$NETNS_IF_A")
	NETNS_MAC_B=$(_netns_mac "$NETNS_B" "$NETNS_IF_B")
	NETNS_MTU=$mtu
	export NETNS_A NETNS_B NETNS_IF_A NETNS_IF_B NETNS_MAC_A NETNS_MAC_B NETNS_MTU \
		NETNS_IP_A NETNS_IP_B
}

# _netns_wait_up NS IF: veth carrier comes up asynchronously.
_netns_wait_up() {
	local _
	for _ in $(seq 1 50); do
		ip -n "$1" -o link show dev "$2" | grep -q 'state UP' && return 0
		sleep 0.1
	done
	echo "netns: $2 in $1 did not come up" >&2
	return 1
}

# netns_setup_pair PREFIX MTU
netns_setup_pair() {
	local p=$1 mtu=${2:-1500} a b
	_netns_check_prefix "$p" || return 1
	a=${p}a b=${p}b
	_netns_free "$a" "$b" || return 1
	if ! { _netns_new "$a" && _netns_new "$b"; }; then
		netns_cleanup "$p"
		return 1
	fi
	if ! ip -n "$a" link add "${p}a0" address 02:00:c6:12:00:01 type veth \
		peer name "${p}b0" address 02:00:c6:12:00:02 netns "$b"; then
		netns_cleanup "$p"
		return 1
	fi
	if ! { _netns_if_prep "$a" "${p}a0" "$mtu" && _netns_if_prep "$b" "${p}b0" "$mtu" &&
		ip -n "$a" addr add "$NETNS_IP_A/24" dev "${p}a0" &&
		ip -n "$b" addr add "$NETNS_IP_B/24" dev "${p}b0" &&
		_netns_wait_up "$a" "${p}a0" && _netns_wait_up "$b" "${p}b0"; }; then
		netns_cleanup "$p"
		return 1
	fi
	_netns_export_ends "$p" "$mtu"
	_netns_log "pair $a/${p}a0 ($NETNS_MAC_A) <-> $b/${p}b0 ($NETNS_MAC_B) mtu $mtu"
}

# netns_setup_relay PREFIX MTU
netns_setup_relay() {
	local p=$1 mtu=${2:-1500} a b m
	_netns_check_prefix "$p" || return 1
	a=${p}a b=${p}b m=${p}m
	_netns_free "$a" "$m" "$b" || return 1
	if ! { _netns_new "$a" && _netns_new "$m" && _netns_new "$b"; }; then
		netns_cleanup "$p"
		return 1
	fi
	if ! ip -n "$a" link add "${p}a0" address 02:00:c6:12:00:01 type veth \
			peer name "${p}ma" netns "$m" ||
	   ! ip -n "$b" link add "${p}b0" address 02:00:c6:12:00:02 type veth \
			peer name "${p}mb" netns "$m"; then
		netns_cleanup "$p"
		return 1
	fi
	if ! { _netns_if_prep "$a" "${p}a0" "$mtu" && _netns_if_prep "$b" "${p}b0" "$mtu" &&
		_netns_if_prep "$m" "${p}ma" "$mtu" && _netns_if_prep "$m" "${p}mb" "$mtu" &&
		ip -n "$a" addr add "$NETNS_IP_A/24" dev "${p}a0" &&
		ip -n "$b" addr add "$NETNS_IP_B/24" dev "${p}b0" &&
		_netns_wait_up "$a" "${p}a0" && _netns_wait_up "$b" "${p}b0"; }; then
		netns_cleanup "$p"
		return 1
	fi
	# m is a wire, not a router or a host: no forwarding, no addresses.
	ip netns exec "$m" sysctl -qw net.ipv4.ip_forward=0 >/dev/null 2>&1 || true
	_netns_export_ends "$p" "$mtu"
	NETNS_M=$m NETNS_IF_MA=${p}ma NETNS_IF_MB=${p}mb
	export NETNS_M NETNS_IF_MA NETNS_IF_MB
	_netns_log "relay $a/${p}a0 <-> $m/${p}ma|${p}mb <-> $b/${p}b0 mtu $mtu"
}

# netns_start_relay PREFIX BULK_IMPAIR [OPTIONS...]
#   Starts bulk_impair in PREFIXm between PREFIXma and PREFIXmb, waits for its
#   "impair: ready" (5 s). Sets NETNS_RELAY_PID and NETNS_RELAY_LOG (its stdout
#   and stderr). Frames sent before it is ready are lost (there is no path).
netns_start_relay() {
	local p=$1 bin=$2 _
	shift 2
	NETNS_RELAY_LOG=$(mktemp "${TMPDIR:-/tmp}/bulk_impair.${p}.XXXXXX") || return 1
	ip netns exec "${p}m" "$bin" --if-a "${p}ma" --if-b "${p}mb" "$@" \
		>"$NETNS_RELAY_LOG" 2>&1 &
	NETNS_RELAY_PID=$!
	export NETNS_RELAY_PID NETNS_RELAY_LOG
	for _ in $(seq 1 50); do
		grep -q '^impair: ready' "$NETNS_RELAY_LOG" 2>/dev/null && return 0
		kill -0 "$NETNS_RELAY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "netns: relay did not start:" >&2
	cat "$NETNS_RELAY_LOG" >&2
	return 1
}

# netns_stop_relay: SIGTERM the relay, wait for it, print its final counters
# (the last "impair a->b" and "impair b->a" lines) on stdout. Returns its
# exit status.
netns_stop_relay() {
	local rc=0
	[ -n "${NETNS_RELAY_PID:-}" ] || return 0
	kill -TERM "$NETNS_RELAY_PID" 2>/dev/null
	wait "$NETNS_RELAY_PID" 2>/dev/null || rc=$?
	NETNS_RELAY_PID=
	grep '^impair a->b:' "$NETNS_RELAY_LOG" | tail -n 1
	grep '^impair b->a:' "$NETNS_RELAY_LOG" | tail -n 1
	grep -v '^impair' "$NETNS_RELAY_LOG" >&2
	return "$rc"
}

# netns_relay_counter DIR FIELD: a field of the last counters line of the relay
# log, e.g. netns_relay_counter a->b dropped.
netns_relay_counter() {
	grep "^impair $1:" "$NETNS_RELAY_LOG" | tail -n 1 | tr ' ' '\n' |
		sed -n "s/^$2=//p"
}

# netns_xdp_prepare NS IF: checks what net_af_xdp needs on a veth end (see
# /tmp/dpdk_recon.md, item 1). Native XDP attaches on veth with nothing on
# the peer (AF_XDP TX leaves as skbs), but veth refuses an XDP program when
# the MTU is above 3506 (4 KiB pages), and the PMD receives frames of at
# most (RX mbuf data room - 384) bytes: 1792 with the default 2176-byte
# mbufs, 3456 at most (data room 3840). Re-asserts the offloads of
# _netns_if_prep; returns 1 (with a message) if the MTU is too large.
netns_xdp_prepare() {
	local ns=$1 ifn=$2 mtu
	ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off gro off >/dev/null 2>&1 || true
	mtu=$(ip -n "$ns" -o link show dev "$ifn" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
	if [ -n "$mtu" ] && [ "$mtu" -gt 3506 ]; then
		echo "netns: $ifn mtu $mtu: veth takes no XDP program above 3506" >&2
		return 1
	fi
}

# netns_af_xdp_missing [LOG]: after a net_af_xdp port did not come up, tells
# whether that is for want of something outside the test: a kernel without
# AF_XDP sockets, or a DPDK without the net_af_xdp PMD (EAL then cannot even
# parse the vdev; LOG is the DPDK process's output). Prints the reason and
# returns 0 if so (a test then skips, 77); returns 1 when both are there, so
# the port's failure is the test's (a test then fails: never a silent fall
# back to net_af_packet under an af_xdp test's name).
netns_af_xdp_missing() {
	local log=${1:-} err
	# AF_XDP is address family 44; Python passes any family to socket(2).
	if command -v python3 >/dev/null 2>&1 &&
		! err=$(python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0).close()' \
			2>&1); then
		echo "this kernel has no AF_XDP sockets (socket(AF_XDP): ${err##*$'\n'})"
		return 0
	fi
	if [ -n "$log" ] && grep -q 'failed to parse device "net_af_xdp' "$log" 2>/dev/null; then
		echo "this DPDK has no net_af_xdp PMD (EAL: failed to parse device net_af_xdp)"
		return 0
	fi
	return 1
}

# netns_cleanup PREFIX: kill what still runs in PREFIX{a,m,b} (TERM, then
# KILL after 2 s), delete them; the veths go with them. Idempotent.
netns_cleanup() {
	local p=$1 ns pids _
	[ -n "$p" ] || return 0
	for ns in "${p}a" "${p}m" "${p}b"; do
		ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -TERM $pids 2>/dev/null
			for _ in $(seq 1 20); do
				pids=$(ip netns pids "$ns" 2>/dev/null)
				[ -z "$pids" ] && break
				sleep 0.1
			done
			# shellcheck disable=SC2086
			[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -n "${NETNS_RELAY_PID:-}" ]; then
		wait "$NETNS_RELAY_PID" 2>/dev/null
		NETNS_RELAY_PID=
	fi
	return 0
}
