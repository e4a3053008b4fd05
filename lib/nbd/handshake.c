/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake's input: the client flags, then option after option,
 * taken in whatever pieces the caller has them. This file only frames;
 * options.c decides what each option means.
 *
 * Every option's declared length is consumed exactly, so the next header
 * is always where the client put it: data that is not parsed (unknown
 * options, options that take none) is skipped as it arrives, without
 * being stored; data that is parsed is stored, up to opt_max bytes. A
 * longer option is answered NBD_REP_ERR_TOO_BIG and the connection ends:
 * its data is never read, let alone kept.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_internal.h"

#define NBD_CFLAGS_KNOWN (NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)

static int
handshake_fail(struct nbd_conn *c, int err)
{
	c->phase = NBD_PHASE_CLOSED;
	return err;
}

/* The client flags are complete. */
static int
handshake_cflags(struct nbd_conn *c)
{
	uint32_t cflags = nbd_get32(c->hdr);

	/* Unknown bits must close the connection. A client without
	 * C_FIXED_NEWSTYLE is served as fixed newstyle all the same (the
	 * protocol lets a server honour it); it simply never sends more than
	 * NBD_OPT_EXPORT_NAME. */
	if ((cflags & ~NBD_CFLAGS_KNOWN) != 0)
		return handshake_fail(c, -EPROTO);
	c->no_zeroes = (cflags & NBD_FLAG_C_NO_ZEROES) != 0;
	c->phase = NBD_PHASE_OPTIONS;
	c->in_state = NBD_IN_OPT_HDR;
	c->hdr_have = 0;
	return 0;
}

/* An option header is complete. */
static int
handshake_opt_hdr(struct nbd_conn *c)
{
	const struct nbd_wire_opt *h = (const struct nbd_wire_opt *)c->hdr;
	static const char too_big[] = "option data too long";
	int rc;

	if (nbd_get64(h->magic) != NBD_MAGIC_OPT)
		return handshake_fail(c, -EPROTO);
	c->opt = nbd_get32(h->option);
	c->opt_len = nbd_get32(h->length);
	c->opt_have = 0;
	c->hdr_have = 0;
	if (c->opt_len > c->opt_max) {
		/* Answered, so that the client learns why; then closed rather
		 * than read, since a client can declare up to 4 GiB. */
		rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_ERR_TOO_BIG, sizeof(too_big) - 1);
		if (rc == 0)
			rc = nbd_out_append(c, too_big, sizeof(too_big) - 1);
		return handshake_fail(c, rc < 0 ? rc : -EMSGSIZE);
	}
	c->opt_keep = nbd_option_keeps_data(c->opt);
	if (c->opt_keep && c->opt_len > c->opt_buf_cap) {
		uint8_t *b = realloc(c->opt_buf, c->opt_len);

		if (b == NULL)
			return handshake_fail(c, -ENOMEM);
		c->opt_buf = b;
		c->opt_buf_cap = c->opt_len;
	}
	c->in_state = NBD_IN_OPT_DATA;
	return 0;
}

/* An option's data is complete: act on it. */
static int
handshake_opt_done(struct nbd_conn *c)
{
	int rc;

	c->in_state = NBD_IN_OPT_HDR;
	rc = nbd_option_handle(c);
	if (rc < 0)
		return rc;
	if (c->phase != NBD_PHASE_OPTIONS) {
		/* The option buffer is not needed any more. */
		free(c->opt_buf);
		c->opt_buf = NULL;
		c->opt_buf_cap = 0;
	}
	return 0;
}

ssize_t
nbd_conn_input(struct nbd_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used = 0, n;
	int rc;

	if (c == NULL || (data == NULL && len > 0))
		return -EINVAL;
	if (c->phase != NBD_PHASE_GREETING && c->phase != NBD_PHASE_OPTIONS)
		return -EINVAL;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;

	while (c->phase == NBD_PHASE_GREETING || c->phase == NBD_PHASE_OPTIONS) {
		switch (c->in_state) {
		case NBD_IN_CFLAGS:
			if (used == len)
				return (ssize_t)used;
			n = sizeof(struct nbd_wire_cflags) - c->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(c->hdr + c->hdr_have, p + used, n);
			c->hdr_have += (uint32_t)n;
			used += n;
			if (c->hdr_have == sizeof(struct nbd_wire_cflags)) {
				rc = handshake_cflags(c);
				if (rc < 0)
					return rc;
			}
			break;
		case NBD_IN_OPT_HDR:
			/* Between options, a client that sends without reading
			 * waits until its replies have gone. */
			if (c->hdr_have == 0 && nbd_out_pending(c) > NBD_OUTPUT_HIGH)
				return (ssize_t)used;
			if (used == len)
				return (ssize_t)used;
			n = sizeof(struct nbd_wire_opt) - c->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(c->hdr + c->hdr_have, p + used, n);
			c->hdr_have += (uint32_t)n;
			used += n;
			if (c->hdr_have == sizeof(struct nbd_wire_opt)) {
				rc = handshake_opt_hdr(c);
				if (rc < 0)
					return rc;
			}
			break;
		case NBD_IN_OPT_DATA:
			n = c->opt_len - c->opt_have;
			if (n > len - used)
				n = len - used;
			if (c->opt_keep && n > 0)
				memcpy(c->opt_buf + c->opt_have, p + used, n);
			c->opt_have += (uint32_t)n;
			used += n;
			if (c->opt_have == c->opt_len) {
				rc = handshake_opt_done(c);
				if (rc < 0)
					return rc;
			} else if (used == len) {
				return (ssize_t)used;
			}
			break;
		}
	}
	return (ssize_t)used;
}
