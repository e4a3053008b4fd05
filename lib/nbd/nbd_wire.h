/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NBD protocol's wire formats, server side and client side, as the
 * NetworkBlockDevice project's doc/proto.md sets them out (fixed newstyle
 * handshake, structured replies, block status) together with its
 * EXTENDED_HEADERS extension (branch extension-ext-header; qemu 8.2+ and
 * libnbd 1.18+ speak it). Every multi-byte field is big endian; every
 * layout is a struct of byte arrays (no padding, no alignment, no host
 * order assumed) checked at build time. Nothing here does I/O.
 *
 *   server                                   client
 *   NBDMAGIC IHAVEOPT hflags(16)     ->
 *                                    <-      cflags(32)
 *                                    <-      IHAVEOPT opt(32) len(32) data   (repeated)
 *   REPLYMAGIC opt(32) type(32) len(32) data  -> (zero or more, then one final)
 *   (NBD_OPT_GO answered with NBD_REP_ACK, or NBD_OPT_EXPORT_NAME:
 *    transmission; requests of 28 bytes, or 32 with extended headers)
 */
#ifndef NBD_WIRE_H
#define NBD_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* --------------------------------------------------------- big endian */

/* Byte by byte: no alignment needed, no host order assumed. */
static inline uint16_t
nbd_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t
nbd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

static inline void
nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
nbd_put32(uint8_t *p, uint32_t v)
{
	nbd_put16(p, (uint16_t)(v >> 16));
	nbd_put16(p + 2, (uint16_t)v);
}

static inline void
nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------- magics */

#define NBD_MAGIC_INIT	      0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_MAGIC_OPT	      0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_MAGIC_REP	      0x0003e889045565a9ull /* option replies */
#define NBD_MAGIC_REQUEST     0x25609513u	    /* compact request */
#define NBD_MAGIC_REQUEST_EXT 0x21e41c71u	    /* extended request */
#define NBD_MAGIC_SIMPLE      0x67446698u	    /* simple reply */
#define NBD_MAGIC_STRUCTURED  0x668e33efu	    /* structured reply chunk */
#define NBD_MAGIC_EXTENDED    0x6e8a278cu	    /* extended reply chunk */

/* ------------------------------------------------------ handshake flags */

/* Server handshake flags (16 bits, after the two magics). */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES	(1u << 1)

/* Client flags (32 bits, the client's first message). */
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES	  (1u << 1)

/* Transmission flags (16 bits, in the export information). */
#define NBD_FLAG_HAS_FLAGS	      (1u << 0)
#define NBD_FLAG_READ_ONLY	      (1u << 1)
#define NBD_FLAG_SEND_FLUSH	      (1u << 2)
#define NBD_FLAG_SEND_FUA	      (1u << 3)
#define NBD_FLAG_ROTATIONAL	      (1u << 4)
#define NBD_FLAG_SEND_TRIM	      (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES    (1u << 6)
#define NBD_FLAG_SEND_DF	      (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN	      (1u << 8)
#define NBD_FLAG_SEND_RESIZE	      (1u << 9)
#define NBD_FLAG_SEND_CACHE	      (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO	      (1u << 11)
#define NBD_FLAG_BLOCK_STATUS_PAYLOAD (1u << 12)

/* --------------------------------------------------------------- options */

#define NBD_OPT_EXPORT_NAME	  1u
#define NBD_OPT_ABORT		  2u
#define NBD_OPT_LIST		  3u
#define NBD_OPT_PEEK_EXPORT	  4u /* withdrawn */
#define NBD_OPT_STARTTLS	  5u
#define NBD_OPT_INFO		  6u
#define NBD_OPT_GO		  7u
#define NBD_OPT_STRUCTURED_REPLY  8u
#define NBD_OPT_LIST_META_CONTEXT 9u
#define NBD_OPT_SET_META_CONTEXT  10u
#define NBD_OPT_EXTENDED_HEADERS  11u

/* Option reply types; errors have bit 31 set. */
#define NBD_REP_ACK		    1u
#define NBD_REP_SERVER		    2u
#define NBD_REP_INFO		    3u
#define NBD_REP_META_CONTEXT	    4u
#define NBD_REP_FLAG_ERROR	    (1u << 31)
#define NBD_REP_ERR_UNSUP	    (NBD_REP_FLAG_ERROR | 1u)
#define NBD_REP_ERR_POLICY	    (NBD_REP_FLAG_ERROR | 2u)
#define NBD_REP_ERR_INVALID	    (NBD_REP_FLAG_ERROR | 3u)
#define NBD_REP_ERR_PLATFORM	    (NBD_REP_FLAG_ERROR | 4u)
#define NBD_REP_ERR_TLS_REQD	    (NBD_REP_FLAG_ERROR | 5u)
#define NBD_REP_ERR_UNKNOWN	    (NBD_REP_FLAG_ERROR | 6u)
#define NBD_REP_ERR_SHUTDOWN	    (NBD_REP_FLAG_ERROR | 7u)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_FLAG_ERROR | 8u)
#define NBD_REP_ERR_TOO_BIG	    (NBD_REP_FLAG_ERROR | 9u)
#define NBD_REP_ERR_EXT_HEADER_REQD (NBD_REP_FLAG_ERROR | 10u)

/* NBD_REP_INFO information types (also what NBD_OPT_INFO/GO request). */
#define NBD_INFO_EXPORT	     0u
#define NBD_INFO_NAME	     1u
#define NBD_INFO_DESCRIPTION 2u
#define NBD_INFO_BLOCK_SIZE  3u

/* The only metadata context this server offers, and its flags. */
#define NBD_META_BASE_ALLOCATION "base:allocation"
#define NBD_STATE_HOLE		 (1u << 0)
#define NBD_STATE_ZERO		 (1u << 1)

/* Strings (names, descriptions, queries, messages) MUST NOT be longer. */
#define NBD_STRING_MAX 4096u

/* Size constraints: what a server assumes when none are advertised. */
#define NBD_BLOCK_MIN_DEFAULT	1u
#define NBD_BLOCK_PREF_DEFAULT	4096u
#define NBD_PAYLOAD_MAX_DEFAULT (32u << 20) /* 2^25 */
#define NBD_BLOCK_MIN_MAX	65536u	    /* a minimum block size may not exceed */

/* ---------------------------------------------------------- commands */

#define NBD_CMD_READ	     0u
#define NBD_CMD_WRITE	     1u
#define NBD_CMD_DISC	     2u
#define NBD_CMD_FLUSH	     3u
#define NBD_CMD_TRIM	     4u
#define NBD_CMD_CACHE	     5u
#define NBD_CMD_WRITE_ZEROES 6u
#define NBD_CMD_BLOCK_STATUS 7u
#define NBD_CMD_RESIZE	     8u /* experimental extension, not served */

#define NBD_CMD_FLAG_FUA	 (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE	 (1u << 1)
#define NBD_CMD_FLAG_DF		 (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE	 (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO	 (1u << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN (1u << 5) /* extended headers only */

/* Structured and extended reply chunks. */
#define NBD_REPLY_FLAG_DONE		(1u << 0)
#define NBD_REPLY_TYPE_NONE		0u
#define NBD_REPLY_TYPE_OFFSET_DATA	1u
#define NBD_REPLY_TYPE_OFFSET_HOLE	2u
#define NBD_REPLY_TYPE_BLOCK_STATUS	5u
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT 6u
#define NBD_REPLY_TYPE_FLAG_ERROR	(1u << 15)
#define NBD_REPLY_TYPE_ERROR		(NBD_REPLY_TYPE_FLAG_ERROR | 1u)
#define NBD_REPLY_TYPE_ERROR_OFFSET	(NBD_REPLY_TYPE_FLAG_ERROR | 2u)

/* Error values on the wire (not the host's errno). */
#define NBD_SUCCESS   0u
#define NBD_EPERM     1u
#define NBD_EIO	      5u
#define NBD_ENOMEM    12u
#define NBD_EINVAL    22u
#define NBD_ENOSPC    28u
#define NBD_EOVERFLOW 75u
#define NBD_ENOTSUP   95u
#define NBD_ESHUTDOWN 108u

/* A block status chunk SHOULD NOT hold more descriptors than this. */
#define NBD_EXTENTS_MAX (1u << 20)

/* -------------------------------------------------------- handshake */

/* Server greeting (fixed newstyle). */
struct nbd_wire_greeting {
	uint8_t magic[8];     /* NBD_MAGIC_INIT */
	uint8_t opt_magic[8]; /* NBD_MAGIC_OPT */
	uint8_t hflags[2];    /* NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES */
};
_Static_assert(sizeof(struct nbd_wire_greeting) == 18, "greeting is 18 bytes");

/* Client flags. */
struct nbd_wire_cflags {
	uint8_t cflags[4];
};
_Static_assert(sizeof(struct nbd_wire_cflags) == 4, "client flags are 4 bytes");

/* Option request header; length bytes of data follow. */
struct nbd_wire_opt {
	uint8_t magic[8]; /* NBD_MAGIC_OPT */
	uint8_t option[4];
	uint8_t length[4];
};
_Static_assert(sizeof(struct nbd_wire_opt) == 16, "option header is 16 bytes");

/* Option reply header; length bytes of data follow. */
struct nbd_wire_opt_reply {
	uint8_t magic[8]; /* NBD_MAGIC_REP */
	uint8_t option[4];
	uint8_t type[4];
	uint8_t length[4];
};
_Static_assert(sizeof(struct nbd_wire_opt_reply) == 20, "option reply header is 20 bytes");

/* The answer to NBD_OPT_EXPORT_NAME; 124 zero bytes follow unless both
 * sides agreed on NO_ZEROES. */
struct nbd_wire_export_name_reply {
	uint8_t size[8];
	uint8_t tflags[2];
};
_Static_assert(sizeof(struct nbd_wire_export_name_reply) == 10, "export name reply is 10 bytes");
#define NBD_EXPORT_NAME_ZEROES 124u

/* NBD_REP_INFO payloads (each starts with the 16-bit information type). */
struct nbd_wire_info_export {
	uint8_t type[2]; /* NBD_INFO_EXPORT */
	uint8_t size[8];
	uint8_t tflags[2];
};
_Static_assert(sizeof(struct nbd_wire_info_export) == 12, "NBD_INFO_EXPORT is 12 bytes");

struct nbd_wire_info_block_size {
	uint8_t type[2]; /* NBD_INFO_BLOCK_SIZE */
	uint8_t min[4];
	uint8_t pref[4];
	uint8_t max[4];
};
_Static_assert(sizeof(struct nbd_wire_info_block_size) == 14, "NBD_INFO_BLOCK_SIZE is 14 bytes");

/* NBD_INFO_NAME and NBD_INFO_DESCRIPTION: the type, then the string. */
struct nbd_wire_info_string {
	uint8_t type[2];
};
_Static_assert(sizeof(struct nbd_wire_info_string) == 2, "string info is 2 bytes + string");

/* NBD_REP_SERVER: name length, name, then an optional description. */
struct nbd_wire_rep_server {
	uint8_t name_len[4];
};
_Static_assert(sizeof(struct nbd_wire_rep_server) == 4, "server reply is 4 bytes + strings");

/* NBD_REP_META_CONTEXT: the context id, then its name. */
struct nbd_wire_rep_meta_context {
	uint8_t id[4];
};
_Static_assert(sizeof(struct nbd_wire_rep_meta_context) == 4, "meta context is 4 bytes + name");

/* ------------------------------------------------------ transmission */

/* Compact request: length is the data length of a write, or the effect
 * length of any other command. */
struct nbd_wire_request {
	uint8_t magic[4]; /* NBD_MAGIC_REQUEST */
	uint8_t flags[2];
	uint8_t type[2];
	uint8_t cookie[8];
	uint8_t offset[8];
	uint8_t length[4];
};
_Static_assert(sizeof(struct nbd_wire_request) == 28, "compact request is 28 bytes");

/* Extended request: length is a payload length when flags hold
 * NBD_CMD_FLAG_PAYLOAD_LEN, an effect length otherwise. */
struct nbd_wire_request_ext {
	uint8_t magic[4]; /* NBD_MAGIC_REQUEST_EXT */
	uint8_t flags[2];
	uint8_t type[2];
	uint8_t cookie[8];
	uint8_t offset[8];
	uint8_t length[8];
};
_Static_assert(sizeof(struct nbd_wire_request_ext) == 32, "extended request is 32 bytes");

/* Simple reply; a successful read's data follows. */
struct nbd_wire_simple_reply {
	uint8_t magic[4]; /* NBD_MAGIC_SIMPLE */
	uint8_t error[4];
	uint8_t cookie[8];
};
_Static_assert(sizeof(struct nbd_wire_simple_reply) == 16, "simple reply is 16 bytes");

/* Structured reply chunk; length bytes of payload follow. */
struct nbd_wire_structured_reply {
	uint8_t magic[4]; /* NBD_MAGIC_STRUCTURED */
	uint8_t flags[2];
	uint8_t type[2];
	uint8_t cookie[8];
	uint8_t length[4];
};
_Static_assert(sizeof(struct nbd_wire_structured_reply) == 20, "structured reply is 20 bytes");

/* Extended reply chunk: offset echoes the request's. */
struct nbd_wire_extended_reply {
	uint8_t magic[4]; /* NBD_MAGIC_EXTENDED */
	uint8_t flags[2];
	uint8_t type[2];
	uint8_t cookie[8];
	uint8_t offset[8];
	uint8_t length[8];
};
_Static_assert(sizeof(struct nbd_wire_extended_reply) == 32, "extended reply is 32 bytes");

/* Chunk payloads. */
struct nbd_wire_offset_data {
	uint8_t offset[8]; /* then length - 8 bytes of data */
};
_Static_assert(sizeof(struct nbd_wire_offset_data) == 8, "offset data is 8 bytes + data");

struct nbd_wire_offset_hole {
	uint8_t offset[8];
	uint8_t length[4];
};
_Static_assert(sizeof(struct nbd_wire_offset_hole) == 12, "offset hole is 12 bytes");

struct nbd_wire_block_status {
	uint8_t context_id[4]; /* then one or more nbd_wire_extent */
};
_Static_assert(sizeof(struct nbd_wire_block_status) == 4, "block status is 4 bytes + extents");

struct nbd_wire_extent {
	uint8_t length[4];
	uint8_t flags[4];
};
_Static_assert(sizeof(struct nbd_wire_extent) == 8, "extent is 8 bytes");

struct nbd_wire_block_status_ext {
	uint8_t context_id[4];
	uint8_t count[4]; /* then count nbd_wire_extent_ext */
};
_Static_assert(sizeof(struct nbd_wire_block_status_ext) == 8, "64-bit block status is 8 bytes");

struct nbd_wire_extent_ext {
	uint8_t length[8];
	uint8_t flags[8];
};
_Static_assert(sizeof(struct nbd_wire_extent_ext) == 16, "64-bit extent is 16 bytes");

/* Error chunks: error, message length, message; ERROR_OFFSET then adds
 * the offset after the message. */
struct nbd_wire_error {
	uint8_t error[4];
	uint8_t msg_len[2];
};
_Static_assert(sizeof(struct nbd_wire_error) == 6, "error chunk is 6 bytes + message");

struct nbd_wire_error_offset_tail {
	uint8_t offset[8];
};
_Static_assert(sizeof(struct nbd_wire_error_offset_tail) == 8, "error offset tail is 8 bytes");

#endif /* NBD_WIRE_H */
