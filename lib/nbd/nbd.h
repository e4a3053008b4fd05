/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nbd: the server side of the NBD protocol, with no I/O policy.
 *
 * It never touches a socket, a thread or a clock. The caller reads the
 * client's bytes however it likes (epoll, io_uring, a fuzzer) and hands
 * them in; it takes back the bytes to send. Static, not installed; shared
 * by nbs, nbs-proxy and tests/nbd.
 *
 * One struct nbd_conn per client connection:
 *
 *   nbd_conn_create()            the greeting is queued as output
 *   loop while phase is GREETING or OPTIONS:
 *     nbd_conn_input(bytes)      cflags and options; replies are queued
 *     nbd_conn_output()/..._consume()   send what is queued
 *   phase TRANSMISSION: nbd_conn_export() is the export the client chose
 *   loop:
 *     nbd_request_parse(bytes)   one request header: decoded, validated
 *       req.payload_len bytes follow: NBD_PAYLOAD_DATA -> read them into
 *       the caller's own buffer (the write's data); NBD_PAYLOAD_DISCARD ->
 *       read and drop them; then answer req.error if it is not 0
 *     nbd_reply_*(req, buf)      reply headers/chunks into caller buffers;
 *       read data is sent from the caller's buffer after the header
 *   phase CLOSED: send what nbd_conn_output() still holds, then close.
 *
 * Exports come from the caller through struct nbd_server_ops. The library
 * negotiates fixed newstyle, NBD_OPT_INFO/GO (NBD_INFO_EXPORT, NAME,
 * DESCRIPTION, BLOCK_SIZE), NBD_OPT_LIST, structured replies, the
 * base:allocation metadata context and extended headers (64-bit lengths,
 * 32-byte headers, 64-bit block status).
 *
 * Functions return 0 or a count, or a negative errno.
 */
#ifndef NBD_H
#define NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nbd_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ exports */

/* What an export can do (struct nbd_export.caps). The transmission flags
 * follow from these and from what the client negotiated. */
#define NBD_EXPORT_READ_ONLY	  (1u << 0)
#define NBD_EXPORT_CAN_FLUSH	  (1u << 1)
#define NBD_EXPORT_CAN_FUA	  (1u << 2)
#define NBD_EXPORT_CAN_TRIM	  (1u << 3)
#define NBD_EXPORT_CAN_ZERO	  (1u << 4) /* NBD_CMD_WRITE_ZEROES, NO_HOLE */
#define NBD_EXPORT_CAN_FAST_ZERO  (1u << 5) /* needs CAN_ZERO */
/* Only where a FLUSH on one connection covers writes completed on every
 * other connection to the same export. */
#define NBD_EXPORT_CAN_MULTI_CONN (1u << 6)
#define NBD_EXPORT_CAN_CACHE	  (1u << 7)
#define NBD_EXPORT_ROTATIONAL	  (1u << 8)
#define NBD_EXPORT_BLOCK_STATUS	  (1u << 9) /* offer base:allocation */
#define NBD_EXPORT_CAPS_ALL	  ((1u << 10) - 1)

/*
 * One export as the caller describes it. Zero block sizes mean the
 * protocol's defaults (1, 4096, 32 MiB). The strings are the caller's and
 * must stay valid while a connection uses the export (until
 * nbd_conn_destroy()); the library copies nothing but the numbers.
 */
struct nbd_export {
	const char *name;	 /* canonical name, at most NBD_STRING_MAX bytes */
	const char *description; /* NULL or "": none */
	uint64_t size;		 /* bytes */
	uint32_t caps;		 /* NBD_EXPORT_* */
	uint32_t block_min;	 /* power of 2, <= 65536 */
	uint32_t block_pref;	 /* power of 2, >= max(block_min, 512) */
	uint32_t block_max;	 /* largest payload, >= block_pref */
	void *opaque;		 /* the caller's (its store, say) */
};

/*
 * The caller's exports. Both callbacks get the opaque pointer given to
 * nbd_conn_create().
 */
struct nbd_server_ops {
	/*
	 * Find the export called @p name (NUL-terminated, no NUL inside,
	 * at most NBD_STRING_MAX bytes; "" asks for the default export) and
	 * fill @p exp. Required.
	 * @return 0; -ENOENT (no such export: NBD_REP_ERR_UNKNOWN);
	 *   -EACCES or -EPERM (NBD_REP_ERR_POLICY); -ESHUTDOWN
	 *   (NBD_REP_ERR_SHUTDOWN); any other negative errno
	 *   (NBD_REP_ERR_PLATFORM). An export that fails nbd_export_check()
	 *   is answered NBD_REP_ERR_PLATFORM too (and skipped by list()).
	 */
	int (*lookup)(void *opaque, const char *name, struct nbd_export *exp);
	/*
	 * Fill @p exp with the export at @p index (0, 1, ...) for
	 * NBD_OPT_LIST. Optional: NULL answers NBD_OPT_LIST with
	 * NBD_REP_ERR_POLICY.
	 * @return 0; -ENOENT (no more exports); another negative errno
	 *   (the listing fails with the error lookup() would give).
	 */
	int (*list)(void *opaque, size_t index, struct nbd_export *exp);
};

/**
 * Check an export's description as the handshake would.
 * @return 0; -EINVAL (NULL, no name, a name or description longer than
 *   NBD_STRING_MAX, unknown caps, CAN_FAST_ZERO without CAN_ZERO, a block
 *   size that breaks the protocol's rules); -EOVERFLOW (size above
 *   INT64_MAX).
 */
int nbd_export_check(const struct nbd_export *exp);

/* ------------------------------------------------------- connections */

struct nbd_conn;

/* Where a connection is. */
enum nbd_phase {
	NBD_PHASE_GREETING = 0, /* greeting queued; waiting for the client flags */
	NBD_PHASE_OPTIONS,	/* option haggling */
	NBD_PHASE_TRANSMISSION, /* requests */
	NBD_PHASE_CLOSED,	/* send the queued output, then close */
};

/* How replies look, from what the client negotiated. */
enum nbd_reply_mode {
	NBD_REPLY_SIMPLE = 0, /* 16-byte simple replies only */
	NBD_REPLY_STRUCTURED, /* NBD_OPT_STRUCTURED_REPLY: 20-byte chunks */
	NBD_REPLY_EXTENDED,   /* NBD_OPT_EXTENDED_HEADERS: 32-byte requests and chunks */
};

/* struct nbd_conn_params.flags */
#define NBD_CONN_NO_STRUCTURED (1u << 0) /* answer NBD_OPT_STRUCTURED_REPLY with ERR_UNSUP */
#define NBD_CONN_NO_EXTENDED   (1u << 1) /* answer NBD_OPT_EXTENDED_HEADERS with ERR_UNSUP */
#define NBD_CONN_NO_LIST       (1u << 2) /* answer NBD_OPT_LIST with ERR_POLICY */

/* Zero means the default. */
#define NBD_OPT_MAX_DEFAULT (64u << 10) /* largest option data accepted */
#define NBD_OUTPUT_HIGH	    (64u << 10) /* stop taking options above this backlog */
#define NBD_DISCARD_MAX	    NBD_PAYLOAD_MAX_DEFAULT

struct nbd_conn_params {
	uint32_t flags;	  /* NBD_CONN_* */
	uint32_t opt_max; /* 0: NBD_OPT_MAX_DEFAULT; an option above it is answered
			   * NBD_REP_ERR_TOO_BIG and the connection closes */
};

/**
 * Create a connection and queue the server greeting as its output.
 * @param ops the caller's exports (lookup required); kept by pointer.
 * @param opaque passed to every callback.
 * @param params NULL or zeroed: defaults.
 * @param out the connection.
 * @return 0; -EINVAL (NULL @p ops, @p out or ops->lookup, unknown
 *   params flags); -ENOMEM.
 */
int nbd_conn_create(const struct nbd_server_ops *ops, void *opaque,
		    const struct nbd_conn_params *params, struct nbd_conn **out);

/** Free a connection; NULL is ignored. */
void nbd_conn_destroy(struct nbd_conn *c);

/**
 * Hand the client's bytes in, during the handshake (phases GREETING and
 * OPTIONS). It takes what it can: the client flags, option headers and
 * option data, any split; every option's declared length is consumed
 * exactly and every option gets one final reply, queued as output.
 * It stops early, at an option boundary, when the phase leaves OPTIONS
 * (the rest of @p data is then requests, or nothing) or when more than
 * NBD_OUTPUT_HIGH bytes of output wait (send them and call again).
 * An option longer than the limit is answered NBD_REP_ERR_TOO_BIG and
 * the connection goes to CLOSED.
 * @return bytes consumed (0..@p len; NBD_OPT_ABORT also ends in CLOSED,
 *   without an error); when the connection must end, the phase becomes
 *   CLOSED (send the output, then close) and it returns -EPROTO (bad
 *   option magic, unknown client flags, a bad or refused
 *   NBD_OPT_EXPORT_NAME, or one after extended headers), -ENOENT
 *   (NBD_OPT_EXPORT_NAME of an unknown export, which the protocol answers
 *   by closing), -EMSGSIZE (an option above the limit, answered
 *   NBD_REP_ERR_TOO_BIG), -ENOMEM; -EINVAL (NULL, or the phase is not
 *   GREETING or OPTIONS).
 */
ssize_t nbd_conn_input(struct nbd_conn *c, const void *data, size_t len);

/**
 * The bytes queued to send (peek; they stay until consumed).
 * @return how many; *data points at them (valid until the next call on @p c).
 */
size_t nbd_conn_output(const struct nbd_conn *c, const void **data);

/**
 * Drop @p n bytes sent from the front of the output.
 * @return 0; -EINVAL (more than is queued).
 */
int nbd_conn_output_consume(struct nbd_conn *c, size_t n);

/** @return the phase. */
enum nbd_phase nbd_conn_phase(const struct nbd_conn *c);

/** @return how replies are framed (what the client negotiated so far). */
enum nbd_reply_mode nbd_conn_reply_mode(const struct nbd_conn *c);

/**
 * @return the export chosen by NBD_OPT_GO or NBD_OPT_EXPORT_NAME, with
 *   the defaults filled in (block sizes never 0); NULL before that.
 */
const struct nbd_export *nbd_conn_export(const struct nbd_conn *c);

/** @return the transmission flags sent for the chosen export; 0 before. */
uint16_t nbd_conn_tflags(const struct nbd_conn *c);

/**
 * Whether base:allocation is selected for the chosen export.
 * @return true (and *id its context id, if @p id) or false.
 */
bool nbd_conn_meta_context(const struct nbd_conn *c, uint32_t *id);

/** @return the size of a request header: 28, or 32 with extended headers. */
size_t nbd_conn_request_size(const struct nbd_conn *c);

/* --------------------------------------------------------- requests */

/* What follows a request header (struct nbd_request.payload). */
enum nbd_payload {
	NBD_PAYLOAD_NONE = 0, /* nothing */
	NBD_PAYLOAD_DATA,     /* payload_len bytes of write data: into the caller's buffer */
	NBD_PAYLOAD_DISCARD,  /* payload_len bytes to read and drop; error is set */
};

/* A decoded request. */
struct nbd_request {
	uint64_t cookie;
	uint64_t offset;
	uint64_t len;	      /* effect length (a write's: its data length) */
	uint64_t payload_len; /* bytes after the header */
	uint16_t type;	      /* NBD_CMD_* */
	uint16_t flags;	      /* NBD_CMD_FLAG_* as sent */
	uint32_t error;	      /* 0: valid, execute it; else the NBD_E* to answer */
	enum nbd_payload payload;
	const char *why; /* why error is set, or why it returned < 0 (static) */
};

/**
 * Decode and validate the request header at the front of @p data.
 * Nothing is allocated: a payload above the export's maximum is either
 * discarded (up to NBD_DISCARD_MAX bytes, answered NBD_EINVAL) or closes
 * the connection. On success with req->error != 0, consume the payload
 * (if any) and answer with nbd_reply_error(). NBD_CMD_DISC decodes with
 * error 0 and moves the phase to CLOSED: answer what is in flight, then
 * close. Checks, in order: magic; payload size; command known; flags
 * known and valid for the command and export (DF needs structured
 * replies, FAST_ZERO needs CAN_FAST_ZERO, PAYLOAD_LEN only on an extended
 * write); command advertised; read-only (NBD_EPERM); FLUSH with a
 * nonzero offset or length; offset + length overflowing or past the end
 * (NBD_ENOSPC for writes and write zeroes, NBD_EINVAL otherwise);
 * alignment to block_min; a read longer than block_max (NBD_EINVAL, or
 * NBD_EOVERFLOW with structured replies).
 * @return the header size consumed (28 or 32), req filled; 0: fewer bytes
 *   than a header, give more; -EPROTO (bad magic: the phase is CLOSED);
 *   -EMSGSIZE (a payload too large to discard: CLOSED); -ESHUTDOWN (the
 *   phase is CLOSED already); -EINVAL (NULL, or still in the handshake).
 */
ssize_t nbd_request_parse(struct nbd_conn *c, const void *data, size_t len,
			  struct nbd_request *req);

/* ----------------------------------------------------------- replies */

/* Buffer sizes that always suffice. */
#define NBD_REPLY_HDR_MAX	       32u  /* any reply header */
#define NBD_REPLY_DATA_MAX	       40u  /* nbd_reply_read_data() */
#define NBD_REPLY_HOLE_MAX	       44u  /* nbd_reply_read_hole() */
#define NBD_REPLY_MSG_MAX	       256u /* error messages are cut to this */
#define NBD_REPLY_ERROR_MAX	       (32u + 6u + NBD_REPLY_MSG_MAX + 8u)
/* nbd_reply_block_status() with n extents. */
#define NBD_REPLY_BLOCK_STATUS_SIZE(n) (32u + 8u + 16u * (size_t)(n))

/* One extent for nbd_reply_block_status(). */
struct nbd_extent {
	uint64_t length; /* nonzero */
	uint32_t flags;	 /* NBD_STATE_* */
};

/**
 * Map an errno (either sign) to the NBD error for a request with
 * command flags @p cmd_flags: EPERM/EROFS -> NBD_EPERM, EIO, ENOMEM,
 * ENOSPC/EDQUOT/EFBIG -> NBD_ENOSPC, ESHUTDOWN, ENOTSUP/EOPNOTSUPP ->
 * NBD_ENOTSUP only for FAST_ZERO, EOVERFLOW -> NBD_EOVERFLOW only for DF,
 * 0 -> NBD_SUCCESS, anything else -> NBD_EINVAL.
 * @return the NBD error value. It fails for no input.
 */
uint32_t nbd_errno_to_wire(int err, uint16_t cmd_flags);

/**
 * The final reply of a request that succeeded with no data: a simple
 * reply, or a NONE chunk with NBD_REPLY_FLAG_DONE (structured or
 * extended). For a read that sent its data in earlier chunks, this ends
 * it; a read with simple replies uses nbd_reply_read_data() instead.
 * @return bytes written (16, 20 or 32); -EINVAL (NULL, a simple-reply
 *   read); -ENOBUFS (@p cap too small).
 */
ssize_t nbd_reply_ok(const struct nbd_conn *c, const struct nbd_request *req, void *buf,
		     size_t cap);

/**
 * An error as the final reply: a simple reply carrying @p nbd_error, or
 * an NBD_REPLY_TYPE_ERROR chunk with DONE and @p msg (NULL: none; cut to
 * NBD_REPLY_MSG_MAX bytes).
 * @return bytes written; -EINVAL (NULL, @p nbd_error 0); -ENOBUFS.
 */
ssize_t nbd_reply_error(const struct nbd_conn *c, const struct nbd_request *req, uint32_t nbd_error,
			const char *msg, void *buf, size_t cap);

/**
 * An NBD_REPLY_TYPE_ERROR_OFFSET chunk (structured or extended only):
 * the error happened at @p offset inside the request.
 * @return bytes written; -EINVAL (NULL, error 0, @p offset outside the
 *   request, a command that cannot have it); -EPROTO (simple replies);
 *   -ENOBUFS.
 */
ssize_t nbd_reply_error_offset(const struct nbd_conn *c, const struct nbd_request *req,
			       uint32_t nbd_error, uint64_t offset, const char *msg, bool done,
			       void *buf, size_t cap);

/**
 * The header before @p len bytes of read data at @p offset, which the
 * caller then sends from its own buffer: a simple reply (the whole read
 * at once: @p offset and @p len must be the request's; @p done is
 * implied), or an OFFSET_DATA chunk header (with DONE if @p done).
 * With DF set, sending one piece only is the caller's to keep.
 * @return bytes written (16, 28 or 40); -EINVAL (NULL, not a read,
 *   @p len 0, outside the request, not the whole read with simple
 *   replies, above UINT32_MAX - 8 with structured replies: split it);
 *   -ENOBUFS.
 */
ssize_t nbd_reply_read_data(const struct nbd_conn *c, const struct nbd_request *req,
			    uint64_t offset, uint64_t len, bool done, void *buf, size_t cap);

/**
 * An OFFSET_HOLE chunk: @p len bytes at @p offset read as zeroes
 * (structured or extended only, not with DF).
 * @return bytes written (32 or 44); -EINVAL (NULL, not a read, @p len 0
 *   or above UINT32_MAX, outside the request, DF set); -EPROTO (simple
 *   replies: send zeroes as data); -ENOBUFS.
 */
ssize_t nbd_reply_read_hole(const struct nbd_conn *c, const struct nbd_request *req,
			    uint64_t offset, uint64_t len, bool done, void *buf, size_t cap);

/**
 * A BLOCK_STATUS chunk for base:allocation (BLOCK_STATUS_EXT with
 * extended headers), from the extents starting at the request's offset.
 * It keeps the protocol's rules: one extent with REQ_ONE, cut to the
 * request's length; no extents after the one that reaches the request's
 * end; at most NBD_EXTENTS_MAX; 32-bit lengths cut (to a multiple of
 * block_min) where the header is compact; as many as fit in @p cap.
 * @param used NULL, or the number of extents taken.
 * @return bytes written; -EINVAL (NULL, not a block status request,
 *   @p n 0, an extent of length 0); -EPROTO (no metadata context
 *   negotiated); -ENOBUFS (not even one extent fits).
 */
ssize_t nbd_reply_block_status(const struct nbd_conn *c, const struct nbd_request *req,
			       const struct nbd_extent *ext, size_t n, bool done, size_t *used,
			       void *buf, size_t cap);

/** @return a static name for an NBD_CMD_* ("unknown" otherwise). */
const char *nbd_cmd_name(uint16_t type);

/** @return a static name for an NBD_OPT_* ("unknown" otherwise). */
const char *nbd_opt_name(uint32_t opt);

#ifdef __cplusplus
}
#endif

#endif /* NBD_H */
