/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The block service's wire formats: what a client and a server exchange,
 * and nothing else. Every field is fixed width and little endian; every
 * layout is checked at build time. docs/blockservice.md is the prose.
 *
 * 1. The control connection (unix: or tcp:) carries framed messages:
 *    a 12-byte header (magic, version, type, length of the body) and a
 *    body of at most BS_WIRE_BODY_MAX bytes. Only the set-up and the
 *    goodbye use it, never a request.
 *
 *      client                          server
 *      HELLO(version, export)   ->
 *                               <-     INFO(size, block sizes, flags)  | ERROR
 *      CHANNELS(addresses)      ->     (binds each)
 *                               <-     READY | ERROR
 *      (pool assignment and requests on the data channels)
 *      DISCONNECT               ->                          (client is done)
 *                               <-     SHUTDOWN             (server goes down)
 *
 * 2. The data channels carry one 32-byte meta per buffer: the request on
 *    the way to the server (a move), the same with the reply bit and the
 *    status on the way back (a pass of the same buffer).
 *
 * Parsers take any bytes and either fill their output or return a
 * negative code; they never read past what they are given. They are what
 * tests/fuzz/fuzz_bs.c drives.
 */
#ifndef BS_WIRE_H
#define BS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <bulk/bulk_addr.h>
#include <bulk/bulk_bs.h>

/* ------------------------------------------------------- little endian */

/* Byte by byte: no alignment needed, no host order assumed. */
static inline uint16_t
bs_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t
bs_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
bs_get64(const uint8_t *p)
{
	return (uint64_t)bs_get32(p) | (uint64_t)bs_get32(p + 4) << 32;
}

static inline void
bs_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
bs_put32(uint8_t *p, uint32_t v)
{
	bs_put16(p, (uint16_t)v);
	bs_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
bs_put64(uint8_t *p, uint64_t v)
{
	bs_put32(p, (uint32_t)v);
	bs_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---------------------------------------------------------- control */

/* "BSC1" as it appears on the wire (little endian 0x31435342). */
#define BS_WIRE_MAGIC	  0x31435342u
#define BS_WIRE_VERSION	  BULK_BS_VERSION
#define BS_WIRE_BODY_MAX  1024u

enum bs_wire_type {
	BS_MSG_HELLO = 1,      /* client -> server */
	BS_MSG_INFO = 2,       /* server -> client */
	BS_MSG_CHANNELS = 3,   /* client -> server */
	BS_MSG_READY = 4,      /* server -> client */
	BS_MSG_ERROR = 5,      /* either way; the sender closes after it */
	BS_MSG_DISCONNECT = 6, /* client -> server */
	BS_MSG_SHUTDOWN = 7,   /* server -> client */
	BS_MSG_LAST
};

/* The header, as laid out on the wire. */
struct bs_wire_hdr {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags[2];  /* 0 */
	uint8_t length[4]; /* body bytes */
};
_Static_assert(sizeof(struct bs_wire_hdr) == 12, "control header is 12 bytes");

/* HELLO: version, the export name's length, then the name (no NUL). */
struct bs_wire_hello {
	uint8_t version[2];
	uint8_t name_len[2];
	uint8_t flags[4]; /* BS_HELLO_* */
};
/* HELLO flags: the client offers a copy channel (docs/blockservice.md,
 * section 10). An old server refuses any flag: a client sets it only when
 * its application asked for copies. */
#define BS_HELLO_COPIES	    0x1u
#define BS_HELLO_FLAGS_MASK BS_HELLO_COPIES
_Static_assert(sizeof(struct bs_wire_hello) == 8, "hello is 8 bytes + name");

/* INFO: struct bulk_bs_info plus what the channels must look like. */
struct bs_wire_info {
	uint8_t size[8];
	uint8_t block_min[4];
	uint8_t block_pref[4];
	uint8_t block_max[4];
	uint8_t flags[4];
	uint8_t max_buffers[4];
	uint8_t meta_size[2];	 /* BS_WIRE_META_SIZE */
	uint8_t max_channels[2]; /* BULK_BS_MAX_CHANNELS */
	uint8_t version[2];	 /* the version the server speaks */
	uint8_t features[2];	 /* BS_FEAT_*: only what the client's HELLO asked for */
	uint8_t rsvd[4];
};
/* INFO features: the server binds the client's copy channel and may answer
 * READs that allow it with read-only copies of its own buffers. */
#define BS_FEAT_COPIES 0x1u
#define BS_FEAT_MASK   BS_FEAT_COPIES
_Static_assert(sizeof(struct bs_wire_info) == 40, "info is 40 bytes");

/* CHANNELS: a count, then that many NUL-padded addresses. */
#define BS_WIRE_ADDR_LEN BULK_ADDR_STRLEN
struct bs_wire_channels {
	uint8_t count[2];
	uint8_t copy[2]; /* 0, or 1 once INFO said BS_FEAT_COPIES: a copy channel */
	uint8_t rsvd[4];
	/* char addr[count + copy][BS_WIRE_ADDR_LEN] follows, the copy channel's last */
};
_Static_assert(sizeof(struct bs_wire_channels) == 8, "channels is 8 bytes + addresses");
_Static_assert(sizeof(struct bs_wire_channels) + (BULK_BS_MAX_CHANNELS + 1) * BS_WIRE_ADDR_LEN <=
		       BS_WIRE_BODY_MAX,
	       "every address fits one message");

/* ERROR: a wire error code and a message (no NUL). */
#define BS_WIRE_ERRMSG_MAX 255u
struct bs_wire_error {
	uint8_t code[4];
	uint8_t msg_len[2];
	uint8_t rsvd[2];
};
_Static_assert(sizeof(struct bs_wire_error) == 8, "error is 8 bytes + message");
_Static_assert(sizeof(struct bs_wire_hello) + BULK_BS_EXPORT_NAME_MAX <= BS_WIRE_BODY_MAX,
	       "an export name fits");

/* A decoded control message. Strings are NUL-terminated. */
struct bs_ctrl_msg {
	enum bs_wire_type type;
	union {
		struct {
			uint16_t version;
			uint32_t flags; /* BS_HELLO_* */
			char name[BULK_BS_EXPORT_NAME_MAX + 1];
		} hello;
		struct {
			struct bulk_bs_info info;
			uint16_t version;
			uint16_t max_channels; /* data channels a client may open */
			uint16_t features;     /* BS_FEAT_* */
		} info;
		struct {
			uint16_t count;
			uint16_t copy; /* 0 or 1: addr[count] is the copy channel */
			char addr[BULK_BS_MAX_CHANNELS + 1][BS_WIRE_ADDR_LEN];
		} channels;
		struct {
			int code; /* negative errno */
			char msg[BS_WIRE_ERRMSG_MAX + 1];
		} error;
	} u;
};

#define BS_WIRE_MSG_MAX (sizeof(struct bs_wire_hdr) + BS_WIRE_BODY_MAX)

/*
 * Parse one message from the front of @p buf (@p len bytes received so far).
 * @return bytes it took (> 0) with @p m filled; 0: incomplete, read more;
 *   -EBADMSG (bad magic, flags, length or body: the connection is broken);
 *   -EPROTONOSUPPORT (a version we do not speak); -ENOMSG (unknown type).
 */
int bs_wire_ctrl_parse(const uint8_t *buf, size_t len, struct bs_ctrl_msg *m);

/*
 * Write message @p m into @p buf (at least BS_WIRE_MSG_MAX bytes).
 * @return its length; -EINVAL (a field out of range: too long a name,
 *   a count above BULK_BS_MAX_CHANNELS, an unknown type).
 */
int bs_wire_ctrl_encode(const struct bs_ctrl_msg *m, uint8_t *buf, size_t room);

/* --------------------------------------------------------------- meta */

#define BS_WIRE_META_MAGIC 0x4d534262u /* "bBSM" */
#define BS_WIRE_META_SIZE  32u
/* op | BS_WIRE_REPLY: the server's answer. */
#define BS_WIRE_REPLY 0x80u
/*
 * Meta flags of the copy extension (never BULK_BS_CMD_*, never seen by
 * applications): a READ request of a client with a copy channel may carry
 * COPY_OK (its data may come as a copy); the reply to it may then carry
 * COPY (the data went as a read-only copy on the copy channel, whose meta
 * is the same reply, COPY set; the pass carries no payload). A server
 * without the extension refuses COPY_OK (-EINVAL: an unknown flag).
 */
#define BS_WIRE_F_COPY_OK  0x0100u
#define BS_WIRE_F_COPY	   0x0200u

/* The meta of every buffer on a data channel. */
struct bs_wire_meta {
	uint8_t version; /* BS_WIRE_VERSION */
	uint8_t op;	 /* enum bulk_bs_op, | BS_WIRE_REPLY in replies */
	uint8_t flags[2];
	uint8_t length[4];
	uint8_t id[8];
	uint8_t offset[8];
	uint8_t status[4]; /* replies: a wire error code, 0 = success */
	uint8_t magic[4];
};
_Static_assert(sizeof(struct bs_wire_meta) == BS_WIRE_META_SIZE, "meta is 32 bytes");
_Static_assert(BS_WIRE_META_SIZE <= BULK_META_MAX, "meta fits a channel");

/* A decoded meta. */
struct bs_meta {
	uint8_t op; /* without the reply bit */
	uint8_t reply;
	uint16_t flags;
	uint32_t length;
	uint64_t id;
	uint64_t offset;
	int status; /* negative errno */
};

/*
 * Decode one meta (@p len bytes; the channel's meta size).
 * @return 0; -EBADMSG (wrong size, magic or version: not our protocol).
 * Anything else (op, flags, ranges) is the validator's business.
 */
int bs_wire_meta_decode(const void *meta, size_t len, struct bs_meta *m);

/* Encode @p m into BS_WIRE_META_SIZE bytes at @p meta. */
void bs_wire_meta_encode(const struct bs_meta *m, void *meta);

/* ------------------------------------------------------- error codes */

/*
 * Wire error codes: fixed numbers (NBD's, which are Linux's), so that a
 * peer on another system reads the same error.
 */
enum bs_wire_err {
	BS_WERR_OK = 0,
	BS_WERR_PERM = 1,
	BS_WERR_NOENT = 2,
	BS_WERR_IO = 5,
	BS_WERR_NOMEM = 12,
	BS_WERR_BUSY = 16,
	BS_WERR_INVAL = 22,
	BS_WERR_NOSPC = 28,
	BS_WERR_RANGE = 34,
	BS_WERR_PROTO = 71,
	BS_WERR_OVERFLOW = 75,
	BS_WERR_NOTSUP = 95,
	BS_WERR_PROTONOSUPPORT = 93,
	/* Not in NBD's list: a server in the middle of a chain (nbs-proxy)
	 * whose own upstream is gone. */
	BS_WERR_NOTCONN = 107,
	BS_WERR_SHUTDOWN = 108,
	BS_WERR_TIMEDOUT = 110,
};

/* A negative errno as a wire code (unknown ones are EIO). */
uint32_t bs_wire_err_from_errno(int err);
/* A wire code as a negative errno (unknown ones are -EIO). */
int bs_wire_err_to_errno(uint32_t code);

/* ------------------------------------------------------ validation */

/*
 * Check a request (already decoded) against the export's rules, the
 * payload that came with it and the buffer that carries it, as the server
 * does before the application sees it and the client before it sends.
 * Checked in this order:
 * @return 0; -EINVAL (a reply sent as a request, unknown flags, an
 *   unknown op, TRIM or WRITE_ZEROES not advertised, a FLUSH with a range
 *   or a flag, a zero length, misalignment); -EPERM (a write to a
 *   read-only export); -EINVAL (FUA on a READ); -ENOTSUP (FUA on an
 *   export without it); -EOVERFLOW (a READ or WRITE longer than
 *   block_max or the buffer); -EINVAL (a WRITE whose payload is not its
 *   length); -ENOSPC (a range that ends past the export or overflows).
 * FLUSH is always accepted: on an export without BULK_BS_FLAG_FLUSH it
 * has nothing to do.
 */
int bs_req_check(const struct bulk_bs_info *info, const struct bs_meta *m, uint32_t payload,
		 uint32_t buf_size);

/*
 * Check an INFO a server sent (the client trusts nothing).
 * @return 0; -EPROTO.
 */
int bs_info_check(const struct bulk_bs_info *info);

#endif /* BS_WIRE_H */
