/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nbd's private header: the connection object and the helpers its
 * files share. Nothing outside lib/nbd includes it.
 */
#ifndef NBD_INTERNAL_H
#define NBD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd.h"

/* The context id handed out for base:allocation by NBD_OPT_SET_META_CONTEXT. */
#define NBD_META_ID_BASE_ALLOCATION 1u

/* Where the handshake input is. */
enum nbd_in_state {
	NBD_IN_CFLAGS = 0, /* the 4 bytes of client flags */
	NBD_IN_OPT_HDR,	   /* a 16-byte option header */
	NBD_IN_OPT_DATA,   /* its data: kept in opt_buf, or skipped */
};

struct nbd_conn {
	const struct nbd_server_ops *ops;
	void *opaque;
	uint32_t flags;	  /* NBD_CONN_* */
	uint32_t opt_max; /* largest option data taken */

	enum nbd_phase phase;
	enum nbd_reply_mode mode;
	bool no_zeroes; /* the client set NBD_FLAG_C_NO_ZEROES */

	/* Handshake input. */
	enum nbd_in_state in_state;
	uint8_t hdr[sizeof(struct nbd_wire_opt)];
	uint32_t hdr_have;
	uint32_t opt;	   /* the option being read */
	uint32_t opt_len;  /* its declared data length */
	uint32_t opt_have; /* data bytes taken so far */
	bool opt_keep;	   /* keep the data (parsed) or skip it */
	uint8_t *opt_buf;  /* option data, opt_buf_cap bytes */
	size_t opt_buf_cap;

	/* Output queued for the client: [out_head, out_tail) of out. */
	uint8_t *out;
	size_t out_head, out_tail, out_cap;

	/* NBD_OPT_SET_META_CONTEXT: the export it named, what it chose. */
	bool meta_set; /* base:allocation selected by the last SET */
	char meta_name[NBD_STRING_MAX + 1];
	bool meta_active; /* ... and GO chose that export */

	/* The export chosen for transmission. */
	bool have_export;
	struct nbd_export exp;
	uint16_t tflags;

	/* Scratch for a NUL-terminated name from the wire. */
	char name[NBD_STRING_MAX + 1];
};

/* conn.c: append to the output; -ENOMEM. */
int nbd_out_append(struct nbd_conn *c, const void *p, size_t n);
/* conn.c: an option reply header with @p len data bytes to follow. */
int nbd_out_rep_hdr(struct nbd_conn *c, uint32_t opt, uint32_t type, uint32_t len);
/* conn.c: queued output bytes. */
size_t nbd_out_pending(const struct nbd_conn *c);

/*
 * options.c: act on a whole option (header in c->opt/opt_len, data in
 * c->opt_buf when c->opt_keep). @return 0; negative: the connection is
 * to close (the phase is CLOSED already).
 */
int nbd_option_handle(struct nbd_conn *c);
/* options.c: whether an option's data is parsed (kept) or skipped. */
bool nbd_option_keeps_data(uint32_t opt);

/* options.c: the export with defaults filled and its transmission flags. */
void nbd_export_defaults(struct nbd_export *exp);
uint16_t nbd_export_tflags(const struct nbd_conn *c, const struct nbd_export *exp);

#endif /* NBD_INTERNAL_H */
