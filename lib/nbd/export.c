/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Exports: what the caller describes, checked against the protocol's
 * rules once, and turned into the transmission flags a client sees.
 */
#include <errno.h>
#include <string.h>

#include "nbd_internal.h"

static bool
is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

void
nbd_export_defaults(struct nbd_export *exp)
{
	if (exp->block_min == 0)
		exp->block_min = NBD_BLOCK_MIN_DEFAULT;
	if (exp->block_pref == 0)
		exp->block_pref = exp->block_min > NBD_BLOCK_PREF_DEFAULT ? exp->block_min
									  : NBD_BLOCK_PREF_DEFAULT;
	if (exp->block_max == 0)
		exp->block_max = exp->block_pref > NBD_PAYLOAD_MAX_DEFAULT
					 ? exp->block_pref
					 : NBD_PAYLOAD_MAX_DEFAULT;
	if (exp->description != NULL && exp->description[0] == '\0')
		exp->description = NULL;
}

int
nbd_export_check(const struct nbd_export *exp)
{
	struct nbd_export e;
	uint32_t floor;

	if (exp == NULL || exp->name == NULL)
		return -EINVAL;
	if (strnlen(exp->name, NBD_STRING_MAX + 1) > NBD_STRING_MAX)
		return -EINVAL;
	if (exp->description != NULL &&
	    strnlen(exp->description, NBD_STRING_MAX + 1) > NBD_STRING_MAX)
		return -EINVAL;
	if ((exp->caps & ~NBD_EXPORT_CAPS_ALL) != 0)
		return -EINVAL;
	if ((exp->caps & NBD_EXPORT_CAN_FAST_ZERO) && !(exp->caps & NBD_EXPORT_CAN_ZERO))
		return -EINVAL;
	e = *exp;
	nbd_export_defaults(&e);
	/* The size constraints of doc/proto.md, "Size constraints". */
	if (!is_pow2(e.block_min) || e.block_min > NBD_BLOCK_MIN_MAX)
		return -EINVAL;
	floor = e.block_min > 512 ? e.block_min : 512;
	if (!is_pow2(e.block_pref) || e.block_pref < floor)
		return -EINVAL;
	if (e.block_max < e.block_pref)
		return -EINVAL;
	if (e.size > (uint64_t)INT64_MAX)
		return -EOVERFLOW;
	return 0;
}

uint16_t
nbd_export_tflags(const struct nbd_conn *c, const struct nbd_export *exp)
{
	uint32_t caps = exp->caps;
	uint16_t f = NBD_FLAG_HAS_FLAGS;

	if (caps & NBD_EXPORT_READ_ONLY) {
		/* Nothing that writes is offered on a read-only export. */
		f |= NBD_FLAG_READ_ONLY;
		caps &= ~(uint32_t)(NBD_EXPORT_CAN_FUA | NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO |
				    NBD_EXPORT_CAN_FAST_ZERO);
	}
	if (caps & NBD_EXPORT_CAN_FLUSH)
		f |= NBD_FLAG_SEND_FLUSH;
	if (caps & NBD_EXPORT_CAN_FUA)
		f |= NBD_FLAG_SEND_FUA;
	if (caps & NBD_EXPORT_ROTATIONAL)
		f |= NBD_FLAG_ROTATIONAL;
	if (caps & NBD_EXPORT_CAN_TRIM)
		f |= NBD_FLAG_SEND_TRIM;
	if (caps & NBD_EXPORT_CAN_ZERO) {
		f |= NBD_FLAG_SEND_WRITE_ZEROES;
		if (caps & NBD_EXPORT_CAN_FAST_ZERO)
			f |= NBD_FLAG_SEND_FAST_ZERO;
	}
	/* DF only means something to a client that gets chunks. */
	if (c->mode != NBD_REPLY_SIMPLE)
		f |= NBD_FLAG_SEND_DF;
	if (caps & NBD_EXPORT_CAN_MULTI_CONN)
		f |= NBD_FLAG_CAN_MULTI_CONN;
	if (caps & NBD_EXPORT_CAN_CACHE)
		f |= NBD_FLAG_SEND_CACHE;
	return f;
}
