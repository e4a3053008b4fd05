# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the NBD client tests (test_nbd_clients.sh, test_nbs_nbd.sh):
#
#   nbd_need_clients TOOL...   each TOOL must be on PATH; missing ones are
#                              installed with apt-get where that is possible
#                              (root, Debian: libnbd-bin, qemu-utils); if one
#                              is still missing it prints SKIP and exits 77.

nbd_missing() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "$t"; return 0; }
	done
	return 1
}

nbd_need_clients() {
	if nbd_missing "$@" >/dev/null; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -q \
				--no-install-recommends libnbd-bin qemu-utils >/dev/null 2>&1 || true
		fi
		if t=$(nbd_missing "$@"); then
			echo "SKIP: $t is not installed and could not be (apt-get: libnbd-bin, qemu-utils)"
			exit 77
		fi
	fi
}

nbd_qio() { qemu-io -f raw "$@"; }

nbd_client_suite() {
	uri=$1
	sock=$2
	size=$3
	flags=$4
	holes=${5:-} # "holes": the server must report holes (block status, OFFSET_HOLE)
	# check_qio NAME ARGS...: qemu-io ARGS on $uri.
	check_qio() {
		n=$1
		shift
		check "$n" nbd_qio "$@" "$uri"
	}
	# --- nbdinfo
	check "nbdinfo" nbdinfo "$uri"
	check "nbdinfo --size" sh -c "[ \$(nbdinfo --size '$uri') = $size ]"
	check "nbdinfo --list" sh -c "nbdinfo --list '$uri' | grep -q 'export=\"disk\"'"
	check "nbdinfo --map" sh -c "nbdinfo --map '$uri' | grep -Eq 'data|hole'"
	for f in $flags; do
		check "nbdinfo --can $f" nbdinfo --can "$f" "$uri"
	done
	check "nbdinfo --is read-only is false" sh -c "! nbdinfo --is read-only '$uri'"
	check "nbdinfo lists base:allocation" sh -c "nbdinfo '$uri' | grep -q base:allocation"

	# --- qemu-io
	check_qio "qemu-io write -P" -c 'write -P 0xab 0 1M' -c 'write -P 0xcd 1M 64k'
	check_qio "qemu-io read -P" -c 'read -P 0xab 0 1M' -c 'read -P 0xcd 1M 64k'
	if [ "$holes" = holes ]; then
		# 1 MiB + 64 KiB written at 0, the rest of the store never was.
		check "nbdinfo --map: data, then a hole" sh -c "nbdinfo --map '$uri' >'$dir/map' &&
			head -n 1 '$dir/map' | grep -q data && grep -q 'hole,zero' '$dir/map'"
	fi
	check_qio "qemu-io aio_write + aio_flush" -c 'aio_write -P 0x11 4M 256k' -c 'aio_write -P 0x22 5M 256k' \
		-c aio_flush -c 'read -P 0x11 4M 256k' -c 'read -P 0x22 5M 256k'
	check_qio "qemu-io write -z" -c 'write -z 0 64k' -c 'read -P 0 0 64k' -c 'read -P 0xab 64k 64k'
	check_qio "qemu-io discard" -c 'discard 128k 64k' -c 'read -P 0 128k 64k'
	check_qio "qemu-io flush" -c 'write -P 0x33 8M 4k' -c flush -c 'read -P 0x33 8M 4k'

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
	check "conformance/abuse/multi-conn (nbd_conform.py)" python3 "$here/nbd_conform.py" "$sock" $size $holes
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
}
