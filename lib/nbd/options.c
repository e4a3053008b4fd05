/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Option haggling: what each option means, once handshake.c has its whole
 * data. Every option but NBD_OPT_EXPORT_NAME gets exactly one final reply
 * (NBD_REP_ACK or an error), after zero or more informational ones; a
 * malformed option is answered NBD_REP_ERR_INVALID and the haggling goes
 * on, since its length was honoured and the next header is in place.
 * Only NBD_OPT_EXPORT_NAME, which has no way to say no, closes.
 */
#include <errno.h>
#include <string.h>

#include "nbd_internal.h"

/* NBD_OPT_LIST stops after this many exports: a callback that never
 * says -ENOENT must not grow the output forever. */
#define NBD_LIST_MAX 65536u

bool
nbd_option_keeps_data(uint32_t opt)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return true;
	default:
		return false;
	}
}

static int
opt_fail(struct nbd_conn *c, int err)
{
	c->phase = NBD_PHASE_CLOSED;
	return err;
}

/* A reply without data. */
static int
rep(struct nbd_conn *c, uint32_t type)
{
	return nbd_out_rep_hdr(c, c->opt, type, 0);
}

/* An error reply with a message for the user. */
static int
rep_err(struct nbd_conn *c, uint32_t type, const char *msg)
{
	size_t n = strlen(msg);
	int rc = nbd_out_rep_hdr(c, c->opt, type, (uint32_t)n);

	return rc < 0 ? rc : nbd_out_append(c, msg, n);
}

/* What a lookup failure becomes. */
static uint32_t
rep_from_errno(int err)
{
	switch (err) {
	case -ENOENT:
		return NBD_REP_ERR_UNKNOWN;
	case -EACCES:
	case -EPERM:
		return NBD_REP_ERR_POLICY;
	case -ESHUTDOWN:
		return NBD_REP_ERR_SHUTDOWN;
	default:
		return NBD_REP_ERR_PLATFORM;
	}
}

/*
 * Take a string of @p len bytes at @p p into c->name, NUL-terminated.
 * @return 0; -EINVAL (a NUL inside, longer than NBD_STRING_MAX).
 */
static int
take_name(struct nbd_conn *c, const uint8_t *p, uint32_t len)
{
	if (len > NBD_STRING_MAX)
		return -EINVAL;
	if (len > 0) {
		if (memchr(p, '\0', len) != NULL)
			return -EINVAL;
		memcpy(c->name, p, len);
	}
	c->name[len] = '\0';
	return 0;
}

/* Ask the caller for c->name and check what it says. */
static int
lookup(struct nbd_conn *c, struct nbd_export *exp)
{
	int rc;

	memset(exp, 0, sizeof(*exp));
	rc = c->ops->lookup(c->opaque, c->name, exp);
	if (rc > 0)
		rc = -EINVAL;
	if (rc == 0 && nbd_export_check(exp) < 0)
		rc = -EINVAL;
	if (rc == 0)
		nbd_export_defaults(exp);
	return rc;
}

/* Transmission begins with @p exp. */
static void
enter_transmission(struct nbd_conn *c, const struct nbd_export *exp)
{
	c->exp = *exp;
	c->have_export = true;
	c->tflags = nbd_export_tflags(c, exp);
	/* Block status only for the export the last SET_META_CONTEXT named,
	 * and only if it chose a context (doc/proto.md, NBD_CMD_BLOCK_STATUS). */
	c->meta_active = c->meta_set && c->mode != NBD_REPLY_SIMPLE &&
			 strcmp(c->meta_name, c->name) == 0 &&
			 (exp->caps & NBD_EXPORT_BLOCK_STATUS) != 0;
	c->phase = NBD_PHASE_TRANSMISSION;
}

/* ---------------------------------------------------------------- options */

static int
opt_export_name(struct nbd_conn *c)
{
	struct nbd_wire_export_name_reply r;
	static const uint8_t zeroes[NBD_EXPORT_NAME_ZEROES];
	struct nbd_export exp;
	int rc;

	/* This option cannot fail politely: anything wrong closes. */
	if (c->mode == NBD_REPLY_EXTENDED)
		return opt_fail(c, -EPROTO); /* forbidden after extended headers */
	if (take_name(c, c->opt_buf, c->opt_len) < 0)
		return opt_fail(c, -EPROTO);
	rc = lookup(c, &exp);
	if (rc < 0)
		return opt_fail(c, rc == -ENOENT ? -ENOENT : -EPROTO);
	nbd_put64(r.size, exp.size);
	nbd_put16(r.tflags, nbd_export_tflags(c, &exp));
	rc = nbd_out_append(c, &r, sizeof(r));
	if (rc == 0 && !c->no_zeroes)
		rc = nbd_out_append(c, zeroes, sizeof(zeroes));
	if (rc < 0)
		return opt_fail(c, rc);
	enter_transmission(c, &exp);
	return 0;
}

static int
opt_list(struct nbd_conn *c)
{
	struct nbd_wire_rep_server s;
	struct nbd_export exp;
	size_t i, nlen, dlen;
	int rc;

	if (c->opt_len != 0)
		return rep_err(c, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	if (c->ops->list == NULL || (c->flags & NBD_CONN_NO_LIST))
		return rep_err(c, NBD_REP_ERR_POLICY, "export listing is disabled");
	for (i = 0; i < NBD_LIST_MAX; i++) {
		memset(&exp, 0, sizeof(exp));
		rc = c->ops->list(c->opaque, i, &exp);
		if (rc == -ENOENT)
			break;
		if (rc < 0)
			return rep_err(c, rep_from_errno(rc), "listing the exports failed");
		if (nbd_export_check(&exp) < 0)
			continue; /* not something a client could open */
		nlen = strlen(exp.name);
		dlen = exp.description != NULL ? strlen(exp.description) : 0;
		nbd_put32(s.name_len, (uint32_t)nlen);
		rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_SERVER,
				     (uint32_t)(sizeof(s) + nlen + dlen));
		if (rc == 0)
			rc = nbd_out_append(c, &s, sizeof(s));
		if (rc == 0)
			rc = nbd_out_append(c, exp.name, nlen);
		if (rc == 0)
			rc = nbd_out_append(c, exp.description, dlen);
		if (rc < 0)
			return rc;
	}
	return rep(c, NBD_REP_ACK);
}

static int
info_string(struct nbd_conn *c, uint16_t type, const char *s)
{
	struct nbd_wire_info_string h;
	size_t n = strlen(s);
	int rc;

	nbd_put16(h.type, type);
	rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_INFO, (uint32_t)(sizeof(h) + n));
	if (rc == 0)
		rc = nbd_out_append(c, &h, sizeof(h));
	return rc < 0 ? rc : nbd_out_append(c, s, n);
}

/* NBD_OPT_INFO and NBD_OPT_GO. */
static int
opt_info_go(struct nbd_conn *c)
{
	const uint8_t *d = c->opt_buf;
	struct nbd_wire_info_export ie;
	struct nbd_wire_info_block_size ib;
	struct nbd_export exp;
	uint32_t name_len, wanted = 0, i;
	uint16_t nreq, t;
	int rc;

	/* name length (4), name, request count (2), requests (2 each) */
	if (c->opt_len < 6)
		return rep_err(c, NBD_REP_ERR_INVALID, "option too short");
	name_len = nbd_get32(d);
	if (name_len > c->opt_len - 6)
		return rep_err(c, NBD_REP_ERR_INVALID, "name length beyond the option");
	nreq = nbd_get16(d + 4 + name_len);
	if ((uint64_t)c->opt_len != 6ull + name_len + 2ull * nreq)
		return rep_err(c, NBD_REP_ERR_INVALID, "request count does not match the length");
	if (take_name(c, d + 4, name_len) < 0)
		return rep_err(c, NBD_REP_ERR_INVALID, "bad export name");
	for (i = 0; i < nreq; i++) {
		t = nbd_get16(d + 4 + name_len + 2 + 2 * i);
		if (t < 32)
			wanted |= 1u << t; /* a repeat is answered once; unknown ones not at all */
	}
	rc = lookup(c, &exp);
	if (rc < 0)
		return rep_err(c, rep_from_errno(rc),
			       rc == -ENOENT ? "no such export" : "export unavailable");

	nbd_put16(ie.type, NBD_INFO_EXPORT);
	nbd_put64(ie.size, exp.size);
	nbd_put16(ie.tflags, nbd_export_tflags(c, &exp));
	rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_INFO, sizeof(ie));
	if (rc == 0)
		rc = nbd_out_append(c, &ie, sizeof(ie));
	if (rc == 0 && (wanted & (1u << NBD_INFO_NAME)))
		rc = info_string(c, NBD_INFO_NAME, exp.name);
	if (rc == 0 && (wanted & (1u << NBD_INFO_DESCRIPTION)) && exp.description != NULL)
		rc = info_string(c, NBD_INFO_DESCRIPTION, exp.description);
	if (rc == 0) {
		/* Sent whether asked or not: a client that did not ask may ignore
		 * it, and requests that break it get NBD_EINVAL either way. */
		nbd_put16(ib.type, NBD_INFO_BLOCK_SIZE);
		nbd_put32(ib.min, exp.block_min);
		nbd_put32(ib.pref, exp.block_pref);
		nbd_put32(ib.max, exp.block_max);
		rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_INFO, sizeof(ib));
		if (rc == 0)
			rc = nbd_out_append(c, &ib, sizeof(ib));
	}
	if (rc == 0)
		rc = rep(c, NBD_REP_ACK);
	if (rc < 0)
		return rc;
	if (c->opt == NBD_OPT_GO)
		enter_transmission(c, &exp);
	return 0;
}

static int
opt_structured_reply(struct nbd_conn *c)
{
	if (c->opt_len != 0)
		return rep_err(c, NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
	if (c->flags & NBD_CONN_NO_STRUCTURED)
		return rep_err(c, NBD_REP_ERR_UNSUP, "structured replies are disabled");
	if (c->mode == NBD_REPLY_EXTENDED)
		return rep_err(c, NBD_REP_ERR_EXT_HEADER_REQD,
			       "extended headers already negotiated");
	if (c->mode == NBD_REPLY_STRUCTURED)
		return rep_err(c, NBD_REP_ERR_INVALID, "structured replies already negotiated");
	c->mode = NBD_REPLY_STRUCTURED;
	return rep(c, NBD_REP_ACK);
}

static int
opt_extended_headers(struct nbd_conn *c)
{
	if (c->opt_len != 0)
		return rep_err(c, NBD_REP_ERR_INVALID, "NBD_OPT_EXTENDED_HEADERS takes no data");
	if (c->flags & NBD_CONN_NO_EXTENDED)
		return rep_err(c, NBD_REP_ERR_UNSUP, "extended headers are disabled");
	if (c->mode == NBD_REPLY_EXTENDED)
		return rep_err(c, NBD_REP_ERR_INVALID, "extended headers already negotiated");
	/* Takes precedence over structured replies, which it implies. */
	c->mode = NBD_REPLY_EXTENDED;
	return rep(c, NBD_REP_ACK);
}

/* Whether a query selects base:allocation; @p list allows "base:". */
static bool
query_matches(const uint8_t *q, uint32_t len, bool list)
{
	static const char ctx[] = NBD_META_BASE_ALLOCATION;
	static const size_t ns = sizeof("base:") - 1;

	if (len == sizeof(ctx) - 1 && memcmp(q, ctx, len) == 0)
		return true;
	return list && len == ns && memcmp(q, ctx, ns) == 0;
}

/* NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. */
static int
opt_meta_context(struct nbd_conn *c)
{
	static const char ctx[] = NBD_META_BASE_ALLOCATION;
	const bool set = c->opt == NBD_OPT_SET_META_CONTEXT;
	const uint8_t *d = c->opt_buf;
	struct nbd_wire_rep_meta_context m;
	struct nbd_export exp;
	uint32_t name_len, nq, qlen, i, off;
	bool match = false;
	int rc;

	/* A SET replaces what was chosen before, even when it fails. */
	if (set) {
		c->meta_set = false;
		c->meta_name[0] = '\0';
	}
	if (c->mode == NBD_REPLY_SIMPLE)
		return rep_err(c, NBD_REP_ERR_INVALID, "negotiate structured replies first");
	/* name length (4), name, query count (4), queries (length 4, query) */
	if (c->opt_len < 8)
		return rep_err(c, NBD_REP_ERR_INVALID, "option too short");
	name_len = nbd_get32(d);
	if (name_len > c->opt_len - 8)
		return rep_err(c, NBD_REP_ERR_INVALID, "name length beyond the option");
	if (take_name(c, d + 4, name_len) < 0)
		return rep_err(c, NBD_REP_ERR_INVALID, "bad export name");
	off = 4 + name_len;
	nq = nbd_get32(d + off);
	off += 4;
	/* Every query is checked before anything is answered. */
	for (i = 0; i < nq; i++) {
		if (c->opt_len - off < 4)
			return rep_err(c, NBD_REP_ERR_INVALID, "query count beyond the option");
		qlen = nbd_get32(d + off);
		off += 4;
		if (qlen > c->opt_len - off)
			return rep_err(c, NBD_REP_ERR_INVALID, "query length beyond the option");
		if (qlen > NBD_STRING_MAX || memchr(d + off, '\0', qlen) != NULL)
			return rep_err(c, NBD_REP_ERR_INVALID, "bad query");
		/* Queries of other namespaces, or without a colon, select
		 * nothing; the protocol says to ignore them. */
		if (query_matches(d + off, qlen, !set))
			match = true;
		off += qlen;
	}
	if (off != c->opt_len)
		return rep_err(c, NBD_REP_ERR_INVALID, "data after the last query");
	rc = lookup(c, &exp);
	if (rc < 0)
		return rep_err(c, rep_from_errno(rc),
			       rc == -ENOENT ? "no such export" : "export unavailable");
	if (!set && nq == 0)
		match = true; /* no query lists everything */
	if (!(exp.caps & NBD_EXPORT_BLOCK_STATUS))
		match = false;
	if (match) {
		/* In a LIST the id is reserved and zero. */
		nbd_put32(m.id, set ? NBD_META_ID_BASE_ALLOCATION : 0);
		rc = nbd_out_rep_hdr(c, c->opt, NBD_REP_META_CONTEXT,
				     (uint32_t)(sizeof(m) + sizeof(ctx) - 1));
		if (rc == 0)
			rc = nbd_out_append(c, &m, sizeof(m));
		if (rc == 0)
			rc = nbd_out_append(c, ctx, sizeof(ctx) - 1);
		if (rc < 0)
			return rc;
	}
	if (set && match) {
		c->meta_set = true;
		memcpy(c->meta_name, c->name, name_len + 1);
	}
	return rep(c, NBD_REP_ACK);
}

int
nbd_option_handle(struct nbd_conn *c)
{
	int rc;

	switch (c->opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c);
	case NBD_OPT_ABORT:
		/* Any data is ignored; the ACK is the last thing sent. */
		rc = rep(c, NBD_REP_ACK);
		c->phase = NBD_PHASE_CLOSED;
		return rc;
	case NBD_OPT_LIST:
		rc = opt_list(c);
		break;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		rc = opt_info_go(c);
		break;
	case NBD_OPT_STRUCTURED_REPLY:
		rc = opt_structured_reply(c);
		break;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		rc = opt_meta_context(c);
		break;
	case NBD_OPT_EXTENDED_HEADERS:
		rc = opt_extended_headers(c);
		break;
	case NBD_OPT_STARTTLS: /* this server does not do TLS at all */
	default:
		rc = rep_err(c, NBD_REP_ERR_UNSUP, "unsupported option");
		break;
	}
	/* The only failure left is running out of memory for the reply. */
	return rc < 0 ? opt_fail(c, rc) : 0;
}

const char *
nbd_opt_name(uint32_t opt)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return "NBD_OPT_EXPORT_NAME";
	case NBD_OPT_ABORT:
		return "NBD_OPT_ABORT";
	case NBD_OPT_LIST:
		return "NBD_OPT_LIST";
	case NBD_OPT_PEEK_EXPORT:
		return "NBD_OPT_PEEK_EXPORT";
	case NBD_OPT_STARTTLS:
		return "NBD_OPT_STARTTLS";
	case NBD_OPT_INFO:
		return "NBD_OPT_INFO";
	case NBD_OPT_GO:
		return "NBD_OPT_GO";
	case NBD_OPT_STRUCTURED_REPLY:
		return "NBD_OPT_STRUCTURED_REPLY";
	case NBD_OPT_LIST_META_CONTEXT:
		return "NBD_OPT_LIST_META_CONTEXT";
	case NBD_OPT_SET_META_CONTEXT:
		return "NBD_OPT_SET_META_CONTEXT";
	case NBD_OPT_EXTENDED_HEADERS:
		return "NBD_OPT_EXTENDED_HEADERS";
	default:
		return "unknown";
	}
}
