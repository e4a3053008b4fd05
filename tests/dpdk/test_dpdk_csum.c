/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend's 64-bit checksum (backends/dpdk/dpdk_csum.h) against DPDK's
 * own rte_raw_cksum(): random data, every length up to 600 bytes and a few
 * large ones, runs split at random points (odd and even), and the copying
 * variant's copy. No EAL needed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>

#include "check.h"
#include "dpdk_csum.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 16);
}

/* The sum of @p len bytes cut into runs at random points, as the frame
 * builder and the receiver place them. */
static uint16_t
split_sum(const uint8_t *p, uint32_t len)
{
	uint64_t acc = 0;
	uint32_t off = 0;

	while (off < len) {
		uint32_t k = 1 + rnd() % (len - off);

		acc = csum_place(acc, csum_bytes(p + off, k), off);
		off += k;
	}
	return csum_fold(acc);
}

int
main(int argc, char **argv)
{
	static uint8_t buf[70000 + 32], dst[70000 + 32];
	static const uint32_t big[] = { 1415, 1416, 3357, 3358, 8916, 65535, 65536, 69999 };
	unsigned long cases = 0;

	if (argc > 1)
		rs = strtoull(argv[1], NULL, 0) | 1;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (uint32_t len = 0; len <= 600 + sizeof(big) / sizeof(big[0]); len++) {
		uint32_t n = len <= 600 ? len : big[len - 601];

		for (int start = 0; start < 8; start++) {
			const uint8_t *p = buf + start;
			uint16_t want = rte_raw_cksum(p, n);

			CHECK_EQ_INT(csum_fold(csum_bytes(p, n)), want);
			CHECK_EQ_INT(split_sum(p, n), want);
			memset(dst, 0, n + 16);
			CHECK_EQ_INT(csum_fold(csum_copy(dst + (start ^ 3), p, n)), want);
			CHECK(memcmp(dst + (start ^ 3), p, n) == 0);
			cases++;
		}
	}
	printf("test_dpdk_csum: %lu lengths x alignments agree with rte_raw_cksum\n", cases);
	return CHECK_DONE("test_dpdk_csum");
}
