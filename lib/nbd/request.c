/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests: decode one header, then validate it against the protocol and
 * the export. A request that breaks a rule is not the connection's end:
 * it gets an NBD error (after its payload, if any, has been read and
 * dropped). Only what makes the stream unreadable closes: a bad magic, or
 * a payload too large to be worth reading.
 *
 * Nothing is allocated here, least of all for a payload: the caller is
 * told how many bytes follow and whether they are data (for its own
 * buffer) or to be dropped, and only after their size has been checked.
 */
#include <errno.h>
#include <string.h>

#include "nbd_internal.h"

static ssize_t
req_fail(struct nbd_conn *c, struct nbd_request *req, int err, const char *why)
{
	c->phase = NBD_PHASE_CLOSED;
	req->why = why;
	return err;
}

/* Refuse the request with @p error. @return false, for validate(). */
static bool
reject(struct nbd_request *req, uint32_t error, const char *why)
{
	req->error = error;
	req->why = why;
	if (req->payload == NBD_PAYLOAD_DATA)
		req->payload = NBD_PAYLOAD_DISCARD;
	return false;
}

static bool
has_range(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
	case NBD_CMD_CACHE:
	case NBD_CMD_WRITE_ZEROES:
	case NBD_CMD_BLOCK_STATUS:
		return true;
	default:
		return false;
	}
}

/* The checks in the order nbd.h lists them; the first that fails wins.
 * @return whether the request is valid. */
static bool
validate(const struct nbd_conn *c, struct nbd_request *req)
{
	const struct nbd_export *e = &c->exp;
	const bool ext = c->mode == NBD_REPLY_EXTENDED;
	const uint16_t tf = c->tflags;
	uint32_t known = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_DF |
			 NBD_CMD_FLAG_REQ_ONE | NBD_CMD_FLAG_FAST_ZERO;
	const uint16_t f = req->flags;
	const uint16_t t = req->type;
	uint64_t end;

	if (ext)
		known |= NBD_CMD_FLAG_PAYLOAD_LEN;
	if (t > NBD_CMD_BLOCK_STATUS)
		return reject(req, NBD_EINVAL, "unknown command");
	if (f & ~known)
		return reject(req, NBD_EINVAL, "unknown command flag");
	/* FUA is valid on every command once the export offers it. */
	if ((f & NBD_CMD_FLAG_FUA) && !(tf & NBD_FLAG_SEND_FUA))
		return reject(req, NBD_EINVAL, "FUA not offered");
	if ((f & NBD_CMD_FLAG_NO_HOLE) && t != NBD_CMD_WRITE_ZEROES)
		return reject(req, NBD_EINVAL, "NO_HOLE outside WRITE_ZEROES");
	if ((f & NBD_CMD_FLAG_FAST_ZERO) &&
	    (t != NBD_CMD_WRITE_ZEROES || !(tf & NBD_FLAG_SEND_FAST_ZERO)))
		return reject(req, NBD_EINVAL, "FAST_ZERO not valid here");
	if ((f & NBD_CMD_FLAG_DF) && (t != NBD_CMD_READ || !(tf & NBD_FLAG_SEND_DF)))
		return reject(req, NBD_EINVAL, "DF not valid here");
	if ((f & NBD_CMD_FLAG_REQ_ONE) && t != NBD_CMD_BLOCK_STATUS)
		return reject(req, NBD_EINVAL, "REQ_ONE outside BLOCK_STATUS");
	if (ext && t == NBD_CMD_WRITE && !(f & NBD_CMD_FLAG_PAYLOAD_LEN))
		return reject(req, NBD_EINVAL, "extended write without PAYLOAD_LEN");
	if (ext && t != NBD_CMD_WRITE && (f & NBD_CMD_FLAG_PAYLOAD_LEN))
		return reject(req, NBD_EINVAL, "command takes no payload");

	switch (t) {
	case NBD_CMD_FLUSH:
		if (!(tf & NBD_FLAG_SEND_FLUSH))
			return reject(req, NBD_EINVAL, "FLUSH not offered");
		break;
	case NBD_CMD_TRIM:
		if (!(tf & NBD_FLAG_SEND_TRIM) && !(tf & NBD_FLAG_READ_ONLY))
			return reject(req, NBD_EINVAL, "TRIM not offered");
		break;
	case NBD_CMD_WRITE_ZEROES:
		if (!(tf & NBD_FLAG_SEND_WRITE_ZEROES) && !(tf & NBD_FLAG_READ_ONLY))
			return reject(req, NBD_EINVAL, "WRITE_ZEROES not offered");
		break;
	case NBD_CMD_CACHE:
		if (!(tf & NBD_FLAG_SEND_CACHE))
			return reject(req, NBD_EINVAL, "CACHE not offered");
		break;
	case NBD_CMD_BLOCK_STATUS:
		if (!c->meta_active)
			return reject(req, NBD_EINVAL, "no metadata context negotiated");
		break;
	default:
		break;
	}
	if ((tf & NBD_FLAG_READ_ONLY) &&
	    (t == NBD_CMD_WRITE || t == NBD_CMD_TRIM || t == NBD_CMD_WRITE_ZEROES))
		return reject(req, NBD_EPERM, "read-only export");
	if (t == NBD_CMD_FLUSH && (req->offset != 0 || req->len != 0))
		return reject(req, NBD_EINVAL, "FLUSH with an offset or length");
	if (!has_range(t))
		return true;
	if (req->offset > e->size || req->len > e->size - req->offset)
		return reject(req,
			      t == NBD_CMD_WRITE || t == NBD_CMD_WRITE_ZEROES ? NBD_ENOSPC
									      : NBD_EINVAL,
			      "beyond the end of the export");
	end = req->offset + req->len;
	/* An export whose size is not a multiple of block_min can still be
	 * reached to its last byte. */
	if (e->block_min > 1 &&
	    (req->offset % e->block_min != 0 || (req->len % e->block_min != 0 && end != e->size)))
		return reject(req, NBD_EINVAL, "not aligned to the minimum block size");
	if (t == NBD_CMD_READ && req->len > e->block_max)
		return reject(req, c->mode == NBD_REPLY_SIMPLE ? NBD_EINVAL : NBD_EOVERFLOW,
			      "read longer than the maximum payload");
	return true;
}

ssize_t
nbd_request_parse(struct nbd_conn *c, const void *data, size_t len, struct nbd_request *req)
{
	const uint8_t *p = data;
	const bool ext = c != NULL && c->mode == NBD_REPLY_EXTENDED;
	const size_t hsz = nbd_conn_request_size(c);
	uint32_t magic;
	uint64_t length;

	if (c == NULL || req == NULL || (data == NULL && len > 0))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	if (c->phase == NBD_PHASE_CLOSED) {
		req->why = "connection closed";
		return -ESHUTDOWN;
	}
	if (c->phase != NBD_PHASE_TRANSMISSION) {
		req->why = "still in the handshake";
		return -EINVAL;
	}
	if (len < hsz)
		return 0;

	/* Both layouts share magic, flags, type, cookie and offset. */
	magic = nbd_get32(p);
	if (magic != (ext ? NBD_MAGIC_REQUEST_EXT : NBD_MAGIC_REQUEST))
		return req_fail(c, req, -EPROTO, "bad request magic");
	req->flags = nbd_get16(p + offsetof(struct nbd_wire_request, flags));
	req->type = nbd_get16(p + offsetof(struct nbd_wire_request, type));
	req->cookie = nbd_get64(p + offsetof(struct nbd_wire_request, cookie));
	req->offset = nbd_get64(p + offsetof(struct nbd_wire_request, offset));
	if (ext)
		length = nbd_get64(p + offsetof(struct nbd_wire_request_ext, length));
	else
		length = nbd_get32(p + offsetof(struct nbd_wire_request, length));
	req->len = length;

	if (req->type == NBD_CMD_DISC) {
		/* Nothing follows a DISC; what is in flight is still answered. */
		c->phase = NBD_PHASE_CLOSED;
		return (ssize_t)hsz;
	}

	/* What follows the header: a compact write's data, or whatever an
	 * extended header declares with PAYLOAD_LEN. */
	if (ext ? (req->flags & NBD_CMD_FLAG_PAYLOAD_LEN) != 0 : req->type == NBD_CMD_WRITE)
		req->payload_len = length;
	if (req->payload_len > 0) {
		req->payload = NBD_PAYLOAD_DATA;
		if (req->payload_len > c->exp.block_max) {
			/* Up to 32 MiB is not an attack (doc/proto.md, "Size
			 * constraints"): read it, drop it, say no. Beyond, stop. */
			if (req->payload_len > NBD_DISCARD_MAX)
				return req_fail(c, req, -EMSGSIZE, "payload too large");
			(void)reject(req, NBD_EINVAL, "payload above the maximum");
			return (ssize_t)hsz;
		}
	}
	(void)validate(c, req);
	return (ssize_t)hsz;
}
