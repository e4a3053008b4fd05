/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection object: its life, its output queue and what the caller
 * may ask of it. The handshake input is handshake.c's, the options
 * options.c's, requests request.c's, replies reply.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_internal.h"

#define NBD_CONN_FLAGS_ALL (NBD_CONN_NO_STRUCTURED | NBD_CONN_NO_EXTENDED | NBD_CONN_NO_LIST)

int
nbd_conn_create(const struct nbd_server_ops *ops, void *opaque,
		const struct nbd_conn_params *params, struct nbd_conn **out)
{
	struct nbd_wire_greeting g;
	struct nbd_conn *c;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (ops == NULL || ops->lookup == NULL)
		return -EINVAL;
	if (params != NULL && (params->flags & ~NBD_CONN_FLAGS_ALL) != 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->ops = ops;
	c->opaque = opaque;
	if (params != NULL) {
		c->flags = params->flags;
		c->opt_max = params->opt_max;
	}
	if (c->opt_max == 0)
		c->opt_max = NBD_OPT_MAX_DEFAULT;
	c->phase = NBD_PHASE_GREETING;
	c->mode = NBD_REPLY_SIMPLE;
	c->in_state = NBD_IN_CFLAGS;

	nbd_put64(g.magic, NBD_MAGIC_INIT);
	nbd_put64(g.opt_magic, NBD_MAGIC_OPT);
	nbd_put16(g.hflags, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (nbd_out_append(c, &g, sizeof(g)) < 0) {
		nbd_conn_destroy(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void
nbd_conn_destroy(struct nbd_conn *c)
{
	if (c == NULL)
		return;
	free(c->opt_buf);
	free(c->out);
	free(c);
}

size_t
nbd_out_pending(const struct nbd_conn *c)
{
	return c->out_tail - c->out_head;
}

int
nbd_out_append(struct nbd_conn *c, const void *p, size_t n)
{
	size_t pending = nbd_out_pending(c);

	if (n == 0)
		return 0;
	if (c->out_cap - c->out_tail < n) {
		/* Slide what is queued to the front before growing. */
		if (c->out_head > 0) {
			memmove(c->out, c->out + c->out_head, pending);
			c->out_head = 0;
			c->out_tail = pending;
		}
		if (c->out_cap - c->out_tail < n) {
			size_t cap = c->out_cap ? c->out_cap : 256;
			uint8_t *q;

			while (cap - pending < n) {
				if (cap > SIZE_MAX / 2)
					return -ENOMEM;
				cap *= 2;
			}
			q = realloc(c->out, cap);
			if (q == NULL)
				return -ENOMEM;
			c->out = q;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_tail, p, n);
	c->out_tail += n;
	return 0;
}

int
nbd_out_rep_hdr(struct nbd_conn *c, uint32_t opt, uint32_t type, uint32_t len)
{
	struct nbd_wire_opt_reply r;

	nbd_put64(r.magic, NBD_MAGIC_REP);
	nbd_put32(r.option, opt);
	nbd_put32(r.type, type);
	nbd_put32(r.length, len);
	return nbd_out_append(c, &r, sizeof(r));
}

size_t
nbd_conn_output(const struct nbd_conn *c, const void **data)
{
	if (c == NULL) {
		if (data != NULL)
			*data = NULL;
		return 0;
	}
	if (data != NULL)
		*data = c->out + c->out_head;
	return nbd_out_pending(c);
}

int
nbd_conn_output_consume(struct nbd_conn *c, size_t n)
{
	if (c == NULL || n > nbd_out_pending(c))
		return -EINVAL;
	c->out_head += n;
	if (c->out_head == c->out_tail)
		c->out_head = c->out_tail = 0;
	return 0;
}

enum nbd_phase
nbd_conn_phase(const struct nbd_conn *c)
{
	return c != NULL ? c->phase : NBD_PHASE_CLOSED;
}

enum nbd_reply_mode
nbd_conn_reply_mode(const struct nbd_conn *c)
{
	return c != NULL ? c->mode : NBD_REPLY_SIMPLE;
}

const struct nbd_export *
nbd_conn_export(const struct nbd_conn *c)
{
	return c != NULL && c->have_export ? &c->exp : NULL;
}

uint16_t
nbd_conn_tflags(const struct nbd_conn *c)
{
	return c != NULL && c->have_export ? c->tflags : 0;
}

bool
nbd_conn_meta_context(const struct nbd_conn *c, uint32_t *id)
{
	if (c == NULL || !c->meta_active)
		return false;
	if (id != NULL)
		*id = NBD_META_ID_BASE_ALLOCATION;
	return true;
}

size_t
nbd_conn_request_size(const struct nbd_conn *c)
{
	return c != NULL && c->mode == NBD_REPLY_EXTENDED ? sizeof(struct nbd_wire_request_ext)
							  : sizeof(struct nbd_wire_request);
}
