#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The dpdk backend side by side, in one run on this machine (as root):
#
#   1. veth       bulkperf --backend dpdk --mode echo, 64 KiB buffers, over a
#                 veth pair between two network namespaces with net_af_xdp,
#                 against a TCP stream (iperf3) between the same namespaces
#                 over the same veth moving the same number of bytes: with
#                 the veth offloads off as the DPDK run has them
#                 (netns_lib.sh), and with TSO/GSO/GRO/checksum offload on
#                 (the kernel's best case). Gbit/s and dpdk/tcp.
#   2. impaired   the same dpdk echo through the impairment relay
#                 (tests/tools/bulk_impair in a middle namespace): lossless,
#                 then --loss 5 (per frame, each direction); the ratio
#                 lossy/lossless (the issue's target is >= 0.5).
#   3. memif      bulkperf dpdk echo of 2 KiB buffers (MTU 4000, memif
#                 bsize 4096: one frame each, as testpmd's 2 KiB packets)
#                 over net_memif between
#                 two processes (buffers back at the source per second)
#                 against two dpdk-testpmd over net_memif with 1024 packets
#                 of 2 KiB circulating (memif_testpmd.sh, packets back per
#                 second).
#   4. cpu        bulkperf dpdk txonly with 4 KiB buffers over the af_xdp
#                 veth pair: each side's CPU time during the run (getrusage,
#                 printed by bulkperf) at the TSC rate, per 4 KiB buffer; and
#                 the same for the TCP stream of step 1 (iperf3's own CPU
#                 figures) per 4 KiB of payload.
#   5. memif4k    bulkperf dpdk txonly with 4 KiB buffers over net_memif (MTU
#                 8000, bsize 8192: one frame per buffer), the receiver
#                 passing each back empty: the USER-SPACE cycles per 4 KiB of
#                 each side, from the process's utime (/proc/PID/stat, field
#                 14, in clock ticks) sampled at the first and the last of
#                 bulkperf's one-second periodic lines, at the TSC rate,
#                 divided by the buffers those lines count (set-up and
#                 teardown excluded). Both sides busy-poll: a side that
#                 waits for the other burns its cycles too. This is the
#                 issue's figure.
#   5a. memif4k_nap  the same run with adaptive polling (bulkperf
#                 --idle-nap 20 on both sides: a loop that found no work
#                 for 64 rounds sleeps 20 us instead of spinning on), so
#                 that a side that waits for the other is not charged for
#                 it: the user-space cycles of the work per 4 KiB. Shown
#                 beside row 5, not instead of it.
#
# Every dpdk row also reports, per side, the channel's retransmissions and
# RTO expiries (bulkperf's channel statistics); the lossless rows (veth,
# relay without loss, memif, memif4k, cpu) should show 0 in steady state.
#
# Prints every command it runs, a table and the ratios; no pass/fail on
# speed. Every process it starts is stopped by PID, the namespaces
# (dcmp<pid>p, dcmp<pid>r + a/b/m) are removed and its temp dir deleted on
# exit, whatever happens.
#
# Usage: bash bench/compare/dpdk_compare.sh      (from any directory)
#   COMPARE_DURATION  seconds per dpdk measurement (default 5)
#   COMPARE_DPDK_MTU  veth MTU for af_xdp (default 3442: the largest frame the
#                     22.11 af_xdp PMD receives into a page-sized mbuf)
#   BULK_BUILD_DIR    the build to use (default build/, configured with
#                     `meson setup build` and built when bulkperf is missing)
#   COMPARE_SKIP      space-separated subset of: veth impaired memif cpu memif4k
#                     memif4k_nap
# Installs iperf3 (Debian package) when missing, and dpdk-dev through
# memif_testpmd.sh when dpdk-testpmd is missing.
# Last line: dpdk-compare: ... (the ratios)
# Exit: 0 when every measurement ran, 1 when one failed (its row says so),
#       77 not root.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DURATION=${COMPARE_DURATION:-5}
MTU=${COMPARE_DPDK_MTU:-3442}
SKIP=" ${COMPARE_SKIP:-} "
if ! [[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || ! [[ $MTU =~ ^[0-9]+$ ]]; then
	echo "dpdk-compare: COMPARE_DURATION and COMPARE_DPDK_MTU must be numbers" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "dpdk-compare: needs root (EAL, AF_XDP, network namespaces)"
	exit 77
fi

# shellcheck source=../../tests/integration/netns_lib.sh
. "$ROOT/tests/integration/netns_lib.sh"
TMP=$(mktemp -d /tmp/bulk-dpdk-compare.XXXXXX)
P_PAIR=dcmp$$p
P_RELAY=dcmp$$r
PIDS=()

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local p i
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	netns_cleanup "$P_PAIR"
	netns_cleanup "$P_RELAY"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "dpdk-compare: $*"; }
run() { echo "+ $*"; "$@"; } # print a command, then run it

# ---------------------------------------------------------------- build
if [[ -n ${BULK_BUILD_DIR:-} ]]; then
	BUILD=$BULK_BUILD_DIR
else
	BUILD=build
fi
BULKPERF=$BUILD/bench/bulkperf/bulkperf
if [[ ! -x $BULKPERF ]]; then
	[[ -f $BUILD/meson-private/coredata.dat ]] || run meson setup "$BUILD" >"$TMP/setup.log" 2>&1 ||
		{ tail -n 30 "$TMP/setup.log" >&2; exit 1; }
	run ninja -C "$BUILD" >"$TMP/build.log" 2>&1 || { tail -n 30 "$TMP/build.log" >&2; exit 1; }
fi
probe=$("$BULKPERF" --backend dpdk --mode rtt --role bind --local-ip 198.18.0.1 \
	--peer-ip 198.18.0.1 2>&1)
if [[ $probe != *"same address"* ]]; then
	say "$BULKPERF has no dpdk backend (DPDK not found at build time?)" >&2
	exit 1
fi
IMPAIR=$BUILD/tests/tools/bulk_impair
if [[ ! -x $IMPAIR ]]; then
	IMPAIR=$TMP/bulk_impair
	run "${CC:-cc}" -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -o "$IMPAIR" tests/tools/bulk_impair.c ||
		exit 1
fi
if ! command -v iperf3 >/dev/null 2>&1; then
	say "installing iperf3 (Debian package)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iperf3 \
		>"$TMP/apt.log" 2>&1 || { tail -n 5 "$TMP/apt.log" >&2; say "no iperf3"; }
fi

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mhz=$(awk -F': ' '/^cpu MHz/ { printf "%.0f", $2; exit }' /proc/cpuinfo)
say "$(nproc) CPUs ($cpu, ${mhz:-?} MHz now), kernel $(uname -r), $(date -u +%FT%TZ)"
say "build $BUILD, ${DURATION}s per dpdk run, af_xdp veth MTU $MTU"
read -r load1 _ </proc/loadavg
say "load average (1 min) $load1 at the start"

# ------------------------------------------------------------- helpers
declare -A V # results: V[key]=value; "fail" when a run failed
FAILED=0
LC=1 LB=0
(($(nproc) < 2)) && LC=0
EAL=(--no-pci --no-huge -m 512 --no-shconf --log-level=lib.eal:warning)

field() { # field LINE KEY
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# utime PID: the process's user time so far, in clock ticks (/proc/PID/stat
# field 14; the name in field 2 has no spaces here); empty once it is gone.
utime() {
	awk '{ print $14 }' "/proc/$1/stat" 2>/dev/null
}

# dpdk_pair TAG NS_C NS_B VDEV_C VDEV_B "EXTRA" "CREATE ARGS" "BIND ARGS"
#   (NS_* empty: this namespace). Sets V[TAG.gbit], V[TAG.bps] (bind side),
#   V[TAG.cyc_b], V[TAG.cyc_c] (cycles per 4 KiB), V[TAG.retx_b|c] and
#   V[TAG.rto_b|c] (retransmissions, RTO expiries per side), or
#   V[TAG.gbit]=fail. With UTIME_MODE=M (bulkperf's mode name, the bind side
#   run with --stats-period 1) also V[TAG.ucyc_b], V[TAG.ucyc_c]: user-space
#   cycles per buffer between the first and the last periodic line.
dpdk_pair()
{
	local tag=$1 nsc=$2 nsb=$3 vc=$4 vb=$5 extra=$6 cargs=$7 bargs=$8
	local -a pc=() pb=()
	local cpid bpid brc crc i bres cres bcpu ccpu k seen=0 ub uc
	local umode=${UTIME_MODE:-}
	[[ -n $nsc ]] && pc=(ip netns exec "$nsc")
	[[ -n $nsb ]] && pb=(ip netns exec "$nsb")
	# shellcheck disable=SC2086 # extra, cargs, bargs are word lists
	local -a ccmd=("${pc[@]}" "$BULKPERF" -l "$LC" "${EAL[@]}" --file-prefix "dcc$$" --vdev "$vc"
		-- --backend dpdk --role create --local-ip 198.18.0.2 --peer-ip 198.18.0.1 $extra
		--stats-period 0 $cargs)
	# shellcheck disable=SC2086
	local -a bcmd=("${pb[@]}" "$BULKPERF" -l "$LB" "${EAL[@]}" --file-prefix "dcb$$" --vdev "$vb"
		-- --backend dpdk --role bind --local-ip 198.18.0.1 --peer-ip 198.18.0.2 $extra
		--stats-period 0 $bargs)
	echo "+ (create side, background) ${ccmd[*]}"
	"${ccmd[@]}" >"$TMP/$tag.c" 2>&1 &
	cpid=$!
	PIDS+=("$cpid")
	for ((i = 0; i < 300; i++)); do
		grep -q 'listening on endpoint' "$TMP/$tag.c" && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	echo "+ (bind side) ${bcmd[*]}"
	# In the background (ip netns exec execs it: the PID is bulkperf's), so
	# that its user time can be sampled; stopped after 300 s.
	"${bcmd[@]}" >"$TMP/$tag.b" 2>&1 &
	bpid=$!
	PIDS+=("$bpid")
	: >"$TMP/$tag.ut"
	for ((i = 0; i < 6000; i++)); do
		kill -0 "$bpid" 2>/dev/null || break
		if [[ -n $umode ]]; then
			k=$(grep -c "^  $umode: [0-9]* buffers" "$TMP/$tag.b")
			if ((k > seen)); then
				ub=$(utime "$bpid")
				uc=$(utime "$cpid")
				[[ -n $ub && -n $uc ]] && echo "$k $ub $uc" >>"$TMP/$tag.ut"
				seen=$k
			fi
			sleep 0.02
		else
			sleep 0.05
		fi
	done
	kill -0 "$bpid" 2>/dev/null && kill -TERM "$bpid" 2>/dev/null
	wait "$bpid"
	brc=$?
	for ((i = 0; i < 150; i++)); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$cpid" 2>/dev/null && kill -TERM "$cpid" 2>/dev/null
	wait "$cpid"
	crc=$?
	bres=$(grep '^result: ' "$TMP/$tag.b" | tail -n 1)
	cres=$(grep '^result: ' "$TMP/$tag.c" | tail -n 1)
	bcpu=$(grep '^  cpu: ' "$TMP/$tag.b" | tail -n 1)
	ccpu=$(grep '^  cpu: ' "$TMP/$tag.c" | tail -n 1)
	grep -E '^  (Channel|          |Link|Ethdev|CPU)' "$TMP/$tag.b" | sed 's/^/  bind  | /'
	echo "  bind  | $bres"
	echo "  create| $cres (exit $crc)"
	if ((brc != 0)) || [[ -z $bres ]]; then
		say "$tag: the bind side failed (exit $brc); its last lines:" >&2
		tail -n 15 "$TMP/$tag.b" >&2
		say "$tag: the create side (exit $crc):" >&2
		tail -n 10 "$TMP/$tag.c" >&2
		V[$tag.gbit]=fail
		FAILED=1
		return 1
	fi
	V[$tag.gbit]=$(field "$bres" gbit_s)
	V[$tag.bps]=$(field "$bres" buffers_per_s)
	V[$tag.bytes]=$(field "$bres" bytes)
	V[$tag.vf]="$(field "$bres" verify_failures)/$(field "$bres" errors)"
	V[$tag.cyc_b]=$(field "$bcpu" cycles_per_4k)
	V[$tag.cyc_c]=$(field "$ccpu" cycles_per_4k)
	V[$tag.retx_b]=$(sed -n 's/.*retransmits: *\([0-9]*\).*/\1/p' "$TMP/$tag.b" | tail -n 1)
	V[$tag.retx_c]=$(sed -n 's/.*retransmits: *\([0-9]*\).*/\1/p' "$TMP/$tag.c" | tail -n 1)
	V[$tag.rto_b]=$(sed -n 's/.*RTO expired: *\([0-9]*\).*/\1/p' "$TMP/$tag.b" | tail -n 1)
	V[$tag.rto_c]=$(sed -n 's/.*RTO expired: *\([0-9]*\).*/\1/p' "$TMP/$tag.c" | tail -n 1)
	V[$tag.retx]="${V[$tag.retx_b]:--}/${V[$tag.retx_c]:--}"
	V[$tag.rto]="${V[$tag.rto_b]:--}/${V[$tag.rto_c]:--}"
	echo "  both  | retransmissions bind/create ${V[$tag.retx]}, RTO expiries ${V[$tag.rto]}"
	if [[ -n $umode ]]; then
		# User ticks and buffers between the first and the last periodic
		# line seen (the lines count the buffers of their own period).
		read -r "V[$tag.ucyc_b]" "V[$tag.ucyc_c]" "V[$tag.ubufs]" "V[$tag.usecs]" < <(
			awk -v mode="$umode" -v hz="$TSC_HZ" -v tck="$(getconf CLK_TCK)" \
				-v ut="$TMP/$tag.ut" '
			BEGIN { n = 0
				while ((getline l < ut) > 0) { split(l, f, " "); n++
					k[n] = f[1]; b[n] = f[2]; c[n] = f[3] } }
			$1 == mode ":" && $3 == "buffers" { p++; bufs[p] = $2
				s = $0; sub(/.* in the last /, "", s); secs[p] = s + 0 }
			END { if (n < 2 || k[n] <= k[1]) { print "- - - -"; exit }
				tb = 0; ts = 0
				for (i = k[1] + 1; i <= k[n]; i++) { tb += bufs[i]; ts += secs[i] }
				if (tb == 0) { print "- - - -"; exit }
				printf "%.0f %.0f %d %.2f\n", (b[n] - b[1]) / tck * hz / tb,
					(c[n] - c[1]) / tck * hz / tb, tb, ts }' "$TMP/$tag.b")
		echo "  both  | user-space cycles per buffer bind/create ${V[$tag.ucyc_b]}/${V[$tag.ucyc_c]}" \
			"(utime over ${V[$tag.usecs]} s, ${V[$tag.ubufs]} buffers; TSC $TSC_HZ Hz," \
			"$(getconf CLK_TCK) ticks/s)"
	fi
}

# tcp TAG BYTES: iperf3 from a (client, sender) to b (server, receiver),
# 64 KiB writes. Sets V[TAG.gbit], V[TAG.cyc_s], V[TAG.cyc_r].
tcp()
{
	local tag=$1 bytes=$2 spid rc i
	if ! command -v iperf3 >/dev/null 2>&1; then
		V[$tag.gbit]=n/a
		return 0
	fi
	echo "+ (server, background) ip netns exec $NETNS_B iperf3 -s -1 -B 198.18.0.2"
	ip netns exec "$NETNS_B" iperf3 -s -1 -B 198.18.0.2 >"$TMP/$tag.s" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NETNS_B" ss -ltn 2>/dev/null | grep -q ':5201 ' && break
		sleep 0.1
	done
	echo "+ ip netns exec $NETNS_A iperf3 -c 198.18.0.2 -n $bytes -l 64K -J"
	ip netns exec "$NETNS_A" iperf3 -c 198.18.0.2 -n "$bytes" -l 64K -J >"$TMP/$tag.json" 2>&1
	rc=$?
	wait "$spid" 2>/dev/null
	if ((rc != 0)); then
		say "$tag: iperf3 failed (exit $rc)" >&2
		tail -n 5 "$TMP/$tag.json" >&2
		V[$tag.gbit]=fail
		FAILED=1
		return 1
	fi
	# Receiver's goodput; CPU: iperf3's own user+sys share of the run, per side.
	read -r "V[$tag.gbit]" "V[$tag.bytes]" "V[$tag.cyc_s]" "V[$tag.cyc_r]" < <(python3 - "$TMP/$tag.json" "$TSC_HZ" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
hz = float(sys.argv[2])
r = j["end"]["sum_received"]
cpu = j["end"]["cpu_utilization_percent"]
secs, nbytes = r["seconds"], r["bytes"]
per4k = nbytes / 4096.0
cs = cpu["host_total"] / 100.0 * secs * hz / per4k
cr = cpu["remote_total"] / 100.0 * secs * hz / per4k
print("%.3f %d %.0f %.0f" % (r["bits_per_second"] / 1e9, nbytes, cs, cr))
EOF
	)
	echo "  tcp   | ${V[$tag.gbit]} Gbit/s, ${V[$tag.bytes]} bytes received"
}

ratio() { # ratio A B -> A/B or "-"
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0)
		printf "%.2f", a / b; else printf "-" }'
}

# TSC rate as DPDK sees it (bulkperf prints it); cpuinfo's MHz otherwise.
TSC_HZ=$(awk -v m="${mhz:-0}" 'BEGIN { printf "%.0f", m * 1e6 }')

# ------------------------------------------------ 1. veth: dpdk vs tcp
XDP_C() { echo "net_af_xdp0,iface=$NETNS_IF_B,start_queue=0,queue_count=1"; }
XDP_B() { echo "net_af_xdp0,iface=$NETNS_IF_A,start_queue=0,queue_count=1"; }
# The data goes one way, as in the TCP stream: the sink passes buffers back
# without payload (--return-len 0 on both sides).
ECHO64="--mode echo --return-len 0 --burst 32 --buffer-size 65536 --buffers 256 --duration $DURATION"

if [[ $SKIP != *" veth "* || $SKIP != *" cpu "* ]]; then
	echo
	echo "== veth pair between two namespaces, MTU $MTU"
	run netns_setup_pair "$P_PAIR" "$MTU" || { say "netns_setup_pair failed"; exit 1; }
	netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A"
	netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"
fi
if [[ $SKIP != *" veth "* ]]; then
	echo
	echo "== 1. dpdk echo 64 KiB over net_af_xdp vs TCP (iperf3) on the same veth"
	dpdk_pair veth "$NETNS_B" "$NETNS_A" "$(XDP_C)" "$(XDP_B)" "--mtu $MTU" "--mode echo --return-len 0" "$ECHO64"
	t=$(grep '^  cpu: ' "$TMP/veth.b" | tail -n 1)
	[[ -n $t ]] && TSC_HZ=$(field "$t" tsc_hz)
	bytes=${V[veth.bytes]:-0}
	((bytes > 0)) || bytes=$((1024 * 1024 * 1024))
	echo "+ (offloads as in the dpdk run: tx checksum, TSO, GSO, GRO off)"
	tcp tcp_off "$bytes"
	echo "+ ip netns exec NS ethtool -K IF tx on tso on gso on gro on   (both ends)"
	ip netns exec "$NETNS_A" ethtool -K "$NETNS_IF_A" tx on tso on gso on gro on >/dev/null 2>&1
	ip netns exec "$NETNS_B" ethtool -K "$NETNS_IF_B" tx on tso on gso on gro on >/dev/null 2>&1
	tcp tcp_on "$bytes"
	netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A"
	netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"
fi

# ------------------------------------------------- 4. cpu per 4 KiB (veth)
if [[ $SKIP != *" cpu "* ]]; then
	echo
	echo "== 4. CPU cycles per 4 KiB: dpdk txonly, 4 KiB buffers, over net_af_xdp"
	dpdk_pair cpu "$NETNS_B" "$NETNS_A" "$(XDP_C)" "$(XDP_B)" "--mtu $MTU" "--mode echo --return-len 0" \
		"--mode txonly --return-len 0 --burst 32 --buffer-size 4096 --buffers 1024 --duration $DURATION"
	t=$(grep '^  cpu: ' "$TMP/cpu.b" | tail -n 1)
	[[ -n $t ]] && TSC_HZ=$(field "$t" tsc_hz)
fi
netns_cleanup "$P_PAIR"

# ------------------------------------------- 2. through the impairment relay
if [[ $SKIP != *" impaired "* ]]; then
	echo
	echo "== 2. dpdk echo 64 KiB through bulk_impair: lossless, then --loss 5"
	run netns_setup_relay "$P_RELAY" "$MTU" || { say "netns_setup_relay failed"; exit 1; }
	netns_xdp_prepare "$NETNS_A" "$NETNS_IF_A"
	netns_xdp_prepare "$NETNS_B" "$NETNS_IF_B"
	for loss in 0 5; do
		args=(--seed 1 --quiet)
		((loss > 0)) && args+=(--loss "$loss")
		run netns_start_relay "$P_RELAY" "$IMPAIR" "${args[@]}" || { FAILED=1; break; }
		PIDS+=("$NETNS_RELAY_PID")
		dpdk_pair "relay$loss" "$NETNS_B" "$NETNS_A" "$(XDP_C)" "$(XDP_B)" "--mtu $MTU" \
			"--mode echo --return-len 0" "$ECHO64"
		echo "+ netns_stop_relay"
		netns_stop_relay 2>/dev/null | sed 's/^/  relay | /'
	done
	netns_cleanup "$P_RELAY"
fi

# ------------------------------------------------------- 3. memif
if [[ $SKIP != *" memif "* ]]; then
	echo
	echo "== 3. memif, 2 KiB: bulkperf dpdk echo vs dpdk-testpmd io forwarding"
	sock=$TMP/memif.sock
	# A 2 KiB buffer is one 2,138-byte frame at MTU 4000: memif packet
	# buffers of 4 KiB hold it whole (testpmd's 2,048-byte packets fit the
	# default 2 KiB ones). memif's chains of 2 KiB buffers misbehave in
	# 22.11 with larger frames (duplicated packets), hence bsize.
	dpdk_pair memif "" "" "net_memif0,role=server,socket=$sock,socket-abstract=no,bsize=4096" \
		"net_memif0,role=client,socket=$sock,socket-abstract=no,bsize=4096" "--mtu 4000" "--mode echo" \
		"--mode echo --burst 32 --buffer-size 2048 --buffers 1024 --duration $DURATION"
	echo "+ bash bench/compare/memif_testpmd.sh --size 2048 --duration $DURATION"
	bash bench/compare/memif_testpmd.sh --size 2048 --duration "$DURATION" >"$TMP/testpmd.out" 2>&1
	rc=$?
	r=$(grep '^result: ' "$TMP/testpmd.out" | tail -n 1)
	echo "  testpmd| $r"
	if ((rc != 0)) || [[ -z $r ]]; then
		tail -n 10 "$TMP/testpmd.out" >&2
		V[testpmd.pps]=fail
		FAILED=1
	else
		V[testpmd.pps]=$(field "$r" pkts_per_s)
	fi
fi

# --------------------------------------- 5. memif, 4 KiB: user cycles per side
if [[ $SKIP != *" memif4k "* ]]; then
	echo
	echo "== 5. memif, 4 KiB: bulkperf dpdk txonly, user-space cycles per 4 KiB per side"
	sock=$TMP/memif4k.sock
	# MTU 8000 and memif buffers of 8 KiB: a 4 KiB buffer is one frame.
	UTIME_MODE=txonly dpdk_pair memif4k "" "" \
		"net_memif0,role=server,socket=$sock,socket-abstract=no,bsize=8192" \
		"net_memif0,role=client,socket=$sock,socket-abstract=no,bsize=8192" "--mtu 8000" \
		"--mode echo --return-len 0" \
		"--mode txonly --return-len 0 --burst 32 --buffer-size 4096 --buffers 1024 --stats-period 1 --duration $DURATION"
fi
if [[ $SKIP != *" memif4k_nap "* ]]; then
	echo
	echo "== 5a. the same with adaptive polling (--idle-nap 20 on both sides)"
	sock=$TMP/memif4kn.sock
	UTIME_MODE=txonly dpdk_pair memif4k_nap "" "" \
		"net_memif0,role=server,socket=$sock,socket-abstract=no,bsize=8192" \
		"net_memif0,role=client,socket=$sock,socket-abstract=no,bsize=8192" "--mtu 8000 --idle-nap 20" \
		"--mode echo --return-len 0" \
		"--mode txonly --return-len 0 --burst 32 --buffer-size 4096 --buffers 1024 --stats-period 1 --duration $DURATION"
fi

# ------------------------------------------------------------- table
fmt() { printf '%s' "${1:--}"; }
echo
echo "== results (one run, this machine; Gbit/s of payload one way)"
printf '%-58s %14s %12s\n' "row" "rate" "note"
printf '%-58s %14s %12s\n' "1. dpdk echo 64 KiB, af_xdp veth (Gbit/s)" "$(fmt "${V[veth.gbit]:-}")" \
	"retx $(fmt "${V[veth.retx]:-}")"
printf '%-58s %14s\n' "1. TCP iperf3, same veth, offloads off (Gbit/s)" "$(fmt "${V[tcp_off.gbit]:-}")"
printf '%-58s %14s\n' "1. TCP iperf3, same veth, offloads on (Gbit/s)" "$(fmt "${V[tcp_on.gbit]:-}")"
printf '%-58s %14s %12s\n' "2. dpdk echo 64 KiB via relay, lossless (Gbit/s)" "$(fmt "${V[relay0.gbit]:-}")" \
	"retx $(fmt "${V[relay0.retx]:-}")"
printf '%-58s %14s %12s\n' "2. dpdk echo 64 KiB via relay, --loss 5 (Gbit/s)" "$(fmt "${V[relay5.gbit]:-}")" \
	"retx $(fmt "${V[relay5.retx]:-}")"
printf '%-58s %14s %12s\n' "3. dpdk echo 2 KiB over memif (buffers/s back)" "$(fmt "${V[memif.bps]:-}")" \
	"retx $(fmt "${V[memif.retx]:-}")"
printf '%-58s %14s\n' "3. testpmd io over memif, 2 KiB (packets/s back)" "$(fmt "${V[testpmd.pps]:-}")"
printf '%-58s %14s %12s\n' "4. dpdk txonly 4 KiB af_xdp (Gbit/s)" "$(fmt "${V[cpu.gbit]:-}")" \
	"retx $(fmt "${V[cpu.retx]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, dpdk sender (bind, txonly)" "$(fmt "${V[cpu.cyc_b]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, dpdk receiver (create)" "$(fmt "${V[cpu.cyc_c]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, TCP sender (iperf3, offloads off)" "$(fmt "${V[tcp_off.cyc_s]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, TCP receiver (iperf3, offloads off)" "$(fmt "${V[tcp_off.cyc_r]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, TCP sender (iperf3, offloads on)" "$(fmt "${V[tcp_on.cyc_s]:-}")"
printf '%-58s %14s\n' "4. cycles per 4 KiB, TCP receiver (iperf3, offloads on)" "$(fmt "${V[tcp_on.cyc_r]:-}")"
printf '%-58s %14s %12s\n' "5. dpdk txonly 4 KiB over memif (Gbit/s)" "$(fmt "${V[memif4k.gbit]:-}")" \
	"retx $(fmt "${V[memif4k.retx]:-}")"
printf '%-58s %14s\n' "5. user-space cycles per 4 KiB, memif sender (bind)" "$(fmt "${V[memif4k.ucyc_b]:-}")"
printf '%-58s %14s\n' "5. user-space cycles per 4 KiB, memif receiver (create)" "$(fmt "${V[memif4k.ucyc_c]:-}")"
printf '%-58s %14s %12s\n' "5a. the same, adaptive polling (Gbit/s)" "$(fmt "${V[memif4k_nap.gbit]:-}")" \
	"retx $(fmt "${V[memif4k_nap.retx]:-}")"
printf '%-58s %14s\n' "5a. user-space cycles per 4 KiB, sender, adaptive" "$(fmt "${V[memif4k_nap.ucyc_b]:-}")"
printf '%-58s %14s\n' "5a. user-space cycles per 4 KiB, receiver, adaptive" "$(fmt "${V[memif4k_nap.ucyc_c]:-}")"
echo
echo "retransmissions / RTO expiries, bind/create side (lossless rows: 0 expected)"
for t in veth cpu relay0 memif memif4k memif4k_nap relay5; do
	printf '  %-8s retx %-12s RTO %s\n' "$t" "$(fmt "${V[$t.retx]:-}")" "$(fmt "${V[$t.rto]:-}")"
done
echo
r1=$(ratio "${V[veth.gbit]:-}" "${V[tcp_off.gbit]:-}")
r1b=$(ratio "${V[veth.gbit]:-}" "${V[tcp_on.gbit]:-}")
r2=$(ratio "${V[relay5.gbit]:-}" "${V[relay0.gbit]:-}")
r3=$(ratio "${V[memif.bps]:-}" "${V[testpmd.pps]:-}")
echo "ratio dpdk/tcp (offloads off)          $r1"
echo "ratio dpdk/tcp (offloads on)           $r1b"
echo "ratio loss 5% / lossless (target >= 0.5) $r2"
echo "ratio dpdk echo / testpmd memif, 2 KiB $r3"
echo "(cycles = CPU seconds x $TSC_HZ Hz (TSC); dpdk sides busy-poll, so their figure is"
echo " the whole CPU over what they moved)"
echo "dpdk-compare: veth_gbit=$(fmt "${V[veth.gbit]:-}") tcp_off_gbit=$(fmt "${V[tcp_off.gbit]:-}")" \
	"tcp_on_gbit=$(fmt "${V[tcp_on.gbit]:-}") dpdk_tcp=$r1 lossless_gbit=$(fmt "${V[relay0.gbit]:-}")" \
	"loss5_gbit=$(fmt "${V[relay5.gbit]:-}") loss_ratio=$r2 memif_bps=$(fmt "${V[memif.bps]:-}")" \
	"testpmd_pps=$(fmt "${V[testpmd.pps]:-}") memif_ratio=$r3" \
	"cyc4k_tx=$(fmt "${V[cpu.cyc_b]:-}") cyc4k_rx=$(fmt "${V[cpu.cyc_c]:-}")" \
	"memif4k_gbit=$(fmt "${V[memif4k.gbit]:-}") ucyc4k_tx=$(fmt "${V[memif4k.ucyc_b]:-}")" \
	"ucyc4k_rx=$(fmt "${V[memif4k.ucyc_c]:-}")" \
	"ucyc4k_nap_tx=$(fmt "${V[memif4k_nap.ucyc_b]:-}") ucyc4k_nap_rx=$(fmt "${V[memif4k_nap.ucyc_c]:-}")" \
	"retx_lossless=$(fmt "${V[veth.retx]:-}"),$(fmt "${V[cpu.retx]:-}"),$(fmt "${V[relay0.retx]:-}"),$(fmt "${V[memif.retx]:-}"),$(fmt "${V[memif4k.retx]:-}")" \
	"rto_lossless=$(fmt "${V[veth.rto]:-}"),$(fmt "${V[cpu.rto]:-}"),$(fmt "${V[relay0.rto]:-}"),$(fmt "${V[memif.rto]:-}"),$(fmt "${V[memif4k.rto]:-}")"
exit "$FAILED"
