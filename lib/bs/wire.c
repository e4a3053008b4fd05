/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control messages and request meta: bytes to structs and back. The
 * parsers trust nothing: every length is checked against what arrived
 * before a byte is read, strings must fit and be free of NULs and control
 * bytes, addresses must parse, and reserved fields must be zero (so that
 * a later version can use them).
 */
#include <errno.h>
#include <string.h>

#include "bs_wire.h"

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Printable ASCII without blanks: what names and addresses may hold. */
static int
printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

static int
parse_hello(const uint8_t *b, uint32_t len, struct bs_ctrl_msg *m)
{
	const struct bs_wire_hello *h = (const void *)b;
	uint16_t nl;

	if (len < sizeof(*h))
		return -EBADMSG;
	nl = bs_get16(h->name_len);
	if (nl > BULK_BS_EXPORT_NAME_MAX || len != sizeof(*h) + nl ||
	    (bs_get32(h->flags) & ~BS_HELLO_FLAGS_MASK) != 0 || !printable(b + sizeof(*h), nl))
		return -EBADMSG;
	m->u.hello.version = bs_get16(h->version);
	m->u.hello.flags = bs_get32(h->flags);
	memcpy(m->u.hello.name, b + sizeof(*h), nl);
	m->u.hello.name[nl] = '\0';
	return 0;
}

static int
parse_info(const uint8_t *b, uint32_t len, struct bs_ctrl_msg *m)
{
	const struct bs_wire_info *w = (const void *)b;
	struct bulk_bs_info *i = &m->u.info.info;

	if (len != sizeof(*w) || !all_zero(w->rsvd, sizeof(w->rsvd)) ||
	    (bs_get16(w->features) & ~BS_FEAT_MASK) != 0)
		return -EBADMSG;
	if (bs_get16(w->meta_size) != BS_WIRE_META_SIZE ||
	    bs_get16(w->max_channels) == 0 || bs_get16(w->max_channels) > BULK_BS_MAX_CHANNELS)
		return -EBADMSG;
	i->size = bs_get64(w->size);
	i->block_min = bs_get32(w->block_min);
	i->block_pref = bs_get32(w->block_pref);
	i->block_max = bs_get32(w->block_max);
	i->flags = bs_get32(w->flags);
	i->max_buffers = bs_get32(w->max_buffers);
	m->u.info.version = bs_get16(w->version);
	m->u.info.max_channels = bs_get16(w->max_channels);
	m->u.info.features = bs_get16(w->features);
	if (bs_info_check(i) < 0)
		return -EBADMSG;
	return 0;
}

static int
parse_channels(const uint8_t *b, uint32_t len, struct bs_ctrl_msg *m)
{
	const struct bs_wire_channels *c = (const void *)b;
	struct bulk_addr a;
	uint16_t n, cp;

	if (len < sizeof(*c))
		return -EBADMSG;
	n = bs_get16(c->count);
	cp = bs_get16(c->copy);
	if (n == 0 || n > BULK_BS_MAX_CHANNELS || cp > 1 ||
	    len != sizeof(*c) + (size_t)(n + cp) * BS_WIRE_ADDR_LEN ||
	    !all_zero(c->rsvd, sizeof(c->rsvd)))
		return -EBADMSG;
	m->u.channels.count = n;
	m->u.channels.copy = cp;
	for (unsigned k = 0; k < (unsigned)n + cp; k++) {
		const uint8_t *s = b + sizeof(*c) + (size_t)k * BS_WIRE_ADDR_LEN;
		const uint8_t *nul = memchr(s, 0, BS_WIRE_ADDR_LEN);
		size_t sl;

		/* NUL-terminated, NUL-padded: one spelling per address. */
		if (nul == NULL)
			return -EBADMSG;
		sl = (size_t)(nul - s);
		if (!all_zero(nul, BS_WIRE_ADDR_LEN - sl))
			return -EBADMSG;
		memcpy(m->u.channels.addr[k], s, BS_WIRE_ADDR_LEN);
		if (bulk_addr_parse(m->u.channels.addr[k], &a) < 0)
			return -EBADMSG;
	}
	return 0;
}

static int
parse_error(const uint8_t *b, uint32_t len, struct bs_ctrl_msg *m)
{
	const struct bs_wire_error *e = (const void *)b;
	uint16_t ml;

	if (len < sizeof(*e))
		return -EBADMSG;
	ml = bs_get16(e->msg_len);
	if (ml > BS_WIRE_ERRMSG_MAX || len != sizeof(*e) + ml || !all_zero(e->rsvd, sizeof(e->rsvd)))
		return -EBADMSG;
	m->u.error.code = bs_wire_err_to_errno(bs_get32(e->code));
	memcpy(m->u.error.msg, b + sizeof(*e), ml);
	m->u.error.msg[ml] = '\0';
	/* A message is for a human: blanks are fine, control bytes are not. */
	for (unsigned i = 0; i < ml; i++)
		if ((uint8_t)m->u.error.msg[i] < 0x20 || (uint8_t)m->u.error.msg[i] > 0x7e)
			return -EBADMSG;
	return 0;
}

int
bs_wire_ctrl_parse(const uint8_t *buf, size_t len, struct bs_ctrl_msg *m)
{
	const struct bs_wire_hdr *h = (const void *)buf;
	uint32_t blen;
	int rc;

	if (buf == NULL || m == NULL)
		return -EBADMSG;
	/* The magic is checked as soon as its bytes are in: a client that
	 * speaks something else is told at once, not after a full header. */
	for (size_t i = 0; i < len && i < 4; i++)
		if (buf[i] != (uint8_t)(BS_WIRE_MAGIC >> (8 * i)))
			return -EBADMSG;
	if (len < sizeof(*h))
		return 0;
	if (h->version != BS_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	blen = bs_get32(h->length);
	if (blen > BS_WIRE_BODY_MAX || !all_zero(h->flags, sizeof(h->flags)))
		return -EBADMSG;
	if (h->type == 0 || h->type >= BS_MSG_LAST)
		return -ENOMSG;
	if (len < sizeof(*h) + blen)
		return 0;
	memset(m, 0, sizeof(*m));
	m->type = (enum bs_wire_type)h->type;
	buf += sizeof(*h);
	switch (m->type) {
	case BS_MSG_HELLO:
		rc = parse_hello(buf, blen, m);
		break;
	case BS_MSG_INFO:
		rc = parse_info(buf, blen, m);
		break;
	case BS_MSG_CHANNELS:
		rc = parse_channels(buf, blen, m);
		break;
	case BS_MSG_ERROR:
		rc = parse_error(buf, blen, m);
		break;
	case BS_MSG_READY:
	case BS_MSG_DISCONNECT:
	case BS_MSG_SHUTDOWN:
		rc = blen == 0 ? 0 : -EBADMSG;
		break;
	default:
		rc = -ENOMSG;
		break;
	}
	if (rc < 0)
		return rc;
	return (int)(sizeof(*h) + blen);
}

int
bs_wire_ctrl_encode(const struct bs_ctrl_msg *m, uint8_t *buf, size_t room)
{
	struct bs_wire_hdr *h = (void *)buf;
	uint8_t *b = buf + sizeof(*h);
	size_t blen = 0;

	if (m == NULL || buf == NULL || room < BS_WIRE_MSG_MAX)
		return -EINVAL;
	memset(buf, 0, BS_WIRE_MSG_MAX);
	switch (m->type) {
	case BS_MSG_HELLO: {
		struct bs_wire_hello *w = (void *)b;
		size_t nl = strnlen(m->u.hello.name, sizeof(m->u.hello.name));

		if (nl > BULK_BS_EXPORT_NAME_MAX)
			return -EINVAL;
		if ((m->u.hello.flags & ~BS_HELLO_FLAGS_MASK) != 0)
			return -EINVAL;
		bs_put16(w->version, m->u.hello.version);
		bs_put32(w->flags, m->u.hello.flags);
		bs_put16(w->name_len, (uint16_t)nl);
		memcpy(b + sizeof(*w), m->u.hello.name, nl);
		blen = sizeof(*w) + nl;
		break;
	}
	case BS_MSG_INFO: {
		struct bs_wire_info *w = (void *)b;
		const struct bulk_bs_info *i = &m->u.info.info;

		if (m->u.info.max_channels == 0 || m->u.info.max_channels > BULK_BS_MAX_CHANNELS ||
		    (m->u.info.features & ~BS_FEAT_MASK) != 0)
			return -EINVAL;

		bs_put64(w->size, i->size);
		bs_put32(w->block_min, i->block_min);
		bs_put32(w->block_pref, i->block_pref);
		bs_put32(w->block_max, i->block_max);
		bs_put32(w->flags, i->flags);
		bs_put32(w->max_buffers, i->max_buffers);
		bs_put16(w->meta_size, BS_WIRE_META_SIZE);
		bs_put16(w->max_channels, m->u.info.max_channels);
		bs_put16(w->version, m->u.info.version);
		bs_put16(w->features, m->u.info.features);
		blen = sizeof(*w);
		break;
	}
	case BS_MSG_CHANNELS: {
		struct bs_wire_channels *w = (void *)b;
		uint16_t n = m->u.channels.count, cp = m->u.channels.copy;

		if (n == 0 || n > BULK_BS_MAX_CHANNELS || cp > 1)
			return -EINVAL;
		bs_put16(w->count, n);
		bs_put16(w->copy, cp);
		for (unsigned k = 0; k < (unsigned)n + cp; k++) {
			size_t sl = strnlen(m->u.channels.addr[k], BS_WIRE_ADDR_LEN);

			if (sl >= BS_WIRE_ADDR_LEN)
				return -EINVAL;
			memcpy(b + sizeof(*w) + (size_t)k * BS_WIRE_ADDR_LEN, m->u.channels.addr[k], sl);
		}
		blen = sizeof(*w) + (size_t)(n + cp) * BS_WIRE_ADDR_LEN;
		break;
	}
	case BS_MSG_ERROR: {
		struct bs_wire_error *w = (void *)b;
		size_t ml = strnlen(m->u.error.msg, sizeof(m->u.error.msg));

		if (ml > BS_WIRE_ERRMSG_MAX)
			return -EINVAL;
		bs_put32(w->code, bs_wire_err_from_errno(m->u.error.code));
		bs_put16(w->msg_len, (uint16_t)ml);
		memcpy(b + sizeof(*w), m->u.error.msg, ml);
		blen = sizeof(*w) + ml;
		break;
	}
	case BS_MSG_READY:
	case BS_MSG_DISCONNECT:
	case BS_MSG_SHUTDOWN:
		break;
	default:
		return -EINVAL;
	}
	bs_put32((uint8_t *)h->magic, BS_WIRE_MAGIC);
	h->version = BS_WIRE_VERSION;
	h->type = (uint8_t)m->type;
	bs_put32(h->length, (uint32_t)blen);
	return (int)(sizeof(*h) + blen);
}

int
bs_wire_meta_decode(const void *meta, size_t len, struct bs_meta *m)
{
	const struct bs_wire_meta *w = meta;

	if (meta == NULL || len != BS_WIRE_META_SIZE || w->version != BS_WIRE_VERSION ||
	    bs_get32(w->magic) != BS_WIRE_META_MAGIC)
		return -EBADMSG;
	m->op = w->op & (uint8_t)~BS_WIRE_REPLY;
	m->reply = (w->op & BS_WIRE_REPLY) != 0;
	m->flags = bs_get16(w->flags);
	m->length = bs_get32(w->length);
	m->id = bs_get64(w->id);
	m->offset = bs_get64(w->offset);
	m->status = bs_wire_err_to_errno(bs_get32(w->status));
	return 0;
}

void
bs_wire_meta_encode(const struct bs_meta *m, void *meta)
{
	struct bs_wire_meta *w = meta;

	w->version = BS_WIRE_VERSION;
	w->op = (uint8_t)(m->op | (m->reply ? BS_WIRE_REPLY : 0));
	bs_put16(w->flags, m->flags);
	bs_put32(w->length, m->length);
	bs_put64(w->id, m->id);
	bs_put64(w->offset, m->offset);
	bs_put32(w->status, bs_wire_err_from_errno(m->status));
	bs_put32(w->magic, BS_WIRE_META_MAGIC);
}
