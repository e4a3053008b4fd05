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

# --- nbdinfo
check "nbdinfo" nbdinfo "$uri"
check "nbdinfo over TCP" nbdinfo "$tcp_uri"
check "nbdinfo --size" sh -c "[ \$(nbdinfo --size '$uri') = $size ]"
check "nbdinfo --list" sh -c "nbdinfo --list '$uri' | grep -q 'export=\"disk\"'"
check "nbdinfo --map" sh -c "nbdinfo --map '$uri' | grep -q data"
for f in cache df fast-zero flush fua multi-conn trim zero structured-reply; do
	check "nbdinfo --can $f" nbdinfo --can "$f" "$uri"
done
check "nbdinfo --is read-only is false" sh -c "! nbdinfo --is read-only '$uri'"
check "nbdinfo lists base:allocation" sh -c "nbdinfo '$uri' | grep -q base:allocation"

# --- qemu-io
qio() { qemu-io -f raw "$@" "$uri"; }
check "qemu-io write -P" qio -c 'write -P 0xab 0 1M' -c 'write -P 0xcd 1M 64k'
check "qemu-io read -P" qio -c 'read -P 0xab 0 1M' -c 'read -P 0xcd 1M 64k'
check "qemu-io aio_write + aio_flush" qio -c 'aio_write -P 0x11 4M 256k' -c 'aio_write -P 0x22 5M 256k' \
	-c aio_flush -c 'read -P 0x11 4M 256k' -c 'read -P 0x22 5M 256k'
check "qemu-io write -z" qio -c 'write -z 0 64k' -c 'read -P 0 0 64k' -c 'read -P 0xab 64k 64k'
check "qemu-io discard" qio -c 'discard 128k 64k' -c 'read -P 0 128k 64k'
check "qemu-io flush" qio -c 'write -P 0x33 8M 4k' -c flush -c 'read -P 0x33 8M 4k'

# --- qemu-img and nbdcopy
head -c 16777216 /dev/urandom >"$dir/in.img"
check "qemu-img info" sh -c "qemu-img info '$uri' | grep -q 'virtual size: 64 MiB'"
check "qemu-img convert in" qemu-img convert -n -f raw -O raw "$dir/in.img" "$uri"
check "qemu-img compare" qemu-img compare -f raw -F raw "$dir/in.img" "$uri"
check "qemu-img convert out" qemu-img convert -f raw -O raw "$uri" "$dir/out1.img"
check "qemu-img out cmp" cmp -n 16777216 "$dir/in.img" "$dir/out1.img"
head -c 16777216 /dev/urandom >"$dir/in2.img"
check "nbdcopy in" nbdcopy "$dir/in2.img" "$uri"
check "nbdcopy out" nbdcopy "$uri" "$dir/out2.img"
check "nbdcopy cmp" cmp -n 16777216 "$dir/in2.img" "$dir/out2.img"
check "nbdcopy 4 connections" nbdcopy -C 4 --requests=32 "$dir/in.img" "$uri"
check "nbdcopy 4 connections back" sh -c "nbdcopy -C 4 '$uri' - | cmp -n 16777216 - '$dir/in.img'"

# --- raw socket: conformance, abuse, multi-conn
check "conformance/abuse/multi-conn (nbd_conform.py)" python3 "$here/nbd_conform.py" "$sock" $size
grep -E '[0-9]+ passed, [0-9]+ failed' "$dir/log" | sed 's/^/    nbd_conform.py: /'

# --- fio's nbd engine, verify=crc32c at QD 32
fio_ok=""
if ! command -v fio >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -q --no-install-recommends fio \
		>/dev/null 2>&1 || true
fi
if command -v fio >/dev/null 2>&1 && fio --enghelp=nbd >/dev/null 2>&1; then
	fio_ok=1
	check "fio nbd engine verify=crc32c QD 32" fio --name=v --ioengine=nbd --uri="$uri" \
		--rw=randwrite --bs=4k --iodepth=32 --size=16M --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --verify_state_save=0
else
	echo "SKIP (part): fio with an nbd engine is not available"
fi
check "nbs stops cleanly" stop

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
