#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# fio's nbd engine against four NBD servers on this machine, one after the
# other in one run, each over a Unix socket: nbs (memory store, its NBD
# front end), nbdkit's memory plugin, nbd-server and qemu-nbd (both on a
# file in /dev/shm, as neither has a memory backend). Jobs: 4 KiB random
# read and write at QD 32, 1 MiB sequential read and write at QD 8.
# Reports IOPS, MB/s and IOPS per server core: the server's CPU time
# (utime + stime from /proc/PID/stat, before and after each job) over the
# job's wall time.
#
# With nbs-proxy (NBS_PROXY, or nbs-proxy beside NBS in a build tree) the
# table gains the rows "nbs-proxy": fio -> nbs-proxy's NBD front end ->
# (shm) -> nbs, both on this machine; their server cores are nbs's and
# nbs-proxy's together.
#
#   bench/compare/nbd_compare.sh NBS [SECONDS] [NBS_PROXY]   (default 5 s per job)
#
# NBD_COMPARE_SERVERS and NBD_COMPARE_JOBS pick a subset (default: every
# server; "write:1m:8 randwrite:4k:32 read:1m:8 randread:4k:32").
#
# Peers missing are installed with apt-get (nbdkit, nbd-server, qemu-utils,
# fio); a peer that is still missing is left out of the table.
set -u

nbs=${1:?usage: $0 NBS [SECONDS]}
secs=${2:-5}
proxy=${3:-${NBS_PROXY:-$(dirname "$nbs")/../proxy/nbs-proxy}}
size=1G
hz=$(getconf CLK_TCK)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	for t in nbdkit:nbdkit nbd-server:nbd-server qemu-nbd:qemu-utils fio:fio; do
		command -v "${t%%:*}" >/dev/null 2>&1 ||
			DEBIAN_FRONTEND=noninteractive timeout 180 apt-get install -y -q \
				--no-install-recommends "${t#*:}" >/dev/null 2>&1 || true
	done
fi
if ! fio --enghelp=nbd >/dev/null 2>&1; then
	echo "SKIP: fio has no nbd engine"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/nbd-compare.XXXXXX") || exit 1
pid=""
pid2="" # nbs-proxy's upstream nbs
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$pid2" ] && kill "$pid2" 2>/dev/null && wait "$pid2" 2>/dev/null
	rm -rf "$dir" /dev/shm/nbd-compare.$$.img
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sock=$dir/nbd.sock
img=/dev/shm/nbd-compare.$$.img

# A server's CPU ticks, with its children's: nbd-server forks one per
# connection. A live child counts its own utime + stime; one that exited
# and was reaped is in the parent's cutime + cstime; so each is counted once.
cpu_ticks() {
	t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat")
	for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# The server's ticks: nbs-proxy's rows count its upstream nbs too.
srv_ticks() {
	t=$(cpu_ticks "$pid")
	[ -n "$pid2" ] && t=$((t + $(cpu_ticks "$pid2")))
	echo "$t"
}

wait_sock() {
	while [ ! -S "$sock" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
}

start() {
	rm -f "$sock"
	case $1 in
	nbs) "$nbs" --store memory:$size --nbd "unix:$sock" >"$dir/srv.log" 2>&1 & ;;
	nbs-proxy)
		rm -f "$dir/up.sock"
		"$nbs" --store memory:$size --listen "unix:$dir/up.sock" >"$dir/up.log" 2>&1 &
		pid2=$!
		while [ ! -S "$dir/up.sock" ]; do
			kill -0 "$pid2" 2>/dev/null || { cat "$dir/up.log" >"$dir/srv.log"; return 1; }
			sleep 0.1
		done
		"$proxy" --upstream "unix:$dir/up.sock" --nbd "unix:$sock" >"$dir/srv.log" 2>&1 & ;;
	nbdkit) nbdkit --foreground --unix "$sock" memory $size >"$dir/srv.log" 2>&1 & ;;
	nbd-server)
		truncate -s $size "$img"
		printf '[generic]\n\tunixsock = %s\n\tallowlist = true\n[disk]\n\texportname = %s\n' \
			"$sock" "$img" >"$dir/nbd-server.conf"
		# Not -d: with it nbd-server serves one connection and exits.
		# It daemonizes and forks a child per connection; its PID
		# comes from the PID file (cpu_ticks() adds the children).
		rm -f "$dir/nbd-server.pid"
		nbd-server -C "$dir/nbd-server.conf" -p "$dir/nbd-server.pid" >"$dir/srv.log" 2>&1 ||
			return 1
		for _ in $(seq 50); do
			[ -s "$dir/nbd-server.pid" ] && break
			sleep 0.1
		done
		pid=$(cat "$dir/nbd-server.pid" 2>/dev/null)
		[ -n "$pid" ] || return 1
		wait_sock
		return ;;
	qemu-nbd)
		truncate -s $size "$img"
		qemu-nbd -f raw -k "$sock" -t --shared=16 --cache=writeback --aio=threads "$img" \
			>"$dir/srv.log" 2>&1 & ;;
	esac
	pid=$!
	wait_sock
}

stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# nbd-server is not our child: wait for it to be gone.
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	pid=""
	if [ -n "$pid2" ]; then
		kill "$pid2" 2>/dev/null
		wait "$pid2" 2>/dev/null
		pid2=""
	fi
	rm -f "$img"
}

printf '%-11s %-14s %10s %9s %10s %16s\n' server job IOPS MB/s srv_cores IOPS/srv_core
for srv in ${NBD_COMPARE_SERVERS:-nbs nbs-proxy nbdkit nbd-server qemu-nbd}; do
	case $srv in
	nbs) ;;
	nbs-proxy) [ -x "$proxy" ] || { echo "($srv: not found: $proxy)"; continue; } ;;
	qemu-nbd) command -v qemu-nbd >/dev/null 2>&1 || { echo "($srv: not installed)"; continue; } ;;
	*) command -v "$srv" >/dev/null 2>&1 || { echo "($srv: not installed)"; continue; } ;;
	esac
	if ! start $srv; then
		echo "($srv: did not start: $(head -c 200 "$dir/srv.log"))"
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		pid=""
		stop
		continue
	fi
	uri="nbd+unix:///?socket=$sock"
	[ $srv = nbd-server ] && uri="nbd+unix:///disk?socket=$sock"
	# Writes first: reads then read written data on every server (nbs
	# answers a read of a never-written range with one OFFSET_HOLE chunk).
	for job in ${NBD_COMPARE_JOBS:-write:1m:8 randwrite:4k:32 read:1m:8 randread:4k:32}; do
		rw=${job%%:*}
		rest=${job#*:}
		bs=${rest%%:*}
		qd=${rest#*:}
		c0=$(srv_ticks)
		t0=$(date +%s.%N)
		fio --name=j --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$qd" \
			--size=512M --time_based --runtime="$secs" --ramp_time=1 \
			--output-format=json >"$dir/fio.json" 2>"$dir/fio.err"
		t1=$(date +%s.%N)
		# nbd-server's child for fio's connection exits now; let the
		# parent reap it so that its time is in the parent's cutime.
		[ $srv = nbd-server ] && sleep 0.3
		c1=$(srv_ticks)
		python3 - "$dir/fio.json" "$srv" "$rw $bs QD$qd" "$c0" "$c1" "$t0" "$t1" "$hz" <<'PY'
import json, sys
f, srv, job, c0, c1, t0, t1, hz = sys.argv[1:]
try:
    t = open(f).read()  # fio may print notes around the JSON
    j = json.loads(t[t.index("{"):t.rindex("}") + 1])["jobs"][0]
except Exception:
    print("%-11s %-14s %10s" % (srv, job, "fio failed")); sys.exit(0)
d = j["read"] if j["read"]["io_bytes"] else j["write"]
iops, mbs = d["iops"], d["bw_bytes"] / 1e6
cores = (float(c1) - float(c0)) / float(hz) / (float(t1) - float(t0))
print("%-11s %-14s %10.0f %9.1f %10.2f %16.0f" % (srv, job, iops, mbs, cores,
      iops / cores if cores > 0 else 0))
PY
	done
	stop
done
