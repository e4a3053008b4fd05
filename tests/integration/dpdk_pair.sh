#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run a bulkperf pair over the dpdk backend, two processes as a user would
# start them by hand (like shm_pair.sh): the create side (the reflector) in
# the background, the bind side (the source) through check_result.sh, then
# judge the create side by its exit status and its last line.
#
#   dpdk_pair.sh [--link memif|veth] [--pmd af_xdp|af_packet] [--mtu N]
#                BULKPERF CREATE_ARGS... -- BIND_ARGS...
#
# --link memif (default): net_memif between two processes on this host, the
#   create side the memif server; the control socket is a file in a fresh
#   temp dir. Addresses 198.18.0.2 (create) and 198.18.0.1 (bind).
# --link veth: a veth pair between two fresh network namespaces
#   (netns_lib.sh, prefix bp<pid>; removed on exit whatever happens); the
#   create side runs in b (198.18.0.2), the bind side in a (198.18.0.1),
#   each with a DPDK port on its veth end:
#   --pmd af_xdp     (default) net_af_xdp; the veth MTU is --mtu (default
#                    1500; the largest frame af_xdp receives is the RX mbuf's
#                    data room less 384 bytes of headroom, at most 3456 bytes
#                    in a 4 KiB page, and veth refuses an XDP program above
#                    MTU 3506), passed to both sides as --mtu. Nothing falls
#                    back to af_packet: an af_xdp port that does not come up
#                    fails the run, or skips it (77) when the kernel has no
#                    AF_XDP sockets or DPDK no net_af_xdp PMD (the reason on
#                    stdout);
#   --pmd af_packet  net_af_packet, MTU --mtu (default 1500; its ethdev
#                    refuses more, its largest frame being 1518).
# --by-address: instead of --backend dpdk and both IPs, both sides name the
#   create side's endpoint, --endpoint dpdk:ip=198.18.0.2,ep=7, plus the
#   other IP of their link (create: --peer-ip; bind: --local-ip).
# Both sides get --backend dpdk, --role, --local-ip, --peer-ip and EAL
# arguments before "--": their own lcore (create -l 1, bind -l 0 on a 2-CPU
# machine; both 0 on one CPU), --no-pci --no-huge -m 512 --no-shconf, a
# --file-prefix of their own and the --vdev.
# The create side must say "listening" within 30 s, the bind side pass
# check_result.sh, and the create side exit 0 within 15 s of the bind side
# with a result line carrying verify_failures=0 errors=0 and the bind side's
# buffers= count. Whatever still runs is killed by its PID on exit.
# Exit: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# AF_XDP in the kernel or DPDK for --pmd af_xdp).
set -u

here=$(cd "$(dirname "$0")" && pwd)
link=memif
pmd=af_xdp
mtu=
byaddr=
while [ $# -gt 0 ]; do
	case "$1" in
	--link) link=$2; shift 2 ;;
	--by-address) byaddr=1; shift ;;
	--pmd) pmd=$2; shift 2 ;;
	--mtu) mtu=$2; shift 2 ;;
	*) break ;;
	esac
done
case "$link" in memif | veth) ;; *) echo "dpdk_pair.sh: --link memif|veth" >&2; exit 99 ;; esac
case "$pmd" in af_xdp | af_packet) ;; *) echo "dpdk_pair.sh: --pmd af_xdp|af_packet" >&2; exit 99 ;; esac
if [ $# -lt 1 ]; then
	echo "dpdk_pair.sh: no bulkperf" >&2
	exit 99
fi
bulkperf=$1
shift
create=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	create+=("$1")
	shift
done
if [ $# -eq 0 ]; then
	echo "dpdk_pair.sh: no '--' before the bind side's arguments" >&2
	exit 99
fi
shift
bind=("$@")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: DPDK needs root (EAL, mlockall, AF_XDP)"
	exit 77
fi

tmp=$(mktemp -d /tmp/bulk-dpdk-pair.XXXXXX)
cout=$tmp/create.out
bout=$tmp/bind.out
cpid=
prefix=bp$$
netns=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	# Only our own create side, by its PID, and only while it runs.
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		kill "$cpid" 2>/dev/null
		for _ in $(seq 30); do
			kill -0 "$cpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	[ -n "$netns" ] && netns_cleanup "$prefix"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	echo "--- create side output:" >&2
	cat "$cout" >&2 2>/dev/null
	exit 1
}

ncpu=$(nproc)
lc=1 lb=0
[ "$ncpu" -lt 2 ] && lc=0
eal=(--no-pci --no-huge -m 512 --no-shconf --log-level=lib.eal:warning)
ip_c=198.18.0.2 ip_b=198.18.0.1
link_c=(--backend dpdk --local-ip "$ip_c" --peer-ip "$ip_b")
link_b=(--backend dpdk --local-ip "$ip_b" --peer-ip "$ip_c")
if [ -n "$byaddr" ]; then
	link_c=(--endpoint "dpdk:ip=$ip_c,ep=7" --peer-ip "$ip_b")
	link_b=(--endpoint "dpdk:ip=$ip_c,ep=7" --local-ip "$ip_b")
fi

if [ "$link" = veth ]; then
	# shellcheck source=netns_lib.sh
	. "$here/netns_lib.sh"
	if ! netns_have_root; then
		echo "SKIP: no network namespaces (ip netns) here"
		exit 77
	fi
fi

# setup_link PMD: the link and both sides' --vdev and extra options.
setup_link() {
	case "$link" in
	memif)
		vdev_c="net_memif0,role=server,socket=$tmp/memif.sock,socket-abstract=no"
		vdev_b="net_memif0,role=client,socket=$tmp/memif.sock,socket-abstract=no"
		run_c=() run_b=() extra=()
		[ -n "$mtu" ] && extra=(--mtu "$mtu")
		;;
	veth)
		local m
		m=${mtu:-1500}
		[ -n "$netns" ] && netns_cleanup "$prefix"
		netns=1
		netns_setup_pair "$prefix" "$m" || fail "netns_setup_pair $prefix $m"
		if [ "$1" = af_xdp ]; then
			if ! netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A" ||
				! netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"; then
				fail "net_af_xdp cannot run on a veth of MTU $m"
			fi
			vdev_c="net_af_xdp0,iface=$NETNS_IF_B,start_queue=0,queue_count=1"
			vdev_b="net_af_xdp0,iface=$NETNS_IF_A,start_queue=0,queue_count=1"
		else
			vdev_c="net_af_packet0,iface=$NETNS_IF_B,qpairs=1,qdisc_bypass=1"
			vdev_b="net_af_packet0,iface=$NETNS_IF_A,qpairs=1,qdisc_bypass=1"
		fi
		run_c=(ip netns exec "$NETNS_B")
		run_b=(ip netns exec "$NETNS_A")
		extra=(--mtu "$m")
		echo "+ veth $NETNS_A/$NETNS_IF_A ($NETNS_MAC_A) <-> $NETNS_B/$NETNS_IF_B ($NETNS_MAC_B), MTU $m, $1"
		;;
	esac
}

# start_create: the create side in the background; 0 once it listens.
start_create() {
	ccmd=("${run_c[@]}" "$bulkperf" -l "$lc" "${eal[@]}" --file-prefix "bpc$$" --vdev "$vdev_c"
		-- "${link_c[@]}" --role create ${extra[@]+"${extra[@]}"}
		${create[@]+"${create[@]}"})
	echo "+ (create side) ${ccmd[*]}"
	"${ccmd[@]}" >"$cout" 2>&1 &
	cpid=$!
	for _ in $(seq 300); do
		grep -q 'listening on endpoint' "$cout" && return 0
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

stop_create() {
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		kill "$cpid" 2>/dev/null
		sleep 1
		kill -9 "$cpid" 2>/dev/null
	fi
	[ -n "$cpid" ] && wait "$cpid" 2>/dev/null
	cpid=
}

used=$pmd
[ "$link" = memif ] && used=memif
setup_link "$used"
if ! start_create; then
	stop_create
	# An af_xdp test runs on af_xdp or not at all: never a silent fallback.
	if [ "$used" = af_xdp ] && why=$(netns_af_xdp_missing "$cout"); then
		echo "--- create side output:"
		cat "$cout"
		echo "SKIP: net_af_xdp cannot run here: $why"
		exit 77
	fi
	fail "the create side ($used) did not listen within 30 s"
fi

bcmd=("${run_b[@]}" "$bulkperf" -l "$lb" "${eal[@]}" --file-prefix "bpb$$" --vdev "$vdev_b"
	-- "${link_b[@]}" --role bind ${extra[@]+"${extra[@]}"}
	${bind[@]+"${bind[@]}"})
echo "+ (bind side) ${bcmd[*]}"
"$here/check_result.sh" -- "${bcmd[@]}" >"$bout" 2>&1
brc=$?
cat "$bout"
[ "$brc" = 0 ] || fail "bind side (check_result.sh exit $brc)"

# The bind side's teardown ends the create side.
for _ in $(seq 150); do
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$cpid" 2>/dev/null && fail "create side (pid $cpid) still running 15 s after the bind side"
wait "$cpid"
crc=$?
p=$cpid
cpid=
echo "--- create side (pid $p, exit $crc):"
cat "$cout"
[ "$crc" = 0 ] || fail "create side exit status $crc"

last=$(tail -n 1 "$cout")
case "$last" in
result:\ *) ;;
*) fail "create side's last line is not a result line: '$last'" ;;
esac
case "$last " in
*' verify_failures=0 '*) ;;
*) fail "create side: result line lacks verify_failures=0" ;;
esac
case "$last" in
*' errors=0') ;;
*) fail "create side: result line does not end in errors=0" ;;
esac
bres=$(grep '^result: ' "$bout" | tail -n 1)
bbufs=$(echo "$bres" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
cbufs=$(echo "$last" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
[ -n "$bbufs" ] && [ "$bbufs" = "$cbufs" ] ||
	fail "the create side counted buffers=$cbufs, the bind side buffers=$bbufs"
echo "PASS: $link ($used), both sides, buffers=$bbufs"
exit 0
