#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# nbs-proxy's NBD front end (apps/proxy/nbd.c) against unmodified clients:
#
#   client --NBD (unix, tcp)--> nbs-proxy --libbulk-bs (shm, or dpdk on net_memif)--> nbs
#
#   test_proxy_nbd.sh NBS NBS_PROXY shm|memif
#
# The client suite of nbd_clients_lib.sh through the proxy (nbdinfo,
# qemu-io, qemu-img, nbdcopy + cmp, the raw-socket suite nbd_conform.py
# with its multi-conn check: write on one connection, FLUSH on a second,
# read on a third; fio's nbd engine with verify=crc32c at QD 32), with the
# proxy's pool buffers smaller than its largest request (--nbd-buffer-size
# 65536: a 1 MiB READ or WRITE goes upstream in 16 pieces). Then: nbs-proxy
# stops on SIGTERM with exit 0 and says it copied no write payload out of
# its input buffer (copied_in=0: every payload byte was read from the
# socket straight into a pool buffer); its upstream hop copied nothing over
# shm, and over dpdk both ends of the hop moved the same bytes and copied
# each once on receive. Last, the upstream's loss: kill -9 of nbs; a
# request fails (EIO) instead of hanging and the proxy lives on; over shm,
# nbs started again is used again by the same proxy, and systemd socket
# activation (nbdinfo [ nbs-proxy ... ]) works. memif needs root (77).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../bs/bs_lib.sh"
# shellcheck source=tests/nbd/nbd_clients_lib.sh
. "$here/nbd_clients_lib.sh"
NBS=${1:?usage: $0 NBS NBS_PROXY shm|memif}
PROXY=${2:?usage: $0 NBS NBS_PROXY shm|memif}
mode=${3:?usage: $0 NBS NBS_PROXY shm|memif}
if [ "$mode" = memif ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: DPDK needs root (EAL, memif)"
	exit 77
fi
nbd_need_clients nbdinfo nbdcopy qemu-img qemu-io python3
bs_init "pnbd-$mode"
dir=$T
npass=0
nfail=0

check() {
	local name=$1
	shift
	if "$@" >"$dir/log" 2>&1; then
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
		echo "FAIL: $name"
		sed 's/^/    /' "$dir/log" | head -30
	fi
}

size=$((64 << 20))
ctl=unix:$T/nbs.sock
sock=$T/nbd.sock
uri="nbd+unix:///disk?socket=$sock"
nbs_args=(--store memory:$size --export disk --listen "$ctl")
px_args=(--upstream "$ctl" --export disk --nbd "unix:$sock" --nbd tcp:127.0.0.1:0
	--nbd-buffer-size 65536)
if [ "$mode" = memif ]; then
	read -r -a eal_n <<<"$(bs_eal "pnn$$")"
	read -r -a eal_p <<<"$(bs_eal "pnp$$")"
	msock=$T/memif.sock
	nbs_cmd=("$NBS" "${eal_n[@]}" "--vdev=net_memif0,role=server,socket=$msock,socket-abstract=no"
		-- "${nbs_args[@]}" --dpdk port=0,ip=198.18.6.2)
	px_cmd=("$PROXY" "${eal_p[@]}" "--vdev=net_memif0,role=client,socket=$msock,socket-abstract=no"
		-- "${px_args[@]}" --via dpdk:port=0,ip=198.18.6.1)
else
	nbs_cmd=("$NBS" "${nbs_args[@]}")
	px_cmd=("$PROXY" "${px_args[@]}" --via shm)
fi

bs_start nbs.out NP "${nbs_cmd[@]}"
bs_start proxy.out PP "${px_cmd[@]}"
check "ready: line has the unix URI" grep -qF "$uri" "$T/proxy.out"
tcp_uri=$(sed -n 's/.* \(nbd:\/\/[^ ]*\) .*/\1/p' "$T/proxy.out")
check "ready: line has a TCP URI" test -n "$tcp_uri"
check "nbdinfo over TCP" nbdinfo "$tcp_uri"
check "nbdinfo: the upstream's size, nbs-proxy" sh -c "nbdinfo '$uri' | grep -q 'description: nbs-proxy'"
check "FAST_ZERO not offered (the native protocol cannot ask)" sh -c "! nbdinfo --can fast-zero '$uri'"

nbd_client_suite "$uri" "$sock" "$size" "cache df flush fua multi-conn trim zero structured-reply"
check "qemu-io 1 MiB in 16 pieces, FUA" nbd_qio -c 'write -f -P 0x77 16M 1M' -c 'read -P 0x77 16M 1M' \
	-c 'write -z 16M 1M' -c 'read -P 0 16M 1M' "$uri"

bs_term "$PP"
check "nbs-proxy exits 0 on SIGTERM" test "$BS_STATUS" = 0
st=$(bs_line proxy.out 'nbs-proxy: nbd: stats:')
echo "proxy: $st"
check "nbs-proxy: every write payload read straight into a pool buffer (copied_in=0)" \
	test "$(bs_kv "$st" copied_in)" = 0
check "nbs-proxy: requests went upstream" test "$(bs_kv "$(bs_line proxy.out 'stats: hop=up')" requests)" -gt 0
up=$(bs_line proxy.out 'nbs-proxy: stats: hop=up')
echo "proxy: $up"
if [ "$mode" = memif ]; then
	# Both ends of the dpdk hop: nbs's client lines (one per session) summed.
	sum=$(grep 'nbs: stats: client=.* hop=dpdk' "$T/nbs.out" |
		awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^moved_bytes=/) { sub(/.*=/, "", $i); m += $i }
			if ($i ~ /^copied_bytes=/) { sub(/.*=/, "", $i); c += $i } } }
			END { printf "moved_bytes=%d copied_bytes=%d\n", m, c }')
	echo "nbs: dpdk sessions: $sum"
	check "dpdk hop: both ends moved the same bytes" \
		test "$(bs_kv "$up" moved_bytes)" = "$(bs_kv "$sum" moved_bytes)"
	check "dpdk hop: one receive copy per byte" \
		test $(($(bs_kv "$up" copied_bytes) + $(bs_kv "$sum" copied_bytes))) = "$(bs_kv "$up" moved_bytes)"
else
	check "shm hop: nothing copied" test "$(bs_kv "$up" copied_bytes)" = 0
fi

# --- the upstream's loss: EIO, never a hang; the proxy lives on.
bs_start proxy2.out PP "${px_cmd[@]}"
check "before: a write through the proxy" nbd_qio -c 'write -P 0x5a 0 64k' "$uri"
kill -KILL "$NP"
wait "$NP" 2>/dev/null
check "upstream gone: a read fails, not hangs" sh -c \
	"! timeout 60 qemu-io -f raw -c 'read -P 0x5a 0 64k' '$uri' 2>&1 | grep -q '^read 65536'"
check "upstream gone: a write fails, not hangs" sh -c \
	"! timeout 60 qemu-io -f raw -c 'write -P 0x5b 0 64k' '$uri' 2>&1 | grep -q '^wrote 65536'"
check "upstream gone: the proxy lives" bs_alive "$PP"
if [ "$mode" = shm ]; then
	bs_start nbs2.out NP "${nbs_cmd[@]}"
	# A new session opens when a request comes after the backoff (2 s at most).
	sleep 2.5
	check "upstream back: the same proxy serves again" nbd_qio -c 'write -P 0x6c 0 64k' \
		-c 'read -P 0x6c 0 64k' "$uri"
	check "socket activation (nbdinfo [ nbs-proxy ])" sh -c \
		"nbdinfo --size -- [ '$PROXY' --upstream '$ctl' --export disk ] | grep -qx $size"
	bs_term "$NP"
fi
bs_term "$PP"
check "nbs-proxy exits 0 after its upstream's loss" test "$BS_STATUS" = 0

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ] || fail "$nfail checks failed"
