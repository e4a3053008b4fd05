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
# DPDK 22.11 leaves libxdp's umem struct and the libbpf objects of an
# xdp_prog= behind (tests/lsan.supp says which). Not ours; suppressed for
# the processes a test starts even when it runs outside scripts/test.sh.
# A later suppressions= replaces an earlier one, so the file carries the
# project's list. dpdk_lsan_suppress DIR: writes DIR/lsan.supp, exports
# LSAN_OPTIONS.
dpdk_lsan_suppress() {
	cp "$(dirname "${BASH_SOURCE[0]}")/../lsan.supp" "$1/lsan.supp"
	LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$1/lsan.supp"
	export LSAN_OPTIONS
}

# dpdk_check_impair RELAY_LOG BIND_LOG CREATE_LOG RELAY_OPTION...: the proof
# that an impair run was impaired (test_dpdk_netns.sh): verified data alone
# proves nothing if the wire lost nothing. From the relay's last counters
# line per direction (bulk_impair) and each side's last "chan:" line
# (struct bulk_dpdk_chan_stats, dpdk_xfer_peer), in both directions:
#   - the relay dropped, duplicated and reordered frames, each at least half
#     of what its --loss/--dup/--reorder percentage predicts (decisions are
#     seeded per frame, so fewer means the relay applied another rate);
#   - both sides sent and received NAKs (gap reports);
#   - the sender retransmitted at least half of the frames the relay dropped
#     that it has to resend: every lost first transmission needs one
#     retransmission of its own and a lost retransmission is one itself, so
#     2 * retransmits >= dropped - (frames not subject to retransmission:
#     relay frames - ARP - frames_tx, i.e. pure acks and the namespace's own
#     traffic), less 64 for frames to a peer already dead.
# Prints what it read; one "FAIL: ..." line on stderr per failed check;
# returns 1 if any failed.
dpdk_check_impair() {
	local rlog=$1 blog=$2 clog=$3 problems=() dir side f frames arp kv opt fld v pct i x
	local retx ftx need
	local -a imp=("${@:4}")
	local -A logof=([bind]=$blog [create]=$clog)
	local -A sender=(['a->b']=bind ['b->a']=create)

	for dir in 'a->b' 'b->a'; do
		frames=$(dpdk_stat "$rlog" "impair $dir:" frames)
		arp=$(dpdk_stat "$rlog" "impair $dir:" arp)
		if [ -z "$frames" ] || [ -z "$arp" ]; then
			problems+=("relay $dir: no counters line in the relay's log")
			continue
		fi
		for kv in loss:dropped dup:duplicated reorder:reordered; do
			opt=${kv%%:*} fld=${kv#*:}
			v=$(dpdk_stat "$rlog" "impair $dir:" "$fld")
			pct=
			for ((i = 0; i < ${#imp[@]}; i++)); do
				case ${imp[i]} in
				--"$opt"=*) pct=${imp[i]#*=} ;;
				--"$opt") pct=${imp[i + 1]:-} ;;
				esac
			done
			echo "relay $dir: $fld=${v:-?} of $frames frames" \
				"($arp ARP; --$opt ${pct:-not given})"
			if [ -z "$v" ] || [ "$v" -eq 0 ]; then
				x="relay $dir: $fld=${v:-missing} (--$opt ${pct:-not given})"
				problems+=("$x: the relay did not impair the wire")
				continue
			fi
			[ -n "$pct" ] || continue
			if ! awk -v v="$v" -v n="$((frames - arp))" -v pct="$pct" \
				'BEGIN { exit !(v * 2 >= n * pct / 100) }'; then
				x="relay $dir: $fld=$v, under half of $pct% of $((frames - arp))"
				problems+=("$x frames: the relay applied another rate")
			fi
		done
	done
	for side in bind create; do
		f=${logof[$side]}
		echo "$side $(grep '^chan: ' "$f" | tail -n 1)"
		for fld in naks_tx naks_rx retransmits frames_tx; do
			v=$(dpdk_stat "$f" 'chan: ' "$fld")
			if [ -z "$v" ]; then
				problems+=("$side side: no $fld= in a 'chan:' line")
			elif [ "$v" -eq 0 ] && [ "$fld" != retransmits ]; then
				problems+=("$side side: $fld=0 over an impaired wire")
			fi
		done
	done
	for dir in 'a->b' 'b->a'; do
		side=${sender[$dir]}
		f=${logof[$side]}
		frames=$(dpdk_stat "$rlog" "impair $dir:" frames)
		arp=$(dpdk_stat "$rlog" "impair $dir:" arp)
		v=$(dpdk_stat "$rlog" "impair $dir:" dropped)
		retx=$(dpdk_stat "$f" 'chan: ' retransmits)
		ftx=$(dpdk_stat "$f" 'chan: ' frames_tx)
		# (Missing values were reported above.)
		if [ -z "$frames" ] || [ -z "$arp" ] || [ -z "$v" ] || [ -z "$retx" ] ||
			[ -z "$ftx" ]; then
			continue
		fi
		x=$((frames - arp - ftx))
		[ "$x" -lt 0 ] && x=0
		need=$(((v - x - 64 + 1) / 2))
		[ "$need" -lt 0 ] && need=0
		echo "relay $dir: dropped=$v, of which at most $x not retransmittable;" \
			"$side side: retransmits=$retx (at least $need needed)"
		if [ "$retx" -lt "$need" ]; then
			x="$side side: retransmits=$retx, fewer than the $need"
			problems+=("$x that the relay's $v drops $dir need")
		fi
	done
	[ "${#problems[@]}" -eq 0 ] && return 0
	for x in "${problems[@]}"; do
		echo "FAIL: $x" >&2
	done
	return 1
}
