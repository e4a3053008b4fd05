#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# nbs's NBD front end (apps/nbs/nbd_front.c) against unmodified clients,
# once per store kind:
#
#   test_nbs_nbd.sh NBS memory|file
#
# nbdinfo (plain, --list, --map, --can for every advertised flag, systemd
# socket activation with nbdinfo [ CMD ]), qemu-img (info, convert both
# ways, compare), qemu-io (pattern writes and reads, write -z, discard,
# flush, aio_write), nbdcopy in and out with cmp, the raw-socket
# conformance, abuse and multi-conn suite (nbd_conform.py), fio's nbd
# engine with verify=crc32c at QD 32 (skipped with a message without fio's
# nbd engine) and, for the file store, kill -9 after an acknowledged FLUSH
# then a restart that must still hold the data. Every server is stopped by
# its PID; nothing is timed.
set -u

nbs=${1:?usage: $0 NBS memory|file}
kind=${2:?usage: $0 NBS memory|file}
here=$(dirname "$0")
pass=0
fail=0

# shellcheck source=tests/nbd/nbd_clients_lib.sh
. "$here/nbd_clients_lib.sh"
nbd_need_clients nbdinfo nbdcopy qemu-img qemu-io python3

dir=$(mktemp -d "${TMPDIR:-/tmp}/nbs-nbd.XXXXXX") || exit 1
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

size=$((64 << 20))
if [ "$kind" = file ]; then
	truncate -s $size "$dir/disk.img"
	store=file:$dir/disk.img
else
	store=memory:$size
fi
sock=$dir/nbd.sock
uri="nbd+unix:///disk?socket=$sock"

# start: nbs on $sock (and TCP on an ephemeral port); waits for "ready:".
start() {
	# Emptied here, not by the child's redirection: that may come after
	# the grep below has read a previous run's "ready:".
	: >"$dir/nbs.out"
	"$nbs" --store "$store" --export disk --nbd "unix:$sock" --nbd tcp:127.0.0.1:0 \
		>"$dir/nbs.out" 2>"$dir/nbs.err" &
	pid=$!
	while ! grep -q '^ready:' "$dir/nbs.out" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "FAIL: nbs did not start"
			cat "$dir/nbs.err"
			exit 1
		fi
		sleep 0.1
	done
}

stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	pid=""
	return $rc
}

check() {
	name=$1
	shift
	if "$@" >"$dir/log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name"
		sed 's/^/    /' "$dir/log" | head -30
	fi
}

start
tcp_uri=$(sed -n 's/.* \(nbd:\/\/[^ ]*\) .*/\1/p' "$dir/nbs.out")
check "ready: line has the unix URI" grep -qF "$uri" "$dir/nbs.out"
check "ready: line has a TCP URI" test -n "$tcp_uri"

check "nbdinfo over TCP" nbdinfo "$tcp_uri"
nbd_client_suite "$uri" "$sock" "$size" "cache df fast-zero flush fua multi-conn trim zero structured-reply" holes
check "nbs stops cleanly" stop

# The memory store's READs go out by reference (vmsplice + splice) where the
# kernel allows it (nbs says when it does not); the suite again with that
# turned off covers the copying path for the same store.
if [ "$kind" = memory ]; then
	if grep -q "replies are copied" "$dir/nbs.out"; then
		echo "note: no zero-copy replies here: $(grep "replies are copied" "$dir/nbs.out")"
	else
		check "READ replies went by reference (spliced > 0)" \
			grep -Eq "nbd: stats: .* spliced=[1-9]" "$dir/nbs.out"
	fi
	NBD_SERVE_SPLICE=0
	export NBD_SERVE_SPLICE
	start
	nbd_client_suite "$uri" "$sock" "$size" "cache df fast-zero flush fua multi-conn trim zero structured-reply" holes
	check "nbs stops cleanly (copied replies)" stop
	check "no reply went by reference with NBD_SERVE_SPLICE=0" \
		grep -Eq "nbd: stats: .* spliced=0( |\$)" "$dir/nbs.out"
	unset NBD_SERVE_SPLICE
fi

# --- socket activation: nbdinfo starts nbs itself with LISTEN_FDS
check "socket activation (nbdinfo [ nbs ])" sh -c \
	"nbdinfo --size -- [ '$nbs' --store memory:1M ] | grep -qx 1048576"

# --- kill -9 after an acknowledged FLUSH (file store)
if [ "$kind" = file ]; then
	start
	check "qemu-io write + flush before kill -9" qemu-io -f raw -c 'write -P 0x5a 32M 1M' \
		-c flush "$uri"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	pid=""
	start
	check "after kill -9 and restart: the flushed data is there" qemu-io -f raw \
		-c 'read -P 0x5a 32M 1M' "$uri"
	check "nbs stops cleanly after restart" stop
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
