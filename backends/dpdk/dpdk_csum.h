/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The UDP checksum of the DPDK backend, 8 bytes at a time: the software
 * path, for ports without checksum offload (the vdevs we run on but
 * net_tap) or told not to use it (dpdk_port.c, port_csum_choose()).
 *
 * DPDK 22.11's rte_raw_cksum() adds 16 bits per step: it was a fifth of
 * the sender's time at 3.4 KB frames. The
 * ones' complement sum is order independent, so 64-bit little-endian words
 * with an end-around carry fold to the same 16-bit sum as the 16-bit words
 * DPDK adds (in host order, as rte_ipv4_phdr_cksum() returns it). A run that
 * starts at an odd offset of the datagram sums byte-swapped: its folded sum
 * is swapped back (RFC 1071, 2.B).
 *
 * On transmit in copy mode the payload is summed while it is copied (one
 * pass). On receive the frame is verified before anything is copied out of
 * it: a corrupted offset must not write anywhere.
 */
#ifndef BULK_DPDK_CSUM_H
#define BULK_DPDK_CSUM_H

#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

static inline uint64_t
csum_add(uint64_t sum, uint64_t v)
{
	sum += v;
	return sum + (sum < v);
}

static inline uint16_t
csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

static inline uint16_t
csum_swap16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/* Sum of @p len bytes (the last one padded with zero), not folded. */
static inline uint64_t
csum_bytes(const uint8_t *p, size_t len)
{
	uint64_t s0 = 0, s1 = 0, w0, w1, t = 0;

	while (len >= 16) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		s0 = csum_add(s0, w0);
		s1 = csum_add(s1, w1);
		p += 16;
		len -= 16;
	}
	if (len >= 8) {
		memcpy(&w0, p, 8);
		s0 = csum_add(s0, w0);
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		memcpy(&t, p, len);
		s1 = csum_add(s1, t);
	}
	return csum_add(s0, s1);
}

/* Copy @p len bytes and return their sum (as csum_bytes()). */
static inline uint64_t
csum_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
	uint64_t s0 = 0, s1 = 0, w0, w1, t = 0;

	while (len >= 16) {
		memcpy(&w0, src, 8);
		memcpy(&w1, src + 8, 8);
		memcpy(dst, &w0, 8);
		memcpy(dst + 8, &w1, 8);
		s0 = csum_add(s0, w0);
		s1 = csum_add(s1, w1);
		src += 16;
		dst += 16;
		len -= 16;
	}
	if (len >= 8) {
		memcpy(&w0, src, 8);
		memcpy(dst, &w0, 8);
		s0 = csum_add(s0, w0);
		src += 8;
		dst += 8;
		len -= 8;
	}
	if (len > 0) {
		memcpy(&t, src, len);
		memcpy(dst, &t, len);
		s1 = csum_add(s1, t);
	}
	return csum_add(s0, s1);
}

/*
 * Add the folded sum of a run that starts @p off bytes into the datagram
 * to the running 16-bit-order sum @p acc.
 */
static inline uint64_t
csum_place(uint64_t acc, uint64_t run, uint32_t off)
{
	uint16_t f = csum_fold(run);

	return acc + (off & 1 ? csum_swap16(f) : f);
}

/*
 * Sum of @p len bytes at @p off of a (possibly chained) mbuf, counted from
 * datagram offset @p doff (for the odd/even placement). Folded into @p acc.
 */
static inline uint64_t
csum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t doff, uint64_t acc)
{
	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m != NULL && len > 0) {
		uint32_t k = m->data_len - off;

		if (k > len)
			k = len;
		acc = csum_place(acc, csum_bytes(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), k),
				 doff);
		doff += k;
		len -= k;
		off = 0;
		m = m->next;
	}
	return acc;
}

#endif /* BULK_DPDK_CSUM_H */
