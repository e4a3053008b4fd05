/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rules a request must follow, in one place: the server applies them
 * to everything that arrives before the application sees it, the client
 * to what it is asked to send (so that its caller hears of a mistake at
 * once). Also errno <-> wire code, the one translation both sides use.
 */
#include <errno.h>
#include <stdbool.h>

#include "bs_wire.h"

static bool
pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

int
bs_info_check(const struct bulk_bs_info *i)
{
	if (i->size == 0 || !pow2(i->block_min) || i->block_pref == 0 || i->block_max == 0 ||
	    i->block_pref % i->block_min != 0 || i->block_max % i->block_min != 0 ||
	    i->size % i->block_min != 0 || (i->flags & ~BULK_BS_FLAG_MASK) != 0 ||
	    i->max_buffers == 0 || i->max_buffers > BULK_POOL_MAX_BUFFERS)
		return -EPROTO;
	return 0;
}

int
bs_req_check(const struct bulk_bs_info *info, const struct bs_meta *m, uint32_t payload,
	     uint32_t buf_size)
{
	uint64_t end;

	if (m->reply || (m->flags & ~BULK_BS_CMD_MASK) != 0)
		return -EINVAL;
	switch (m->op) {
	case BULK_BS_OP_READ:
	case BULK_BS_OP_WRITE:
		break;
	case BULK_BS_OP_FLUSH:
		/* A flush names no range and takes no flag. */
		if (m->offset != 0 || m->length != 0 || m->flags != 0)
			return -EINVAL;
		return 0;
	case BULK_BS_OP_TRIM:
		if (!(info->flags & BULK_BS_FLAG_TRIM))
			return -EINVAL;
		break;
	case BULK_BS_OP_WRITE_ZEROES:
		if (!(info->flags & BULK_BS_FLAG_WRITE_ZEROES))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (m->length == 0 || m->offset % info->block_min != 0 || m->length % info->block_min != 0)
		return -EINVAL;
	if (m->op != BULK_BS_OP_READ && (info->flags & BULK_BS_FLAG_READ_ONLY))
		return -EPERM;
	if ((m->flags & BULK_BS_CMD_FUA) && (m->op == BULK_BS_OP_READ || !(info->flags & BULK_BS_FLAG_FUA)))
		return m->op == BULK_BS_OP_READ ? -EINVAL : -ENOTSUP;
	if (m->op == BULK_BS_OP_READ || m->op == BULK_BS_OP_WRITE) {
		if (m->length > info->block_max || m->length > buf_size)
			return -EOVERFLOW;
		if (m->op == BULK_BS_OP_WRITE && payload != m->length)
			return -EINVAL;
	}
	/* offset + length without overflow: both are checked against size. */
	end = m->offset + m->length;
	if (m->offset > info->size || end < m->offset || end > info->size)
		return -ENOSPC;
	return 0;
}

uint32_t
bs_wire_err_from_errno(int err)
{
	switch (err) {
	case 0:
		return BS_WERR_OK;
	case -EPERM:
		return BS_WERR_PERM;
	case -ENOENT:
		return BS_WERR_NOENT;
	case -ENOMEM:
		return BS_WERR_NOMEM;
	case -EBUSY:
		return BS_WERR_BUSY;
	case -EINVAL:
		return BS_WERR_INVAL;
	case -ENOSPC:
		return BS_WERR_NOSPC;
	case -ERANGE:
		return BS_WERR_RANGE;
	case -EPROTO:
		return BS_WERR_PROTO;
	case -EOVERFLOW:
		return BS_WERR_OVERFLOW;
	case -ENOTSUP:
		return BS_WERR_NOTSUP;
	case -EPROTONOSUPPORT:
		return BS_WERR_PROTONOSUPPORT;
	case -ENOTCONN:
		return BS_WERR_NOTCONN;
	case -ESHUTDOWN:
		return BS_WERR_SHUTDOWN;
	case -ETIMEDOUT:
		return BS_WERR_TIMEDOUT;
	default:
		return BS_WERR_IO;
	}
}

int
bs_wire_err_to_errno(uint32_t code)
{
	switch (code) {
	case BS_WERR_OK:
		return 0;
	case BS_WERR_PERM:
		return -EPERM;
	case BS_WERR_NOENT:
		return -ENOENT;
	case BS_WERR_NOMEM:
		return -ENOMEM;
	case BS_WERR_BUSY:
		return -EBUSY;
	case BS_WERR_INVAL:
		return -EINVAL;
	case BS_WERR_NOSPC:
		return -ENOSPC;
	case BS_WERR_RANGE:
		return -ERANGE;
	case BS_WERR_PROTO:
		return -EPROTO;
	case BS_WERR_OVERFLOW:
		return -EOVERFLOW;
	case BS_WERR_NOTSUP:
		return -ENOTSUP;
	case BS_WERR_PROTONOSUPPORT:
		return -EPROTONOSUPPORT;
	case BS_WERR_NOTCONN:
		return -ENOTCONN;
	case BS_WERR_SHUTDOWN:
		return -ESHUTDOWN;
	case BS_WERR_TIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

const char *
bulk_bs_op_name(unsigned op)
{
	switch (op) {
	case BULK_BS_OP_READ:
		return "read";
	case BULK_BS_OP_WRITE:
		return "write";
	case BULK_BS_OP_FLUSH:
		return "flush";
	case BULK_BS_OP_TRIM:
		return "trim";
	case BULK_BS_OP_WRITE_ZEROES:
		return "write-zeroes";
	default:
		return "?";
	}
}
