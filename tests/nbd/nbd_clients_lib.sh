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
