/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <bulk/bulk.h>

static const char *const bulk_err_names[BULK_E_LAST - BULK_EBASE] = {
	[BULK_E_NOT_OWNER - BULK_EBASE] = "domain does not own the buffer",
	[BULK_E_NO_ACCESS - BULK_EBASE] = "domain neither owns nor holds a copy of the buffer",
	[BULK_E_WRONG_DIRECTION - BULK_EBASE] = "operation not allowed in this channel direction",
	[BULK_E_NOT_CONNECTED - BULK_EBASE] = "channel is not connected",
	[BULK_E_POOL_NOT_ASSIGNED - BULK_EBASE] = "pool is not assigned to the channel",
	[BULK_E_POOL_ASSIGNED - BULK_EBASE] = "pool is already assigned (or assignment pending)",
	[BULK_E_POOL_UNKNOWN - BULK_EBASE] = "pool is not in the domain's pool list",
	[BULK_E_POOL_EXISTS - BULK_EBASE] = "a pool with this id already exists in the domain",
	[BULK_E_POOL_IN_USE - BULK_EBASE] = "pool has buffers away or is still assigned",
	[BULK_E_POOL_GEOMETRY - BULK_EBASE] = "pool geometry does not fit the channel",
	[BULK_E_BUFFER_COPIED - BULK_EBASE] = "buffer has copies outstanding",
	[BULK_E_COPY_EXISTS - BULK_EBASE] = "buffer is already copied over this channel",
	[BULK_E_NOT_COPY - BULK_EBASE] = "buffer was not received as a copy on this channel",
	[BULK_E_COPY_REACHABILITY - BULK_EBASE] =
		"release would leave this domain's own copies unreachable",
	[BULK_E_BUFFER_FREE - BULK_EBASE] = "buffer is in its pool's free list",
	[BULK_E_VETOED - BULK_EBASE] = "peer vetoed the pool assignment",
	[BULK_E_TRUST_MISMATCH - BULK_EBASE] = "pool trust level differs from the channel's",
	[BULK_E_TRUST_UNSUPPORTED - BULK_EBASE] = "backend does not support this trust level",
	[BULK_E_EP_IN_USE - BULK_EBASE] = "endpoint already has a channel",
	[BULK_E_EP_NO_CHANNEL - BULK_EBASE] = "remote endpoint has no channel to bind to",
	[BULK_E_ALREADY_BOUND - BULK_EBASE] = "channel is already bound",
	[BULK_E_BIND_MISMATCH - BULK_EBASE] = "bind parameters do not match the creator's",
	[BULK_E_BIND_REFUSED - BULK_EBASE] = "creator refused the bind request",
	[BULK_E_WRONG_DOMAIN - BULK_EBASE] = "object belongs to another domain",
	[BULK_E_DUPLICATE - BULK_EBASE] = "buffer appears twice in one burst",
	[BULK_E_BAD_LENGTH - BULK_EBASE] = "payload length exceeds the buffer size",
	[BULK_E_PEER_GONE - BULK_EBASE] = "peer closed or died",
	[BULK_E_CLOSED - BULK_EBASE] = "channel is closed or tearing down",
	[BULK_E_BAD_DESC - BULK_EBASE] = "received descriptor failed validation",
	[BULK_E_NO_BACKEND - BULK_EBASE] = "backend not built into this library",
	[BULK_E_POOL_FORGED - BULK_EBASE] =
		"peer named a pool this domain knows without proving it is that memory",
	[BULK_E_POOL_LIMIT - BULK_EBASE] = "peer's pools would exceed this channel's pool limits",
	[BULK_E_POOL_NOT_SHAREABLE - BULK_EBASE] =
		"pool memory cannot be mapped by another process: allocate it with BULK_MEM_MEMFD",
};

const char *
bulk_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	if (err >= BULK_EBASE && err < BULK_E_LAST) {
		const char *s = bulk_err_names[err - BULK_EBASE];
		return s ? s : "unknown libbulk error";
	}
	if (err < BULK_EBASE)
		return strerror(err); /* glibc: static strings for known codes */
	return "unknown libbulk error";
}

const char *
bulk_buffer_state_name(enum bulk_buffer_state s)
{
	switch (s) {
	case BULK_BUFFER_INVALID: return "INVALID";
	case BULK_BUFFER_READ_ONLY: return "READ_ONLY";
	case BULK_BUFFER_RO_OWNED: return "RO_OWNED";
	case BULK_BUFFER_READ_WRITE: return "READ_WRITE";
	}
	return "?";
}

const char *
bulk_channel_state_name(enum bulk_channel_state s)
{
	static const char *const names[] = {
		"UNINITIALIZED", "INITIALIZED", "BINDING", "BIND_NEGOTIATE",
		"CONNECTED", "TEARDOWN", "CLOSED",
	};
	if ((unsigned)s < sizeof(names) / sizeof(names[0]))
		return names[s];
	return "?";
}
