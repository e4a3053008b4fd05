#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Real, unmodified NBD clients against lib/nbd: nbd_echo_server (lib/nbd
# over a Unix socket, an in-memory export) driven by nbdinfo (plain,
# --list, --map, --can and --is for every flag), qemu-img (info, convert
# both ways, compare), qemu-io (pattern writes and reads, write -z,
# discard, flush, aio_write) and nbdcopy (in and out, several connections),
# once with structured replies and once with simple replies only.
#
#   test_nbd_clients.sh NBD_ECHO_SERVER
#
# Missing clients are installed with apt-get where that is possible
# (Debian: libnbd-bin, qemu-utils); otherwise the test is skipped (77).
# NBD_RECORD_DIR=DIR keeps every connection's client bytes there (that is
# how tests/nbd/corpus was captured). Each server is stopped by its PID.
set -u

server=${1:?usage: $0 NBD_ECHO_SERVER}
pass=0
fail=0

# shellcheck source=tests/nbd/nbd_clients_lib.sh
. "$(dirname "$0")/nbd_clients_lib.sh"
nbd_need_clients nbdinfo nbdcopy qemu-img qemu-io

dir=$(mktemp -d "${TMPDIR:-/tmp}/nbd-clients.XXXXXX") || exit 1
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_server NAME ARGS...: sets $sock; the PID goes to $pids.
start_server() {
	name=$1
	shift
	sock=$dir/$name.sock
	rec=""
	if [ -n "${NBD_RECORD_DIR:-}" ]; then
		mkdir -p "$NBD_RECORD_DIR/$name"
		rec="-r $NBD_RECORD_DIR/$name"
	fi
	# shellcheck disable=SC2086
	"$server" -u "$sock" $rec "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	pids="$pids $!"
	i=0
	while ! grep -q ready "$dir/$name.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "FAIL: $name server did not start"
			cat "$dir/$name.err"
			exit 1
		fi
		sleep 0.1
	done
}

# check NAME COMMAND...: passes if the command succeeds.
check() {
	name=$1
	shift
	if "$@" >"$dir/log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name"
		sed 's/^/    /' "$dir/log"
	fi
}

# check_not NAME COMMAND...: passes if the command fails.
check_not() {
	name=$1
	shift
	if "$@" >"$dir/log" 2>&1; then
		fail=$((fail + 1))
		echo "FAIL: $name (should have failed)"
		sed 's/^/    /' "$dir/log"
	else
		pass=$((pass + 1))
	fi
}

# check_out NAME PATTERN COMMAND...: passes if it succeeds and prints PATTERN.
check_out() {
	name=$1
	pat=$2
	shift 2
	if "$@" >"$dir/log" 2>&1 && grep -Eq -- "$pat" "$dir/log"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name (wanted /$pat/)"
		sed 's/^/    /' "$dir/log"
	fi
}

# qemu-io exits 0 even when a pattern does not match: look at its words.
qio() {
	qemu-io -f raw "$@" >"$dir/qio" 2>&1 || { cat "$dir/qio"; return 1; }
	cat "$dir/qio"
	! grep -Eiq 'fail|error|mismatch' "$dir/qio"
}

size=16777216
# A local image with data, a hole and a zeroed run.
img=$dir/src.img
head -c 1048576 /dev/urandom >"$img"
truncate -s 3M "$img"
head -c 524288 /dev/urandom >>"$img"
truncate -s $size "$img"

# ------------------------------------------ structured replies (default)
start_server mem -s 16M
spid=${pids##* }
uri="nbd+unix:///mem?socket=$sock"
ro="nbd+unix:///ro?socket=$sock"

check_out "nbdinfo" "export-size: $size" nbdinfo "$uri"
check_out "nbdinfo structured" "structured" nbdinfo "$uri"
check_out "nbdinfo --list" 'export="ro"' nbdinfo --list "nbd+unix://?socket=$sock"
check_out "nbdinfo --list description" 'in-memory export, read-only' \
	nbdinfo --list "nbd+unix://?socket=$sock"
check_out "nbdinfo default export" "export-size: $size" nbdinfo "nbd+unix://?socket=$sock"
check_out "nbdinfo block sizes" 'block_size_maximum: 33554432' nbdinfo "$uri"
for f in connect read write cache df fast-zero flush fua multi-conn trim zero \
	structured-reply; do
	check "nbdinfo --can $f" nbdinfo --can "$f" "$uri"
done
check_not "nbdinfo --is read-only (mem)" nbdinfo --is read-only "$uri"
check_not "nbdinfo --is rotational" nbdinfo --is rotational "$uri"
check "nbdinfo --is read-only (ro)" nbdinfo --is read-only "$ro"
check_not "nbdinfo --can write (ro)" nbdinfo --can write "$ro"
check_not "nbdinfo --can trim (ro)" nbdinfo --can trim "$ro"
check_not "nbdinfo unknown export" nbdinfo "nbd+unix:///nope?socket=$sock"

check_out "nbdinfo --map (empty)" "^ *0 +$size +3 +hole,zero" nbdinfo --map "$uri"

check "qemu-io write/read -P" qio "$uri" \
	-c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k' \
	-c 'write -P 0x11 100000 5000' -c 'read -P 0x11 100000 5000' \
	-c 'write -z 1M 64k' -c 'read -P 0 1M 64k' \
	-c 'write -P 0x22 2M 128k' -c 'discard 2M 64k' -c 'read -P 0x22 2112k 64k' \
	-c 'flush' \
	-c 'aio_write -P 0xcd 3M 64k' -c 'aio_write -P 0xce 4M 64k' -c 'aio_flush' \
	-c 'read -P 0xcd 3M 64k' -c 'read -P 0xce 4M 64k' \
	-c 'write -f -P 0x33 5M 4k' -c 'read -P 0x33 5M 4k'
check_not "qemu-io wrong pattern is noticed" qio "$uri" -c 'read -P 0x99 0 4k'
check "qemu-io on ro refuses writes" sh -c \
	"qemu-io -f raw '$ro' -c 'write -P 1 0 4k' 2>&1 | grep -Eiq 'denied|read-only|not permitted|error'"
check_out "nbdinfo --map (data)" "^ *0 +65536 +0 +data" nbdinfo --map "$uri"
check_out "nbdinfo --map (hole)" "hole,zero" nbdinfo --map "$uri"

check_out "qemu-img info" "virtual size: 16 MiB" qemu-img info -f raw "$uri"
check "qemu-img convert in" qemu-img convert -n -f raw -O raw "$img" "$uri"
check "qemu-img compare" qemu-img compare -f raw -F raw "$img" "$uri"
check "qemu-img convert out" qemu-img convert -f raw -O raw "$uri" "$dir/out.img"
check "cmp after qemu-img" cmp "$img" "$dir/out.img"
check_out "nbdinfo --map after convert" "hole" nbdinfo --map "$uri"

head -c $size /dev/urandom >"$dir/rand.img"
check "nbdcopy in" nbdcopy "$dir/rand.img" "$uri"
check "nbdcopy out" nbdcopy "$uri" "$dir/copy.img"
check "cmp after nbdcopy" cmp "$dir/rand.img" "$dir/copy.img"
check "nbdcopy out, 4 connections" nbdcopy -C 4 --requests=32 "$uri" "$dir/copy4.img"
check "cmp after nbdcopy -C 4" cmp "$dir/rand.img" "$dir/copy4.img"
check "qemu-img compare after nbdcopy" qemu-img compare -f raw -F raw "$dir/rand.img" "$uri"
check "server alive" kill -0 "$spid"

# ------------------------------------------------- simple replies only
start_server simple -s 16M -S -E
spid=${pids##* }
uri="nbd+unix:///mem?socket=$sock"
check_not "nbdinfo --can structured-reply (simple)" nbdinfo --can structured-reply "$uri"
check_not "nbdinfo --can df (simple)" nbdinfo --can df "$uri"
check "qemu-io (simple)" qio "$uri" \
	-c 'write -P 0x5a 0 1M' -c 'read -P 0x5a 0 1M' -c 'write -z 4k 4k' \
	-c 'read -P 0 4k 4k' -c 'flush'
check "qemu-img convert in (simple)" qemu-img convert -n -f raw -O raw "$img" "$uri"
check "qemu-img compare (simple)" qemu-img compare -f raw -F raw "$img" "$uri"
check "nbdcopy out (simple)" nbdcopy "$uri" "$dir/s.img"
check "cmp (simple)" cmp "$img" "$dir/s.img"
check "server alive (simple)" kill -0 "$spid"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
