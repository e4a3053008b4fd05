/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replies, built into the caller's buffers. Which framing is used
 * (simple, structured, extended) follows from the connection, so that a
 * caller cannot send a structured chunk to a client that did not ask for
 * them, or a simple reply to one that negotiated extended headers. Data
 * never passes through here: a read's header is built here and its data
 * sent by the caller from its own buffer.
 */
#include <errno.h>
#include <string.h>

#include "nbd_internal.h"

uint32_t
nbd_errno_to_wire(int err, uint16_t cmd_flags)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return NBD_SUCCESS;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case EIO:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
	case EOPNOTSUPP:
#endif
		/* Only a fast zero may fail with ENOTSUP (doc/proto.md). */
		return (cmd_flags & NBD_CMD_FLAG_FAST_ZERO) ? NBD_ENOTSUP : NBD_EINVAL;
	case EOVERFLOW:
		/* ... and only an unfragmented read with EOVERFLOW. */
		return (cmd_flags & NBD_CMD_FLAG_DF) ? NBD_EOVERFLOW : NBD_EINVAL;
	default:
		return NBD_EINVAL;
	}
}

/* Size of a chunk header in this connection's mode. */
static size_t
chunk_hdr_size(const struct nbd_conn *c)
{
	return c->mode == NBD_REPLY_EXTENDED ? sizeof(struct nbd_wire_extended_reply)
					     : sizeof(struct nbd_wire_structured_reply);
}

/* A structured or extended chunk header with @p len payload bytes to
 * follow; the caller checked the room. @return its size. */
static size_t
chunk_hdr(const struct nbd_conn *c, const struct nbd_request *req, uint16_t flags, uint16_t type,
	  uint64_t len, uint8_t *b)
{
	if (c->mode == NBD_REPLY_EXTENDED) {
		struct nbd_wire_extended_reply *h = (struct nbd_wire_extended_reply *)b;

		nbd_put32(h->magic, NBD_MAGIC_EXTENDED);
		nbd_put16(h->flags, flags);
		nbd_put16(h->type, type);
		nbd_put64(h->cookie, req->cookie);
		nbd_put64(h->offset, req->offset);
		nbd_put64(h->length, len);
		return sizeof(*h);
	} else {
		struct nbd_wire_structured_reply *h = (struct nbd_wire_structured_reply *)b;

		nbd_put32(h->magic, NBD_MAGIC_STRUCTURED);
		nbd_put16(h->flags, flags);
		nbd_put16(h->type, type);
		nbd_put64(h->cookie, req->cookie);
		nbd_put32(h->length, (uint32_t)len);
		return sizeof(*h);
	}
}

static size_t
simple_hdr(const struct nbd_request *req, uint32_t error, uint8_t *b)
{
	struct nbd_wire_simple_reply *h = (struct nbd_wire_simple_reply *)b;

	nbd_put32(h->magic, NBD_MAGIC_SIMPLE);
	nbd_put32(h->error, error);
	nbd_put64(h->cookie, req->cookie);
	return sizeof(*h);
}

/* Whether [off, off + len) lies inside the request's range. */
static bool
inside(const struct nbd_request *req, uint64_t off, uint64_t len)
{
	return off >= req->offset && off - req->offset <= req->len &&
	       len <= req->len - (off - req->offset);
}

/* How much of @p msg to send: at most NBD_REPLY_MSG_MAX bytes, not
 * splitting a UTF-8 sequence. */
static size_t
msg_len(const char *msg)
{
	size_t n;

	if (msg == NULL)
		return 0;
	n = strnlen(msg, NBD_REPLY_MSG_MAX + 1);
	if (n > NBD_REPLY_MSG_MAX) {
		n = NBD_REPLY_MSG_MAX;
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
	}
	return n;
}

ssize_t
nbd_reply_ok(const struct nbd_conn *c, const struct nbd_request *req, void *buf, size_t cap)
{
	if (c == NULL || req == NULL || buf == NULL)
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE) {
		/* A simple read reply is followed by its data. */
		if (req->type == NBD_CMD_READ && req->len != 0)
			return -EINVAL;
		if (cap < sizeof(struct nbd_wire_simple_reply))
			return -ENOBUFS;
		return (ssize_t)simple_hdr(req, NBD_SUCCESS, buf);
	}
	if (cap < chunk_hdr_size(c))
		return -ENOBUFS;
	return (ssize_t)chunk_hdr(c, req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0, buf);
}

/* An error chunk: error, message, then @p tail bytes at the end. */
static ssize_t
error_chunk(const struct nbd_conn *c, const struct nbd_request *req, uint16_t type,
	    uint32_t nbd_error, const char *msg, bool done, const void *tail, size_t tail_len,
	    uint8_t *b, size_t cap)
{
	struct nbd_wire_error e;
	size_t m = msg_len(msg);
	size_t hs = chunk_hdr_size(c);
	size_t plen = sizeof(e) + m + tail_len;

	if (cap < hs + plen)
		return -ENOBUFS;
	chunk_hdr(c, req, done ? NBD_REPLY_FLAG_DONE : 0, type, plen, b);
	nbd_put32(e.error, nbd_error);
	nbd_put16(e.msg_len, (uint16_t)m);
	memcpy(b + hs, &e, sizeof(e));
	if (m > 0)
		memcpy(b + hs + sizeof(e), msg, m);
	if (tail_len > 0)
		memcpy(b + hs + sizeof(e) + m, tail, tail_len);
	return (ssize_t)(hs + plen);
}

ssize_t
nbd_reply_error(const struct nbd_conn *c, const struct nbd_request *req, uint32_t nbd_error,
		const char *msg, void *buf, size_t cap)
{
	if (c == NULL || req == NULL || buf == NULL || nbd_error == NBD_SUCCESS)
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE) {
		if (cap < sizeof(struct nbd_wire_simple_reply))
			return -ENOBUFS;
		return (ssize_t)simple_hdr(req, nbd_error, buf);
	}
	return error_chunk(c, req, NBD_REPLY_TYPE_ERROR, nbd_error, msg, true, NULL, 0, buf, cap);
}

ssize_t
nbd_reply_error_offset(const struct nbd_conn *c, const struct nbd_request *req, uint32_t nbd_error,
		       uint64_t offset, const char *msg, bool done, void *buf, size_t cap)
{
	struct nbd_wire_error_offset_tail t;

	if (c == NULL || req == NULL || buf == NULL || nbd_error == NBD_SUCCESS)
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE)
		return -EPROTO;
	switch (req->type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
	case NBD_CMD_CACHE:
	case NBD_CMD_WRITE_ZEROES:
	case NBD_CMD_BLOCK_STATUS:
		break;
	default:
		return -EINVAL;
	}
	if (offset < req->offset || offset - req->offset >= req->len)
		return -EINVAL;
	nbd_put64(t.offset, offset);
	return error_chunk(c, req, NBD_REPLY_TYPE_ERROR_OFFSET, nbd_error, msg, done, &t, sizeof(t),
			   buf, cap);
}

ssize_t
nbd_reply_read_data(const struct nbd_conn *c, const struct nbd_request *req, uint64_t offset,
		    uint64_t len, bool done, void *buf, size_t cap)
{
	struct nbd_wire_offset_data d;
	size_t hs;

	if (c == NULL || req == NULL || buf == NULL || req->type != NBD_CMD_READ || len == 0 ||
	    !inside(req, offset, len))
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE) {
		/* All of it, at once, after one header. */
		if (offset != req->offset || len != req->len)
			return -EINVAL;
		if (cap < sizeof(struct nbd_wire_simple_reply))
			return -ENOBUFS;
		return (ssize_t)simple_hdr(req, NBD_SUCCESS, buf);
	}
	/* The chunk's 32-bit length holds the offset too. */
	if (c->mode == NBD_REPLY_STRUCTURED && len > UINT32_MAX - sizeof(d))
		return -EINVAL;
	hs = chunk_hdr_size(c);
	if (cap < hs + sizeof(d))
		return -ENOBUFS;
	chunk_hdr(c, req, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_DATA,
		  sizeof(d) + len, buf);
	nbd_put64(d.offset, offset);
	memcpy((uint8_t *)buf + hs, &d, sizeof(d));
	return (ssize_t)(hs + sizeof(d));
}

ssize_t
nbd_reply_read_hole(const struct nbd_conn *c, const struct nbd_request *req, uint64_t offset,
		    uint64_t len, bool done, void *buf, size_t cap)
{
	struct nbd_wire_offset_hole h;
	size_t hs;

	if (c == NULL || req == NULL || buf == NULL || req->type != NBD_CMD_READ)
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE)
		return -EPROTO;
	/* With DF the zeroes go as data, in the one content chunk. */
	if (len == 0 || len > UINT32_MAX || (req->flags & NBD_CMD_FLAG_DF) ||
	    !inside(req, offset, len))
		return -EINVAL;
	hs = chunk_hdr_size(c);
	if (cap < hs + sizeof(h))
		return -ENOBUFS;
	chunk_hdr(c, req, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_HOLE, sizeof(h),
		  buf);
	nbd_put64(h.offset, offset);
	nbd_put32(h.length, (uint32_t)len);
	memcpy((uint8_t *)buf + hs, &h, sizeof(h));
	return (ssize_t)(hs + sizeof(h));
}

ssize_t
nbd_reply_block_status(const struct nbd_conn *c, const struct nbd_request *req,
		       const struct nbd_extent *ext, size_t n, bool done, size_t *used, void *buf,
		       size_t cap)
{
	const bool wide = c != NULL && c->mode == NBD_REPLY_EXTENDED;
	const size_t esz =
		wide ? sizeof(struct nbd_wire_extent_ext) : sizeof(struct nbd_wire_extent);
	const size_t bsz = wide ? sizeof(struct nbd_wire_block_status_ext)
				: sizeof(struct nbd_wire_block_status);
	uint8_t *b = buf;
	size_t hs, room, k = 0, i, at;
	uint64_t covered = 0, l;
	uint32_t lmax;
	bool cut;

	if (used != NULL)
		*used = 0;
	if (c == NULL || req == NULL || buf == NULL || ext == NULL || n == 0 ||
	    req->type != NBD_CMD_BLOCK_STATUS)
		return -EINVAL;
	if (c->mode == NBD_REPLY_SIMPLE || !c->meta_active)
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (ext[i].length == 0)
			return -EINVAL;
	hs = chunk_hdr_size(c);
	if (cap < hs + bsz + esz)
		return -ENOBUFS;
	room = (cap - hs - bsz) / esz;
	if (room > NBD_EXTENTS_MAX)
		room = NBD_EXTENTS_MAX;
	/* The largest 32-bit extent that keeps the next one aligned. */
	lmax = (uint32_t)(UINT32_MAX / c->exp.block_min * c->exp.block_min);

	at = hs + bsz;
	for (i = 0; i < n && k < room; i++) {
		l = ext[i].length;
		cut = false;
		/* REQ_ONE: one extent, no longer than the request. */
		if ((req->flags & NBD_CMD_FLAG_REQ_ONE) && req->len > 0 && l > req->len)
			l = req->len;
		if (!wide && l > lmax) {
			l = lmax;
			cut = true; /* what follows would not start where it says */
		}
		if (wide) {
			nbd_put64(b + at, l);
			nbd_put64(b + at + 8, ext[i].flags);
		} else {
			nbd_put32(b + at, (uint32_t)l);
			nbd_put32(b + at + 4, ext[i].flags);
		}
		at += esz;
		k++;
		/* No extent after the one that reaches the request's end. */
		if ((req->flags & NBD_CMD_FLAG_REQ_ONE) || cut || l >= req->len - covered)
			break;
		covered += l;
	}
	chunk_hdr(c, req, done ? NBD_REPLY_FLAG_DONE : 0,
		  wide ? NBD_REPLY_TYPE_BLOCK_STATUS_EXT : NBD_REPLY_TYPE_BLOCK_STATUS,
		  bsz + k * esz, b);
	nbd_put32(b + hs, NBD_META_ID_BASE_ALLOCATION);
	if (wide)
		nbd_put32(b + hs + 4, (uint32_t)k);
	if (used != NULL)
		*used = k;
	return (ssize_t)at;
}

const char *
nbd_cmd_name(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:
		return "NBD_CMD_READ";
	case NBD_CMD_WRITE:
		return "NBD_CMD_WRITE";
	case NBD_CMD_DISC:
		return "NBD_CMD_DISC";
	case NBD_CMD_FLUSH:
		return "NBD_CMD_FLUSH";
	case NBD_CMD_TRIM:
		return "NBD_CMD_TRIM";
	case NBD_CMD_CACHE:
		return "NBD_CMD_CACHE";
	case NBD_CMD_WRITE_ZEROES:
		return "NBD_CMD_WRITE_ZEROES";
	case NBD_CMD_BLOCK_STATUS:
		return "NBD_CMD_BLOCK_STATUS";
	default:
		return "unknown";
	}
}
