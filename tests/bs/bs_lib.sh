# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the block service's shell tests: start nbs and bs-users in the
# background, wait for what they print (never for a fixed time), judge
# their lines, and stop what was started, by PID, whatever happens.
#
#   bs_init NAME        a scratch directory $T and the cleanup trap
#   bs_nbs OUT ARGS...  start nbs (output in $T/OUT), wait for "ready:";
#                       sets NBS_PID and NBS_CTL (a fresh unix:@ address)
#   bs_user OUT ARGS... start bs-user --connect $NBS_CTL in the background;
#                       sets BSU_PID
#   bs_wait PID [SECS]  wait for a background process; sets BS_STATUS
#                       (its exit status, or "timeout" after killing it)
#   bs_stop_nbs         SIGTERM nbs and wait; sets NBS_STATUS
#   bs_result OUT       the result: line of a bs-user output file
#   bs_kv LINE KEY      the value of KEY=VALUE in LINE
#   fail MSG            print MSG and the outputs, exit 1
set -u

bs_pids=()
T=

bs_cleanup()
{
	local p
	for p in "${bs_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${bs_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "$T" ] && rm -rf "$T"
}

bs_init()
{
	T=$(mktemp -d "${TMPDIR:-/tmp}/bs-$1.XXXXXX") || exit 99
	trap bs_cleanup EXIT
	# A test that runs out of time says where it was, with the outputs.
	trap 'fail "interrupted by a signal (the test timed out?)"' TERM INT
	NBS_CTL="unix:@bs-test-$1-$$"
}

fail()
{
	local f
	echo "FAIL: $*" >&2
	for f in "$T"/*.out; do
		[ -f "$f" ] || continue
		echo "--- $(basename "$f")" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

# Wait (polling, at most $2 seconds) until file $1 has a line matching $3.
bs_wait_line()
{
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -q -- "$3" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

bs_nbs()
{
	local out=$T/$1
	shift
	# Emptied by us, not by the child's redirection, which may come after
	# bs_wait_line has read an earlier run's "ready:" in the same file.
	: >"$out"
	"$NBS" --listen "$NBS_CTL" "$@" >>"$out" 2>&1 &
	NBS_PID=$!
	bs_pids+=("$NBS_PID")
	bs_wait_line "$out" 30 '^ready:' || fail "nbs did not say ready: $*"
}

bs_user()
{
	local out=$T/$1
	shift
	"$BS_USER" --connect "$NBS_CTL" --stats-period 0 "$@" >"$out" 2>&1 &
	BSU_PID=$!
	bs_pids+=("$BSU_PID")
}

bs_wait()
{
	local pid=$1 secs=${2:-120} i st
	for ((i = 0; i < secs * 20; i++)); do
		# A child that exited is a zombie until waited for: kill -0 still works on it.
		st=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)
		if [ -z "$st" ] || [ "$st" = Z ]; then
			wait "$pid"
			BS_STATUS=$?
			return
		fi
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	BS_STATUS=timeout
}

bs_stop_nbs()
{
	kill -TERM "$NBS_PID" 2>/dev/null
	bs_wait "$NBS_PID" 60
	NBS_STATUS=$BS_STATUS
}

bs_result()
{
	grep '^result:' "$T/$1" | tail -n 1
}

bs_kv()
{
	local v
	v=$(echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1)
	echo "$v"
}

# A bs-user's result must say no error and no verify failure, with ios > 0.
bs_check_user()
{
	local out=$1 st=$2 r
	[ "$st" = 0 ] || fail "bs-user ($out) exited $st"
	r=$(bs_result "$out")
	[ -n "$r" ] || fail "bs-user ($out): no result line"
	[ "$(bs_kv "$r" errors)" = 0 ] || fail "bs-user ($out): errors: $r"
	[ "$(bs_kv "$r" verify_failures)" = 0 ] || fail "bs-user ($out): verify failures: $r"
	[ "$(bs_kv "$r" ios)" -gt 0 ] || fail "bs-user ($out): no I/O: $r"
	echo "$out: $r"
}

# nbs's statistics after it stopped: exit 0, every shm hop copied nothing,
# no request left live, no pool leaked.
bs_check_nbs()
{
	local out=$T/$1 tot line
	[ "$NBS_STATUS" = 0 ] || fail "nbs exited $NBS_STATUS"
	tot=$(grep 'nbs: stats: total' "$out") || fail "nbs printed no totals"
	[ "$(bs_kv "$tot" live_requests)" = 0 ] || fail "requests left live: $tot"
	[ "$(bs_kv "$tot" pools_leaked)" = 0 ] || fail "pools leaked: $tot"
	while read -r line; do
		[ "$(bs_kv "$line" copied_bytes)" = 0 ] || fail "a shm hop copied payload: $line"
	done < <(grep 'nbs: stats: client=.* hop=shm' "$out")
	echo "nbs: $tot"
}

# ---------------------------------------------------------------------------
# The proxy's and the dpdk hop's tests (bs_dpdk.sh, bs_netns.sh, bs_chain.sh,
# bs_proxy_kill.sh, bs_nbs_kill.sh) add:
#
#   bs_start OUT VAR CMD...   start CMD in the background (output in $T/OUT)
#                             and wait for its "ready:" line; VAR = its PID
#   bs_bg OUT VAR CMD...      start CMD in the background; VAR = its PID
#   bs_until FILE REGEX PID   wait until FILE has a line matching REGEX (0)
#                             or PID ended without one (1)
#   bs_term PID               SIGTERM and wait; sets BS_STATUS
#   bs_eal PREFIX             EAL arguments: no hugepages, no runtime files,
#                             no PCI, file prefix PREFIX, one unpinned lcore
#   bs_line OUT REGEX         the last line of $T/OUT matching REGEX
#   bs_check_hop_dpdk DPDK_SIDE_A_LINE DPDK_SIDE_B_LINE   the two ends of a
#                             dpdk hop: moved the same bytes, and each copied
#                             on receive what it received (their copies sum
#                             to the bytes moved)

# Whether PID still runs (a zombie does not).
bs_alive()
{
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

bs_until()
{
	local f=$1 re=$2 pid=$3 i
	# At most 5 minutes (the test's own timeout ends it first).
	for ((i = 0; i < 6000; i++)); do
		grep -q -- "$re" "$f" 2>/dev/null && return 0
		bs_alive "$pid" || { grep -q -- "$re" "$f" 2>/dev/null; return; }
		sleep 0.05
	done
	return 1
}

bs_bg()
{
	local out=$T/$1 var=$2 pid
	shift 2
	echo "+ $*" >"$out"
	"$@" >>"$out" 2>&1 &
	pid=$!
	bs_pids+=("$pid")
	printf -v "$var" '%s' "$pid"
}

bs_start()
{
	local out=$1 var=$2 pid
	shift 2
	bs_bg "$out" "$var" "$@"
	pid=${!var}
	bs_until "$T/$out" '^ready:' "$pid" || fail "$out: no ready: line from $*"
}

bs_term()
{
	kill -TERM "$1" 2>/dev/null
	bs_wait "$1" 60
}

bs_eal()
{
	local cpus
	cpus=$(taskset -pc $$ 2>/dev/null | sed -n 's/.*: *//p' | tr -d ' ')
	[ -n "$cpus" ] || cpus="0-$(($(nproc) - 1))"
	echo "--no-huge --no-shconf -m 256 --no-pci --file-prefix $1 --lcores=0@($cpus)" \
		"--log-level=lib.eal:error --log-level=pmd.net.memif:error"
}

bs_line()
{
	grep -- "$2" "$T/$1" | tail -n 1
}

bs_check_hop_dpdk()
{
	local a=$1 b=$2 ma mb ca cb
	ma=$(bs_kv "$a" moved_bytes) mb=$(bs_kv "$b" moved_bytes)
	ca=$(bs_kv "$a" copied_bytes) cb=$(bs_kv "$b" copied_bytes)
	[ -n "$ma" ] && [ -n "$ca" ] && [ -n "$cb" ] || fail "dpdk hop: missing counters: '$a' / '$b'"
	[ "$ma" = "$mb" ] || fail "dpdk hop: one end moved $ma bytes, the other $mb"
	[ "$ma" -gt 0 ] || fail "dpdk hop: nothing moved"
	# Each end copies once what it receives: together, every byte once.
	[ $((ca + cb)) = "$ma" ] ||
		fail "dpdk hop: copies $ca + $cb are not the $ma bytes moved (one receive copy each)"
	echo "dpdk hop: moved_bytes=$ma copied_bytes=$ca+$cb (one receive copy per byte)"
}

# Every shm hop line of a file (nbs-proxy's down hop, client lines, bs-user's
# hop line) reports 0 bytes copied.
bs_check_shm_zero()
{
	local out=$1 line n=0
	while read -r line; do
		[ "$(bs_kv "$line" copied_bytes)" = 0 ] || fail "a shm hop copied payload: $line"
		n=$((n + 1))
	done < <(grep -E '(hop=shm|hop shm:)' "$T/$out" | grep 'copied_bytes=')
	[ "$n" -gt 0 ] || fail "$out: no shm hop reported"
}
