#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# libbulk's XDP program on net_af_xdp ports: bulk channels and the kernel's
# own traffic share one interface. Two network namespaces joined by a veth
# pair (netns_lib.sh): the kernel has 198.18.0.1 (a) and 198.18.0.2 (b) on
# the veth ends; the libbulk ports on the same ends have addresses of their
# own, 198.18.0.101 (a) and 198.18.0.102 (b), and UDP port 47123 (not the
# default: the program must follow the port's configuration).
#
#   test_dpdk_xdp_filter.sh BULKPERF BULK_XDP_OBJ NETNS_LIB CHECK_RESULT
#
# A bulkperf pair runs over net_af_xdp on both ends (create side, the
# reflector, in b; bind side, the source, in a: echo, --verify, a fixed
# --duration), and WHILE it runs, between the kernels' addresses:
#   - ARP: both neighbour tables are flushed, then must resolve the other
#     end again (ip neigh: its MAC, not INCOMPLETE/FAILED);
#   - ping: ICMP echo both ways, every request answered;
#   - TCP: 1 MiB of random bytes through a TCP echo server in b, back
#     intact in a.
# Two runs:
#   1. the PMD's default program (no xdp_prog=): it sends every frame of
#      the queue to the socket, so ARP, ping and TCP must all FAIL (this
#      proves that the checks can fail, and what the program is for: the
#      kernels' ARP requests end in the bulk ports, which ignore them, so
#      nothing else is even sent); the bulk transfer still verifies;
#   2. xdp_prog=BULK_XDP_OBJ: bulk_xdp_filter must be the program attached
#      to both ends, ARP, ping and TCP must all WORK, the bulk ports must
#      see nothing but their own frames (not ours: 0) and resolve each
#      other with ARP through the socket (ARP RX > 0), and neither kernel
#      may see a bulk frame (Ip InAddrErrors unchanged: with forwarding
#      off a frame to another address would be counted there).
# Both runs: the bind side passes check_result.sh (verify_failures=0
# errors=0), the create side ends with exit 0 and such a result line, and
# the kernel checks end before the bind side does (they ran during the
# transfer). Python 3 plays ping and nc (raw ICMP and TCP sockets).
#
# Environment: BULK_XDP_DURATION (the bind side's --duration, default 8),
# BULK_XDP_NEGATIVE=0 leaves out run 1.
# Exit: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# python3, the program not built (no clang bpf target or libbpf-dev), no
# AF_XDP in the kernel or no net_af_xdp in DPDK, or a net_af_xdp without
# xdp_prog=). A PMD that loads its default program but not ours fails.
# Everything runs in namespaces of its own (prefix bx<pid>), removed on
# exit with whatever still runs in them; our processes are killed by PID.
set -u

bulkperf=${1:?usage: test_dpdk_xdp_filter.sh BULKPERF BULK_XDP_OBJ NETNS_LIB CHECK_RESULT}
xdp_obj=${2:?}
lib=${3:?}
check_result=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/dpdk/dpdk_lib.sh
. "$here/dpdk_lib.sh"
# shellcheck source=tests/integration/netns_lib.sh
. "$lib"

if ! netns_have_root; then
	echo "SKIP: needs root and iproute2 (network namespaces)"
	exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: no python3 (plays ping and the TCP echo)"
	exit 77
fi
if [ ! -s "$xdp_obj" ]; then
	echo "SKIP: the XDP program is not built ($xdp_obj): no clang bpf target or libbpf-dev"
	exit 77
fi
if [ ! -x "$bulkperf" ]; then
	echo "FAIL: no bulkperf at $bulkperf" >&2
	exit 1
fi

# The checks take about 4 s where they must fail (timeouts), less where
# they must work; the clock starts when the peer bound, as do the checks.
duration=${BULK_XDP_DURATION:-8}
bulk_ip_a=198.18.0.101
bulk_ip_b=198.18.0.102
udp=47123
tcp_port=5123
p=bx$$
p=${p:0:13}
tmp=$(mktemp -d /tmp/bulk-xdp-filter.XXXXXX)
cpid='' bpid='' spid=''
dpdk_lsan_suppress "$tmp"

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	dpdk_kill "$bpid"
	dpdk_kill "$cpid"
	dpdk_kill "$spid"
	netns_cleanup "$p"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2317
fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/create.out "$tmp"/bind.out "$tmp"/server.out; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f"):" >&2
		cat "$f" >&2
	done
	exit 1
}

# ------------------------------------------------------------ kernel probes

# ICMP echo from python3 (no ping on every host): N requests, each answered
# within T seconds by DST with our id, sequence and payload. Prints
# "ping: K/N ..."; exit 0 only if K = N.
ping_py='
import os, socket, struct, sys, time
dst, n, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
ok = 0
for seq in range(n):
    data = os.urandom(32)
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + data), ident, seq) + data
    try:
        s.sendto(pkt, (dst, 0))
    except OSError as e:
        print("ping: send %d: %s" % (seq, e))
        time.sleep(t)
        continue
    end = time.time() + t
    while time.time() < end:
        s.settimeout(max(end - time.time(), 0.001))
        try:
            b, a = s.recvfrom(4096)
        except (socket.timeout, OSError):
            break
        icmp = b[(b[0] & 15) * 4:]
        if (a[0] == dst and icmp[0] == 0 and
                struct.unpack("!HH", icmp[4:8]) == (ident, seq) and icmp[8:] == data):
            ok += 1
            break
print("ping: %d/%d echo replies from %s" % (ok, n, dst))
sys.exit(0 if ok == n else 1)
'

# A TCP echo server on IP:PORT: every connection gets back what it sends.
server_py='
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(8)
print("server: listening", flush=True)
def echo(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                return
            c.sendall(b)
while True:
    c, _ = srv.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
'

# A TCP client: N random bytes to IP:PORT, read back alongside, compared.
# Every step within T seconds. Exit 0 only if all came back intact.
client_py='
import hashlib, os, socket, sys, threading
ip, port, n, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
data = os.urandom(n)
try:
    c = socket.create_connection((ip, port), timeout=t)
except OSError as e:
    print("tcp: connect to %s:%d: %s" % (ip, port, e))
    sys.exit(1)
c.settimeout(t)
got = []
def rd():
    k = 0
    try:
        while k < n:
            b = c.recv(65536)
            if not b:
                break
            got.append(b)
            k += len(b)
    except OSError:
        pass
r = threading.Thread(target=rd)
r.start()
try:
    c.sendall(data)
except OSError as e:
    print("tcp: send: %s" % e)
r.join()
back = b"".join(got)
ok = back == data
print("tcp: %d of %d bytes echoed by %s:%d, %s" % (len(back), n, ip, port,
      "intact (sha256 %s)" % hashlib.sha256(back).hexdigest()[:16] if ok else "NOT intact"))
sys.exit(0 if ok else 1)
'

# neigh_of NS IF IP: the neighbour entry of IP ("" if none).
neigh_of() {
	ip -n "$1" neigh show "$3" dev "$2" 2>/dev/null | head -n 1
}

# in_addr_errors NS: Ip InAddrErrors of the namespace's kernel.
in_addr_errors() {
	# shellcheck disable=SC2016 # awk's own $fields
	ip netns exec "$1" awk '$1 == "Ip:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "InAddrErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}

# kernel_checks EXPECT: ARP, ping and TCP between the kernels while the
# pair runs; EXPECT is work or fail. Returns 1 on any other outcome.
kernel_checks() {
	local want=$1 bad=0 n t rc e ns ifn peer mac
	if [ "$want" = work ]; then n=5 t=2; else n=2 t=0.5; fi
	ip -n "$NETNS_A" neigh flush dev "$NETNS_IF_A"
	ip -n "$NETNS_B" neigh flush dev "$NETNS_IF_B"
	ip netns exec "$NETNS_A" python3 -c "$ping_py" "$NETNS_IP_B" "$n" "$t"
	rc=$?
	[ "$want" = work ] && [ "$rc" != 0 ] && { echo "kernel: ping a -> b failed" >&2; bad=1; }
	[ "$want" = fail ] && [ "$rc" = 0 ] && { echo "kernel: ping a -> b worked" >&2; bad=1; }
	ip netns exec "$NETNS_B" python3 -c "$ping_py" "$NETNS_IP_A" "$n" "$t"
	rc=$?
	[ "$want" = work ] && [ "$rc" != 0 ] && { echo "kernel: ping b -> a failed" >&2; bad=1; }
	[ "$want" = fail ] && [ "$rc" = 0 ] && { echo "kernel: ping b -> a worked" >&2; bad=1; }
	for e in "$NETNS_A $NETNS_IF_A $NETNS_IP_B $NETNS_MAC_B" "$NETNS_B $NETNS_IF_B $NETNS_IP_A $NETNS_MAC_A"; do
		read -r ns ifn peer mac <<<"$e"
		rc=$(neigh_of "$ns" "$ifn" "$peer")
		echo "arp: $ns: ${rc:-no entry for $peer}"
		case "$rc" in
		*"lladdr $mac "*) [ "$want" = fail ] && { echo "kernel: ARP in $ns resolved $peer" >&2; bad=1; } ;;
		*) [ "$want" = work ] && { echo "kernel: ARP in $ns did not resolve $peer to $mac" >&2; bad=1; } ;;
		esac
	done
	if [ "$want" = work ]; then t=10; else t=1.5; fi
	ip netns exec "$NETNS_A" python3 -c "$client_py" "$NETNS_IP_B" "$tcp_port" 1048576 "$t"
	rc=$?
	[ "$want" = work ] && [ "$rc" != 0 ] && { echo "kernel: TCP a -> b failed" >&2; bad=1; }
	[ "$want" = fail ] && [ "$rc" = 0 ] && { echo "kernel: TCP a -> b worked" >&2; bad=1; }
	return "$bad"
}

# link_stat FILE FIELD: a number of bulkperf's "Link" report line
# ("not ours: N", "ARP RX/TX: R/T" -> FIELD "not ours" or "ARP RX").
link_stat() {
	local line
	line=$(grep '^  Link ' "$1" | tail -n 1)
	case $2 in
	'ARP RX') echo "$line" | sed -n 's/.*ARP RX\/TX: \([0-9]*\)\/.*/\1/p' ;;
	*) echo "$line" | sed -n "s/.*$2: *\\([0-9]*\\).*/\\1/p" ;;
	esac
}

# ------------------------------------------------------------ one run

# run_pair NAME PROG: namespaces, TCP server, bulkperf pair with PROG as
# xdp_prog ("" for the PMD's default), the kernel checks while it runs.
# Sets run_rc (0 ok, 77 af_xdp missing: reason in run_why).
run_pair() {
	local name=$1 prog=$2 want run_duration vdev_a vdev_b xa="" crc brc k ie ie_a ie_b attached ns ifn ns_if
	local -a eal ccmd bcmd
	run_rc=0 run_why=
	local what="the PMD's default program"
	# Without our program the kernel's checks fail, each only after its
	# time-out: the transfer must outlast them all, sanitizers included.
	if [ -n "$prog" ]; then want=work xa=",xdp_prog=$prog" what=$prog; else want=fail; fi
	run_duration=$duration
	[ -n "$prog" ] || run_duration=$((duration * 4))
	echo "=== run '$name': $what; kernel traffic must $want"
	netns_cleanup "$p"
	netns_setup_pair "$p" 1500 || fail "netns_setup_pair $p"
	netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A" || fail "net_af_xdp cannot run on $NETNS_IF_A"
	netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B" || fail "net_af_xdp cannot run on $NETNS_IF_B"
	: >"$tmp/create.out"
	: >"$tmp/bind.out"
	: >"$tmp/server.out"

	ip netns exec "$NETNS_B" python3 -c "$server_py" "$NETNS_IP_B" "$tcp_port" \
		>"$tmp/server.out" 2>&1 &
	spid=$!
	dpdk_wait_line "$tmp/server.out" '^server: listening' "$spid" ||
		fail "the TCP echo server did not start"

	read -r -a eal <<<"$(dpdk_eal_common)"
	vdev_a="--vdev=net_af_xdp0,iface=$NETNS_IF_A,start_queue=0,queue_count=1$xa"
	vdev_b="--vdev=net_af_xdp0,iface=$NETNS_IF_B,start_queue=0,queue_count=1$xa"
	ccmd=(ip netns exec "$NETNS_B" "$bulkperf" "${eal[@]}" --file-prefix "bxc$$" "$vdev_b" --
		--backend dpdk --role create --local-ip "$bulk_ip_b" --peer-ip "$bulk_ip_a"
		--udp-port "$udp" --mtu 1500 --mode echo --verify)
	echo "+ (create side) ${ccmd[*]}"
	"${ccmd[@]}" >"$tmp/create.out" 2>&1 &
	cpid=$!
	if ! dpdk_wait_line "$tmp/create.out" 'listening on endpoint' "$cpid"; then
		wait "$cpid"
		crc=$?
		cpid=
		if run_why=$(netns_af_xdp_missing "$tmp/create.out"); then
			cat "$tmp/create.out"
			run_rc=77
			return 0
		fi
		if [ -n "$prog" ] && grep -Eq 'Invalid kvargs key|failed to parse device' "$tmp/create.out"; then
			cat "$tmp/create.out"
			run_why="this DPDK's net_af_xdp takes no xdp_prog="
			run_rc=77
			return 0
		fi
		fail "the create side did not listen on net_af_xdp${prog:+ with $prog} (exit $crc)"
	fi
	attached=$(ip -n "$NETNS_B" link show dev "$NETNS_IF_B" | sed -n 's/.*prog\/xdp id [0-9]* name \([^ ]*\).*/\1/p')
	echo "xdp: $NETNS_IF_B runs ${attached:-no program}"

	ie_a=$(in_addr_errors "$NETNS_A")
	ie_b=$(in_addr_errors "$NETNS_B")
	bcmd=(ip netns exec "$NETNS_A" "$bulkperf" "${eal[@]}" --file-prefix "bxb$$" "$vdev_a" --
		--backend dpdk --role bind --local-ip "$bulk_ip_a" --peer-ip "$bulk_ip_b"
		--udp-port "$udp" --mtu 1500 --mode echo --burst 32 --buffer-size 16384
		--buffers 256 --duration "$run_duration" --verify)
	echo "+ (bind side) ${bcmd[*]}"
	# The transfer must outlast the kernel checks: not shortened in
	# sanitizer runs (BULKPERF_SHORT), whatever they do to other tests.
	BULKPERF_SHORT= "$check_result" -- "${bcmd[@]}" >"$tmp/bind.out" 2>&1 &
	bpid=$!
	dpdk_wait_line "$tmp/create.out" 'a peer bound' "$cpid" ||
		fail "the bind side did not bind (run '$name')"
	attached=$(ip -n "$NETNS_A" link show dev "$NETNS_IF_A" | sed -n 's/.*prog\/xdp id [0-9]* name \([^ ]*\).*/\1/p')
	echo "xdp: $NETNS_IF_A runs ${attached:-no program}"
	if [ -n "$prog" ]; then
		for ns_if in "$NETNS_A $NETNS_IF_A" "$NETNS_B $NETNS_IF_B"; do
			read -r ns ifn <<<"$ns_if"
			ip -n "$ns" link show dev "$ifn" | grep -q 'prog/xdp .* name bulk_xdp_filter ' ||
				fail "$ifn in $ns does not run bulk_xdp_filter: $(ip -n "$ns" link show dev "$ifn")"
		done
	fi

	# The bulk transfer runs: now the kernel's turn, on the same veth.
	echo "--- kernel traffic during the transfer (must $want):"
	if ! kernel_checks "$want"; then
		# The control run only shows what the filter is for; whether the
		# PMD's default program really takes the kernel's frames depends
		# on how libxdp could attach it here (no bpffs: no dispatcher).
		[ -n "$prog" ] || [ "$want" != fail ] ||
			{ echo "NOTE: the PMD's default program left kernel traffic working here ($attached)"; want=; }
		[ -z "$want" ] || fail "kernel traffic did not $want (run '$name')"
	fi
	# Counted now, while the transfer runs: once a port closes, the
	# frames still on their way to it go to its kernel, which drops them.
	ie=$(($(in_addr_errors "$NETNS_A") - ie_a + $(in_addr_errors "$NETNS_B") - ie_b))
	kill -0 "$bpid" 2>/dev/null ||
		fail "the bind side ended before the kernel checks did: raise BULK_XDP_DURATION"
	echo "kernel: checks done while the transfer still ran"

	wait "$bpid"
	brc=$?
	k=$bpid
	bpid=
	echo "--- bind side (pid $k, check_result.sh exit $brc):"
	cat "$tmp/bind.out"
	[ "$brc" = 0 ] || fail "bind side (check_result.sh exit $brc, run '$name')"
	for _ in $(seq 150); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$cpid" 2>/dev/null && fail "create side still running 15 s after the bind side"
	wait "$cpid"
	crc=$?
	k=$cpid
	cpid=
	echo "--- create side (pid $k, exit $crc):"
	cat "$tmp/create.out"
	[ "$crc" = 0 ] || fail "create side exit status $crc (run '$name')"
	# Its stdout's last line; libxdp's notes on stderr may come after it.
	case "$(grep '^result: ' "$tmp/create.out" | tail -n 1) " in
	'result: '*' verify_failures=0 '*'errors=0 ') ;;
	*) fail "create side: no result line with verify_failures=0 errors=0" ;;
	esac

	local nb nc ab ac
	nb=$(link_stat "$tmp/bind.out" 'not ours')
	nc=$(link_stat "$tmp/create.out" 'not ours')
	ab=$(link_stat "$tmp/bind.out" 'ARP RX')
	ac=$(link_stat "$tmp/create.out" 'ARP RX')
	echo "bulk ports: not ours a=${nb:-?} b=${nc:-?}, ARP RX a=${ab:-?} b=${ac:-?}"
	if [ -n "$prog" ]; then
		if [ "${nb:-x}" != 0 ] || [ "${nc:-x}" != 0 ]; then
			fail "the filter let frames that are not bulk's reach the sockets"
		fi
		if [ "${ab:-0}" -eq 0 ] || [ "${ac:-0}" -eq 0 ]; then
			fail "the bulk ports did not get their ARP through the filter"
		fi
		echo "kernels: Ip InAddrErrors +$ie during the transfer"
		[ "$ie" = 0 ] || fail "bulk frames reached a kernel (InAddrErrors +$ie)"
	fi
	dpdk_kill "$spid"
	spid=
	netns_cleanup "$p"
	echo "=== run '$name' passed"
}

if [ "${BULK_XDP_NEGATIVE:-1}" != 0 ]; then
	run_pair default ""
	if [ "$run_rc" = 77 ]; then
		echo "SKIP: net_af_xdp cannot run here: $run_why"
		exit 77
	fi
fi
run_pair filter "$xdp_obj"
if [ "$run_rc" = 77 ]; then
	echo "SKIP: net_af_xdp cannot run here: $run_why"
	exit 77
fi
echo "PASS: bulk_xdp_filter: bulk over net_af_xdp and the kernel's ARP, ping and TCP on one veth"
exit 0
