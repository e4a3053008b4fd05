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
	"$NBS" --listen "$NBS_CTL" "$@" >"$out" 2>&1 &
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
