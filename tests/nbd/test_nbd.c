/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nbd driven byte by byte, with no socket: the whole fixed newstyle
 * handshake, every option (NBD_OPT_EXTENDED_HEADERS included), every
 * command in simple, structured and extended mode (32-byte headers,
 * 64-bit lengths and block status), every error case lib/nbd/nbd.h lists,
 * truncated and oversized messages, and the reply builders, byte-exact.
 *
 *   test_nbd [--corpus DIR]
 *
 * With --corpus it also writes the client byte streams of its sessions
 * into DIR, one file each: the fuzz target's seed corpus (tests/nbd/corpus).
 * Ends with one "N passed, N failed" line; exit 0 only if none failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd.h"

static unsigned passed, failed;
static const char *corpus_dir;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (cond) {                                                             \
			passed++;                                                       \
		} else {                                                                \
			failed++;                                                       \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long va_ = (long long)(a), vb_ = (long long)(b);                      \
		if (va_ == vb_) {                                                          \
			passed++;                                                          \
		} else {                                                                   \
			failed++;                                                          \
			fprintf(stderr, "FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__, \
				__LINE__, #a, #b, va_, vb_);                               \
		}                                                                          \
	} while (0)

/* ------------------------------------------------------------ exports */

#define MIB (1ull << 20)
#define TIB (1ull << 40)
#define CAPS_MEM                                                                                 \
	(NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_FUA | NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO | \
	 NBD_EXPORT_CAN_FAST_ZERO | NBD_EXPORT_CAN_MULTI_CONN | NBD_EXPORT_CAN_CACHE |           \
	 NBD_EXPORT_BLOCK_STATUS)
/* What "mem" advertises without and with structured replies. */
#define TF_MEM                                                                               \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM | \
	 NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN |    \
	 NBD_FLAG_SEND_CACHE)
#define TF_MEM_DF (TF_MEM | NBD_FLAG_SEND_DF)

static const struct nbd_export exports[] = {
	{ .name = "mem", .description = "memory export", .size = MIB, .caps = CAPS_MEM },
	{ .name = "ro",
	  .size = 64 << 10,
	  .caps = NBD_EXPORT_READ_ONLY | NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_TRIM |
		  NBD_EXPORT_CAN_FUA | NBD_EXPORT_BLOCK_STATUS },
	{ .name = "small",
	  .size = MIB,
	  .block_min = 512,
	  .block_pref = 4096,
	  .block_max = 65536,
	  .caps = NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO |
		  NBD_EXPORT_BLOCK_STATUS },
	{ .name = "big", .description = "", .size = TIB, .caps = CAPS_MEM },
	{ .name = "odd", .size = 1000, .block_min = 512, .caps = NBD_EXPORT_CAN_FLUSH },
	{ .name = "nobs", .size = MIB, .caps = NBD_EXPORT_CAN_FLUSH },
	{ .name = "bare", .size = MIB, .caps = NBD_EXPORT_ROTATIONAL },
	{ .name = "bad", .size = MIB, .block_min = 3 },
};
#define N_EXPORTS (sizeof(exports) / sizeof(exports[0]))

static int
t_lookup(void *opaque, const char *name, struct nbd_export *exp)
{
	size_t i;

	(void)opaque;
	if (name[0] == '\0')
		name = "mem";
	if (strcmp(name, "deny") == 0)
		return -EACCES;
	if (strcmp(name, "down") == 0)
		return -ESHUTDOWN;
	if (strcmp(name, "broken") == 0)
		return -EIO;
	for (i = 0; i < N_EXPORTS; i++) {
		if (strcmp(name, exports[i].name) == 0) {
			*exp = exports[i];
			exp->opaque = (void *)&exports[i];
			return 0;
		}
	}
	return -ENOENT;
}

static int
t_list(void *opaque, size_t index, struct nbd_export *exp)
{
	(void)opaque;
	if (index >= N_EXPORTS)
		return -ENOENT;
	*exp = exports[index];
	return 0;
}

static const struct nbd_server_ops ops = { .lookup = t_lookup, .list = t_list };
static const struct nbd_server_ops ops_nolist = { .lookup = t_lookup };

/* -------------------------------------------------------------- bytes */

struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static void
b_put(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
b_u16(struct bytes *b, uint16_t v)
{
	uint8_t x[2];

	nbd_put16(x, v);
	b_put(b, x, 2);
}

static void
b_u32(struct bytes *b, uint32_t v)
{
	uint8_t x[4];

	nbd_put32(x, v);
	b_put(b, x, 4);
}

static void
b_u64(struct bytes *b, uint64_t v)
{
	uint8_t x[8];

	nbd_put64(x, v);
	b_put(b, x, 8);
}

static void
b_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------ client side */

static void
c_opt(struct bytes *b, uint32_t opt, const void *data, uint32_t len)
{
	b_u64(b, NBD_MAGIC_OPT);
	b_u32(b, opt);
	b_u32(b, len);
	b_put(b, data, len);
}

/* NBD_OPT_INFO / NBD_OPT_GO */
static void
c_go(struct bytes *b, uint32_t opt, const char *name, const uint16_t *reqs, unsigned n)
{
	uint32_t nl = (uint32_t)strlen(name);
	unsigned i;

	b_u64(b, NBD_MAGIC_OPT);
	b_u32(b, opt);
	b_u32(b, 4 + nl + 2 + 2 * n);
	b_u32(b, nl);
	b_put(b, name, nl);
	b_u16(b, (uint16_t)n);
	for (i = 0; i < n; i++)
		b_u16(b, reqs[i]);
}

/* NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT */
static void
c_meta(struct bytes *b, uint32_t opt, const char *name, const char *const *q, unsigned nq)
{
	uint32_t nl = (uint32_t)strlen(name), len = 4 + nl + 4;
	unsigned i;

	for (i = 0; i < nq; i++)
		len += 4 + (uint32_t)strlen(q[i]);
	b_u64(b, NBD_MAGIC_OPT);
	b_u32(b, opt);
	b_u32(b, len);
	b_u32(b, nl);
	b_put(b, name, nl);
	b_u32(b, nq);
	for (i = 0; i < nq; i++) {
		b_u32(b, (uint32_t)strlen(q[i]));
		b_put(b, q[i], strlen(q[i]));
	}
}

static void
c_req(struct bytes *b, bool ext, uint16_t flags, uint16_t type, uint64_t cookie, uint64_t off,
      uint64_t len)
{
	b_u32(b, ext ? NBD_MAGIC_REQUEST_EXT : NBD_MAGIC_REQUEST);
	b_u16(b, flags);
	b_u16(b, type);
	b_u64(b, cookie);
	b_u64(b, off);
	if (ext)
		b_u64(b, len);
	else
		b_u32(b, (uint32_t)len);
}

/* ------------------------------------------------------ server side */

struct srv {
	struct nbd_conn *c;
	struct bytes out; /* everything the server queued */
	size_t rd;	  /* what the test has looked at */
};

static void
srv_open(struct srv *s, const struct nbd_server_ops *o, const struct nbd_conn_params *p)
{
	memset(s, 0, sizeof(*s));
	CHECK_EQ(nbd_conn_create(o, NULL, p, &s->c), 0);
}

static void
srv_close(struct srv *s)
{
	nbd_conn_destroy(s->c);
	b_free(&s->out);
}

/* Move what the connection queued into s->out. */
static void
srv_drain(struct srv *s)
{
	const void *d;
	size_t n = nbd_conn_output(s->c, &d);

	b_put(&s->out, d, n);
	CHECK_EQ(nbd_conn_output_consume(s->c, n), 0);
}

/*
 * Feed @p n bytes, one at a time if @p bytewise, draining the output as
 * a socket would. @return bytes consumed, or the first negative result.
 */
static ssize_t
srv_feed(struct srv *s, const uint8_t *p, size_t n, bool bytewise)
{
	size_t used = 0;
	ssize_t r;

	while (used < n) {
		enum nbd_phase ph = nbd_conn_phase(s->c);

		if (ph != NBD_PHASE_GREETING && ph != NBD_PHASE_OPTIONS)
			break;
		r = nbd_conn_input(s->c, p + used, bytewise ? 1 : n - used);
		srv_drain(s);
		if (r < 0)
			return r;
		if (r == 0 && nbd_conn_phase(s->c) == ph)
			continue; /* drained the backlog; go on */
		used += (size_t)r;
	}
	srv_drain(s);
	return (ssize_t)used;
}

static ssize_t
srv_feed_b(struct srv *s, const struct bytes *b, bool bytewise)
{
	return srv_feed(s, b->p, b->n, bytewise);
}

/* Skip the 18-byte greeting, checking it. */
static void
expect_greeting(struct srv *s)
{
	CHECK(s->out.n - s->rd >= 18);
	if (s->out.n - s->rd < 18)
		return;
	CHECK(nbd_get64(s->out.p + s->rd) == NBD_MAGIC_INIT);
	CHECK(nbd_get64(s->out.p + s->rd + 8) == NBD_MAGIC_OPT);
	CHECK_EQ(nbd_get16(s->out.p + s->rd + 16), NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	s->rd += 18;
}

/* The next option reply: @return its type, or 0 if none / malformed. */
static uint32_t
next_rep(struct srv *s, uint32_t opt, const uint8_t **data, uint32_t *len)
{
	const uint8_t *p = s->out.p + s->rd;
	uint32_t l;

	if (s->out.n - s->rd < 20)
		return 0;
	if (nbd_get64(p) != NBD_MAGIC_REP || nbd_get32(p + 8) != opt)
		return 0;
	l = nbd_get32(p + 16);
	if (s->out.n - s->rd - 20 < l)
		return 0;
	if (data != NULL)
		*data = p + 20;
	if (len != NULL)
		*len = l;
	s->rd += 20 + l;
	return nbd_get32(p + 12);
}

static bool
out_done(const struct srv *s)
{
	return s->rd == s->out.n;
}

/* Write a client stream into the corpus directory. */
static void
corpus_save(const char *name, const struct bytes *b)
{
	char path[4096];
	FILE *f;

	if (corpus_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(b->p, 1, b->n, f) != b->n) {
		fprintf(stderr, "cannot write %s\n", path);
		failed++;
	}
	if (f != NULL)
		fclose(f);
}

/* ------------------------------------------------------------ handshake */

static void
test_greeting_and_cflags(void)
{
	struct srv s;
	uint8_t cf[4];
	ssize_t r;

	srv_open(&s, &ops, NULL);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_GREETING);
	srv_drain(&s);
	CHECK_EQ(s.out.n, 18);
	expect_greeting(&s);
	/* Client flags one byte at a time. */
	nbd_put32(cf, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	CHECK_EQ(nbd_conn_input(s.c, cf, 1), 1);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_GREETING);
	CHECK_EQ(nbd_conn_input(s.c, cf + 1, 2), 2);
	CHECK_EQ(nbd_conn_input(s.c, cf + 3, 1), 1);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);
	CHECK_EQ(nbd_conn_input(s.c, cf, 0), 0);
	/* Wrong phase for requests. */
	{
		struct nbd_request req;

		CHECK_EQ(nbd_request_parse(s.c, cf, 4, &req), -EINVAL);
	}
	srv_close(&s);

	/* Unknown client flag: closed, nothing sent. */
	srv_open(&s, &ops, NULL);
	srv_drain(&s);
	nbd_put32(cf, NBD_FLAG_C_FIXED_NEWSTYLE | 0x4);
	r = nbd_conn_input(s.c, cf, 4);
	CHECK_EQ(r, -EPROTO);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	CHECK_EQ(nbd_conn_output(s.c, NULL), 0);
	CHECK_EQ(nbd_conn_input(s.c, cf, 4), -EINVAL);
	srv_close(&s);

	/* A client without FIXED_NEWSTYLE is served all the same. */
	srv_open(&s, &ops, NULL);
	nbd_put32(cf, 0);
	CHECK_EQ(nbd_conn_input(s.c, cf, 4), 4);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);
	srv_close(&s);

	/* Bad arguments. */
	{
		struct nbd_conn *c = (struct nbd_conn *)&s;
		struct nbd_conn_params p = { .flags = 0x80 };
		static const struct nbd_server_ops none = { 0 };

		CHECK_EQ(nbd_conn_create(NULL, NULL, NULL, &c), -EINVAL);
		CHECK(c == NULL);
		CHECK_EQ(nbd_conn_create(&none, NULL, NULL, &c), -EINVAL);
		CHECK_EQ(nbd_conn_create(&ops, NULL, &p, &c), -EINVAL);
		CHECK_EQ(nbd_conn_create(&ops, NULL, NULL, NULL), -EINVAL);
		CHECK_EQ(nbd_conn_input(NULL, cf, 4), -EINVAL);
		CHECK_EQ(nbd_conn_output_consume(NULL, 0), -EINVAL);
		CHECK_EQ(nbd_conn_phase(NULL), NBD_PHASE_CLOSED);
		nbd_conn_destroy(NULL);
	}
}

/* Open a connection and send the client flags; output drained. */
static void
srv_start(struct srv *s, const struct nbd_server_ops *o, const struct nbd_conn_params *p,
	  uint32_t cflags)
{
	struct bytes b = { 0 };

	srv_open(s, o, p);
	b_u32(&b, cflags);
	CHECK_EQ(srv_feed_b(s, &b, true), 4);
	expect_greeting(s);
	b_free(&b);
}

static void
test_export_name(void)
{
	struct srv s;
	struct bytes b = { 0 };
	const struct nbd_export *e;
	unsigned i;

	/* Default export, with the 124 zeroes, byte by byte. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "", 0);
	b_put(&b, "tail", 4); /* requests already: not the handshake's */
	CHECK_EQ(srv_feed_b(&s, &b, true), 16);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_TRANSMISSION);
	CHECK_EQ(s.out.n - s.rd, 10 + 124);
	CHECK(nbd_get64(s.out.p + s.rd) == MIB);
	CHECK_EQ(nbd_get16(s.out.p + s.rd + 8), TF_MEM);
	for (i = 0; i < 124; i++)
		if (s.out.p[s.rd + 10 + i] != 0)
			break;
	CHECK_EQ(i, 124);
	e = nbd_conn_export(s.c);
	CHECK(e != NULL && strcmp(e->name, "mem") == 0 && e->opaque == &exports[0]);
	CHECK(e != NULL && e->block_min == 1 && e->block_pref == 4096 && e->block_max == 32 * MIB);
	CHECK_EQ(nbd_conn_tflags(s.c), TF_MEM);
	CHECK_EQ(nbd_conn_reply_mode(s.c), NBD_REPLY_SIMPLE);
	CHECK_EQ(nbd_conn_request_size(s.c), 28);
	CHECK(!nbd_conn_meta_context(s.c, NULL));
	CHECK_EQ(nbd_conn_input(s.c, b.p, 1), -EINVAL);
	srv_close(&s);
	b_free(&b);

	/* NO_ZEROES: just size and flags; a read-only export. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "ro", 2);
	CHECK_EQ(srv_feed_b(&s, &b, false), 18);
	CHECK_EQ(s.out.n - s.rd, 10);
	CHECK(nbd_get64(s.out.p + s.rd) == 64 << 10);
	/* FUA and TRIM are not offered on a read-only export. */
	CHECK_EQ(nbd_get16(s.out.p + s.rd + 8),
		 NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH);
	srv_close(&s);
	b_free(&b);

	/* Unknown export: closed without a word. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "nope", 4);
	CHECK_EQ(srv_feed_b(&s, &b, true), -ENOENT);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	CHECK(out_done(&s));
	srv_close(&s);
	b_free(&b);

	/* A NUL inside the name; a misconfigured export; a lookup error. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "m\0m", 3);
	CHECK_EQ(srv_feed_b(&s, &b, false), -EPROTO);
	CHECK(out_done(&s));
	srv_close(&s);
	b_free(&b);
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "bad", 3);
	CHECK_EQ(srv_feed_b(&s, &b, false), -EPROTO);
	srv_close(&s);
	b_free(&b);

	/* After extended headers the client must not use it. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "", 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), -EPROTO);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ACK);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	srv_close(&s);
	b_free(&b);

	/* Structured replies may come before it: DF is then offered. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "mem", 3);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ACK);
	CHECK_EQ(nbd_get16(s.out.p + s.rd + 8), TF_MEM_DF);
	srv_close(&s);
	b_free(&b);
}

static void
test_abort(void)
{
	struct srv s;
	struct bytes b = { 0 };

	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_ABORT, "junk", 4); /* data is ignored */
	c_opt(&b, NBD_OPT_LIST, NULL, 0);    /* never read */
	CHECK_EQ(srv_feed_b(&s, &b, true), 20);
	CHECK_EQ(next_rep(&s, NBD_OPT_ABORT, NULL, NULL), NBD_REP_ACK);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	srv_close(&s);
	b_free(&b);
}

static void
test_list(void)
{
	struct nbd_conn_params p = { .flags = NBD_CONN_NO_LIST };
	struct srv s;
	struct bytes b = { 0 };
	const uint8_t *d;
	uint32_t len, t;
	unsigned n = 0;
	bool saw_mem = false;

	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_LIST, NULL, 0);
	c_opt(&b, NBD_OPT_LIST, "x", 1);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	while ((t = next_rep(&s, NBD_OPT_LIST, &d, &len)) == NBD_REP_SERVER) {
		uint32_t nl = nbd_get32(d);

		CHECK(nl <= len - 4);
		if (nl == 3 && memcmp(d + 4, "mem", 3) == 0) {
			saw_mem = true;
			CHECK(len - 4 - nl == strlen("memory export") &&
			      memcmp(d + 4 + nl, "memory export", len - 4 - nl) == 0);
		}
		CHECK(!(nl == 3 && memcmp(d + 4, "bad", 3) == 0)); /* skipped */
		n++;
	}
	CHECK_EQ(t, NBD_REP_ACK);
	CHECK_EQ(n, N_EXPORTS - 1);
	CHECK(saw_mem);
	CHECK_EQ(next_rep(&s, NBD_OPT_LIST, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);
	srv_close(&s);

	srv_start(&s, &ops, &p, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_LIST, NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, false), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_LIST, NULL, NULL), NBD_REP_ERR_POLICY);
	srv_close(&s);
	srv_start(&s, &ops_nolist, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	CHECK_EQ(srv_feed_b(&s, &b, false), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_LIST, NULL, NULL), NBD_REP_ERR_POLICY);
	CHECK(out_done(&s));
	srv_close(&s);
	b_free(&b);
}

/* Read the NBD_REP_INFO replies of an INFO/GO; @return the final type. */
struct info_seen {
	bool export, name, desc, bsize;
	uint64_t size;
	uint16_t tflags;
	char name_s[64], desc_s[64];
	uint32_t bmin, bpref, bmax;
	unsigned count;
};

static uint32_t
read_info(struct srv *s, uint32_t opt, struct info_seen *in)
{
	const uint8_t *d;
	uint32_t len, t;

	memset(in, 0, sizeof(*in));
	while ((t = next_rep(s, opt, &d, &len)) == NBD_REP_INFO) {
		uint16_t it;

		in->count++;
		CHECK(len >= 2);
		it = nbd_get16(d);
		switch (it) {
		case NBD_INFO_EXPORT:
			CHECK_EQ(len, 12);
			in->export = true;
			in->size = nbd_get64(d + 2);
			in->tflags = nbd_get16(d + 10);
			break;
		case NBD_INFO_NAME:
			CHECK(!in->name);
			in->name = true;
			snprintf(in->name_s, sizeof(in->name_s), "%.*s", (int)(len - 2), d + 2);
			break;
		case NBD_INFO_DESCRIPTION:
			in->desc = true;
			snprintf(in->desc_s, sizeof(in->desc_s), "%.*s", (int)(len - 2), d + 2);
			break;
		case NBD_INFO_BLOCK_SIZE:
			CHECK_EQ(len, 14);
			in->bsize = true;
			in->bmin = nbd_get32(d + 2);
			in->bpref = nbd_get32(d + 6);
			in->bmax = nbd_get32(d + 10);
			break;
		default:
			CHECK(!"unknown info type");
		}
	}
	return t;
}

static void
test_info_go(void)
{
	static const uint16_t all[] = { NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE,
					99, NBD_INFO_NAME };
	struct info_seen in;
	struct srv s;
	struct bytes b = { 0 };
	ssize_t r;

	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	/* INFO on the default export with every request (a repeat, an unknown). */
	c_go(&b, NBD_OPT_INFO, "", all, 5);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ACK);
	CHECK(in.export && in.name && in.desc && in.bsize);
	CHECK(in.size == MIB);
	CHECK_EQ(in.tflags, TF_MEM);
	CHECK(strcmp(in.name_s, "mem") == 0);
	CHECK(strcmp(in.desc_s, "memory export") == 0);
	CHECK(in.bmin == 1 && in.bpref == 4096 && in.bmax == 32 * MIB);
	CHECK_EQ(in.count, 4);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);
	CHECK(nbd_conn_export(s.c) == NULL);

	/* Without requests: the export and block sizes; no name, no description. */
	b.n = 0;
	c_go(&b, NBD_OPT_INFO, "small", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ACK);
	CHECK(in.export && !in.name && !in.desc && in.bsize);
	CHECK(in.bmin == 512 && in.bpref == 4096 && in.bmax == 65536);
	CHECK_EQ(in.tflags, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM |
				    NBD_FLAG_SEND_WRITE_ZEROES);
	/* An empty description is none. */
	b.n = 0;
	c_go(&b, NBD_OPT_INFO, "big", all, 3);
	CHECK_EQ(srv_feed_b(&s, &b, false), (ssize_t)b.n);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ACK);
	CHECK(in.export && in.name && !in.desc && in.size == TIB);

	/* Errors the lookup gives, each the final reply, none fatal. */
	b.n = 0;
	c_go(&b, NBD_OPT_INFO, "nope", NULL, 0);
	c_go(&b, NBD_OPT_GO, "nope", NULL, 0);
	c_go(&b, NBD_OPT_INFO, "deny", NULL, 0);
	c_go(&b, NBD_OPT_INFO, "down", NULL, 0);
	c_go(&b, NBD_OPT_INFO, "broken", NULL, 0);
	c_go(&b, NBD_OPT_GO, "bad", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ERR_UNKNOWN);
	CHECK_EQ(in.count, 0);
	CHECK_EQ(read_info(&s, NBD_OPT_GO, &in), NBD_REP_ERR_UNKNOWN);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ERR_POLICY);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ERR_SHUTDOWN);
	CHECK_EQ(read_info(&s, NBD_OPT_INFO, &in), NBD_REP_ERR_PLATFORM);
	CHECK_EQ(read_info(&s, NBD_OPT_GO, &in), NBD_REP_ERR_PLATFORM);
	CHECK(out_done(&s));

	/* Malformed: too short; name length beyond; count mismatch; a NUL. */
	b.n = 0;
	c_opt(&b, NBD_OPT_GO, "\0\0\0\0\0", 5);
	c_opt(&b, NBD_OPT_GO, "\0\0\0\x09mem\0\0", 9);
	c_opt(&b, NBD_OPT_GO, "\0\0\0\x03mem\0\x02\0\x01", 11);
	c_opt(&b, NBD_OPT_GO, "\0\0\0\x03mem\0\0\0", 10);
	c_opt(&b, NBD_OPT_INFO, "\0\0\0\x03m\0m\0\0", 9);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_GO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_GO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_GO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_GO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_INFO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);

	/* GO: transmission, and what follows GO is left for the requests. */
	b.n = 0;
	c_go(&b, NBD_OPT_GO, "mem", all, 3);
	{
		size_t go_len = b.n;

		c_req(&b, false, 0, NBD_CMD_READ, 1, 0, 512);
		r = srv_feed_b(&s, &b, false);
		CHECK_EQ(r, (ssize_t)go_len);
	}
	CHECK_EQ(read_info(&s, NBD_OPT_GO, &in), NBD_REP_ACK);
	CHECK(in.export && in.name && in.desc && in.bsize);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_TRANSMISSION);
	CHECK(nbd_conn_export(s.c) != NULL && nbd_conn_export(s.c)->size == MIB);
	CHECK_EQ(nbd_conn_tflags(s.c), TF_MEM);
	srv_close(&s);
	b_free(&b);
}

static void
test_structured_extended(void)
{
	struct nbd_conn_params p = { .flags = NBD_CONN_NO_STRUCTURED | NBD_CONN_NO_EXTENDED };
	struct srv s;
	struct bytes b = { 0 };

	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, "xy", 2);
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ACK);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ACK);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ERR_EXT_HEADER_REQD);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_reply_mode(s.c), NBD_REPLY_EXTENDED);
	CHECK_EQ(nbd_conn_request_size(s.c), 32);
	srv_close(&s);

	/* Refused by policy: ERR_UNSUP, so that clients fall back. */
	srv_start(&s, &ops, &p, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, false), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ERR_UNSUP);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ERR_UNSUP);
	CHECK_EQ(nbd_conn_reply_mode(s.c), NBD_REPLY_SIMPLE);
	srv_close(&s);
	b_free(&b);
}

/* Read NBD_REP_META_CONTEXT replies; @return the final type. */
static uint32_t
read_meta(struct srv *s, uint32_t opt, unsigned *n, uint32_t *id)
{
	const uint8_t *d;
	uint32_t len, t;

	*n = 0;
	while ((t = next_rep(s, opt, &d, &len)) == NBD_REP_META_CONTEXT) {
		CHECK(len == 4 + strlen(NBD_META_BASE_ALLOCATION) &&
		      memcmp(d + 4, NBD_META_BASE_ALLOCATION, len - 4) == 0);
		*id = nbd_get32(d);
		(*n)++;
	}
	return t;
}

static void
test_meta_context(void)
{
	static const char *const q_alloc[] = { "base:allocation" };
	static const char *const q_ns[] = { "base:" };
	static const char *const q_other[] = { "qemu:dirty-bitmap:x", "nocolon", "base:nothing" };
	static const char *const q_two[] = { "base:allocation", "base:allocation" };
	struct srv s;
	struct bytes b = { 0 };
	unsigned n;
	uint32_t id = 99;

	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* Before structured replies. */
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "", NULL, 0);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ERR_INVALID);
	CHECK_EQ(read_meta(&s, NBD_OPT_SET_META_CONTEXT, &n, &id), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_STRUCTURED_REPLY, NULL, NULL), NBD_REP_ACK);

	/* LIST: everything, the namespace wildcard, unknown queries. */
	b.n = 0;
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "", NULL, 0);
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "mem", q_ns, 1);
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "mem", q_other, 3);
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "nobs", NULL, 0);
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "nope", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK(n == 1 && id == 0);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 1);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 0);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 0);
	CHECK_EQ(read_meta(&s, NBD_OPT_LIST_META_CONTEXT, &n, &id), NBD_REP_ERR_UNKNOWN);

	/* SET: "base:" selects nothing; zero queries select nothing; a
	 * repeat selects once; then malformed ones. */
	b.n = 0;
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "mem", q_ns, 1);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "mem", NULL, 0);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "mem", q_two, 2);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(read_meta(&s, NBD_OPT_SET_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 0);
	CHECK_EQ(read_meta(&s, NBD_OPT_SET_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 0);
	CHECK_EQ(read_meta(&s, NBD_OPT_SET_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK(n == 1 && id != 0);

	b.n = 0;
	c_opt(&b, NBD_OPT_SET_META_CONTEXT, "\0\0\0", 3);	      /* short */
	c_opt(&b, NBD_OPT_SET_META_CONTEXT, "\0\0\0\x09mem\0", 8);    /* name */
	c_opt(&b, NBD_OPT_SET_META_CONTEXT, "\0\0\0\0\0\0\0\x01", 8); /* count */
	c_opt(&b, NBD_OPT_SET_META_CONTEXT,
	      "\0\0\0\0\0\0\0\x01\0\0\0\x05"
	      "ab",
	      14);						     /* qlen */
	c_opt(&b, NBD_OPT_SET_META_CONTEXT, "\0\0\0\0\0\0\0\0x", 9); /* trailing */
	c_opt(&b, NBD_OPT_LIST_META_CONTEXT,
	      "\0\0\0\0\0\0\0\x01\0\0\0\x02"
	      "a\0",
	      14);							 /* NUL */
	c_opt(&b, NBD_OPT_LIST_META_CONTEXT, "\0\0\0\x01\0\0\0\0\0", 9); /* NUL name */
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_SET_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_SET_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_SET_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_SET_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_SET_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_LIST_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, NBD_OPT_LIST_META_CONTEXT, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK(out_done(&s));

	/* The failed SETs cleared the choice: GO gives no context. */
	b.n = 0;
	c_go(&b, NBD_OPT_GO, "mem", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_TRANSMISSION);
	CHECK(!nbd_conn_meta_context(s.c, NULL));
	srv_close(&s);

	/* SET on one name, GO on another: no context. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "mem", q_alloc, 1);
	c_go(&b, NBD_OPT_GO, "", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_TRANSMISSION);
	CHECK(!nbd_conn_meta_context(s.c, NULL));
	srv_close(&s);

	/* SET and GO on the same name: base:allocation is on. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "mem", q_alloc, 1);
	c_go(&b, NBD_OPT_GO, "mem", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_EXTENDED_HEADERS, NULL, NULL), NBD_REP_ACK);
	CHECK_EQ(read_meta(&s, NBD_OPT_SET_META_CONTEXT, &n, &id), NBD_REP_ACK);
	CHECK_EQ(n, 1);
	{
		uint32_t got = 0;

		CHECK(nbd_conn_meta_context(s.c, &got));
		CHECK_EQ(got, id);
	}
	srv_close(&s);
	b_free(&b);
}

static void
test_unknown_and_limits(void)
{
	struct nbd_conn_params p = { .opt_max = 100 };
	static uint8_t junk[3000];
	struct srv s;
	struct bytes b = { 0 };
	const uint8_t *d;
	uint32_t len = 0;
	ssize_t r;
	unsigned i;

	/* Unknown options: answered, their data consumed to the byte. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	memset(junk, 0xa5, sizeof(junk));
	c_opt(&b, 99, junk, sizeof(junk));
	c_opt(&b, NBD_OPT_STARTTLS, NULL, 0);
	c_opt(&b, NBD_OPT_PEEK_EXPORT, junk, 7);
	c_opt(&b, 0, NULL, 0);
	c_opt(&b, 0xffffffffu, junk, 1);
	c_opt(&b, NBD_OPT_LIST, NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, 99, &d, &len), NBD_REP_ERR_UNSUP);
	CHECK(len > 0); /* a message for the user */
	CHECK_EQ(next_rep(&s, NBD_OPT_STARTTLS, NULL, NULL), NBD_REP_ERR_UNSUP);
	CHECK_EQ(next_rep(&s, NBD_OPT_PEEK_EXPORT, NULL, NULL), NBD_REP_ERR_UNSUP);
	CHECK_EQ(next_rep(&s, 0, NULL, NULL), NBD_REP_ERR_UNSUP);
	CHECK_EQ(next_rep(&s, 0xffffffffu, NULL, NULL), NBD_REP_ERR_UNSUP);
	while (next_rep(&s, NBD_OPT_LIST, NULL, NULL) == NBD_REP_SERVER)
		;
	CHECK(out_done(&s));

	/* Truncated: half an option header, then half its data. */
	b.n = 0;
	c_go(&b, NBD_OPT_INFO, "mem", NULL, 0);
	CHECK_EQ(srv_feed(&s, b.p, 8, false), 8);
	CHECK(out_done(&s));
	CHECK_EQ(srv_feed(&s, b.p + 8, 12, false), 12);
	CHECK(out_done(&s));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_OPTIONS);
	CHECK_EQ(srv_feed(&s, b.p + 20, b.n - 20, false), (ssize_t)(b.n - 20));
	CHECK_EQ(next_rep(&s, NBD_OPT_INFO, NULL, NULL), NBD_REP_INFO);
	srv_close(&s);

	/* Output sent in pieces while more is queued behind it. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_LIST, NULL, 0);
	{
		const void *o;
		struct bytes got = { 0 };
		size_t pend, k;

		for (k = 0; k < 40; k++) {
			CHECK_EQ(nbd_conn_input(s.c, b.p, b.n), (ssize_t)b.n);
			pend = nbd_conn_output(s.c, &o);
			b_put(&got, o, pend / 3);
			CHECK_EQ(nbd_conn_output_consume(s.c, pend / 3), 0);
		}
		pend = nbd_conn_output(s.c, &o);
		b_put(&got, o, pend);
		CHECK_EQ(nbd_conn_output_consume(s.c, pend), 0);
		CHECK_EQ(nbd_conn_output(s.c, &o), 0);
		b_put(&s.out, got.p, got.n);
		for (k = 0; k < 40; k++) {
			uint32_t t;

			while ((t = next_rep(&s, NBD_OPT_LIST, NULL, NULL)) == NBD_REP_SERVER)
				;
			if (t != NBD_REP_ACK)
				break;
		}
		CHECK_EQ(k, 40);
		CHECK(out_done(&s));
		b_free(&got);
	}
	srv_close(&s);

	/* Bad option magic: closed. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	b_u64(&b, NBD_MAGIC_INIT);
	b_u32(&b, NBD_OPT_LIST);
	b_u32(&b, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), -EPROTO);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	CHECK(out_done(&s));
	srv_close(&s);

	/* Oversized: answered TOO_BIG, then closed without reading the data. */
	for (i = 0; i < 2; i++) {
		srv_start(&s, &ops, i ? &p : NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
		b.n = 0;
		b_u64(&b, NBD_MAGIC_OPT);
		b_u32(&b, i ? NBD_OPT_GO : 99);
		b_u32(&b, i ? 101 : NBD_OPT_MAX_DEFAULT + 1);
		b_put(&b, junk, 64);
		r = srv_feed_b(&s, &b, i == 0);
		CHECK_EQ(r, -EMSGSIZE);
		CHECK_EQ(next_rep(&s, i ? NBD_OPT_GO : 99, NULL, NULL), NBD_REP_ERR_TOO_BIG);
		CHECK(out_done(&s));
		CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
		srv_close(&s);
	}
	/* At the limit is fine (and an option not parsed is skipped). */
	srv_start(&s, &ops, &p, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	c_opt(&b, NBD_OPT_GO, junk, 100);
	c_opt(&b, 77, junk, 100);
	CHECK_EQ(srv_feed_b(&s, &b, false), (ssize_t)b.n);
	CHECK_EQ(next_rep(&s, NBD_OPT_GO, NULL, NULL), NBD_REP_ERR_INVALID);
	CHECK_EQ(next_rep(&s, 77, NULL, NULL), NBD_REP_ERR_UNSUP);
	srv_close(&s);

	/* A client that never reads: taking options stops above the
	 * backlog limit, and resumes once the output is sent. */
	srv_start(&s, &ops, NULL, NBD_FLAG_C_FIXED_NEWSTYLE);
	b.n = 0;
	for (i = 0; i < 2000; i++)
		c_opt(&b, NBD_OPT_LIST, NULL, 0);
	r = nbd_conn_input(s.c, b.p, b.n);
	CHECK(r > 0 && (size_t)r < b.n);
	{
		const void *o;
		size_t pend = nbd_conn_output(s.c, &o);

		CHECK(pend > NBD_OUTPUT_HIGH && pend < NBD_OUTPUT_HIGH + 4096);
		CHECK_EQ(nbd_conn_input(s.c, b.p + r, b.n - (size_t)r), 0);
		CHECK_EQ(nbd_conn_output_consume(s.c, pend + 1), -EINVAL);
	}
	srv_drain(&s);
	CHECK_EQ(srv_feed(&s, b.p + r, b.n - (size_t)r, false), (ssize_t)(b.n - (size_t)r));
	for (i = 0; i < 2000; i++) {
		uint32_t t;

		while ((t = next_rep(&s, NBD_OPT_LIST, NULL, NULL)) == NBD_REP_SERVER)
			;
		if (t != NBD_REP_ACK)
			break;
	}
	CHECK_EQ(i, 2000);
	CHECK(out_done(&s));
	srv_close(&s);
	b_free(&b);
}

/* --------------------------------------------------------- transmission */

static const char *const q_alloc1[] = { NBD_META_BASE_ALLOCATION };

/*
 * Take a connection to transmission on @p name with @p mode negotiated
 * (and base:allocation if @p meta), appending the client's bytes to
 * @p b. Output is drained and skipped.
 */
static void
srv_session(struct srv *s, struct bytes *b, const char *name, enum nbd_reply_mode mode, bool meta)
{
	static const uint16_t reqs[] = { NBD_INFO_BLOCK_SIZE };
	size_t from = b->n;

	srv_open(s, &ops, NULL);
	b_u32(b, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	if (mode == NBD_REPLY_EXTENDED)
		c_opt(b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	else if (mode == NBD_REPLY_STRUCTURED)
		c_opt(b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	if (meta)
		c_meta(b, NBD_OPT_SET_META_CONTEXT, name, q_alloc1, 1);
	c_go(b, NBD_OPT_GO, name, reqs, 1);
	CHECK_EQ(srv_feed(s, b->p + from, b->n - from, true), (ssize_t)(b->n - from));
	CHECK_EQ(nbd_conn_phase(s->c), NBD_PHASE_TRANSMISSION);
	CHECK_EQ(nbd_conn_reply_mode(s->c), mode);
	CHECK_EQ(nbd_conn_meta_context(s->c, NULL), meta);
	s->rd = s->out.n;
}

/*
 * Parse the request at b[*pos], offering every shorter prefix first
 * (each must ask for more). Skips the payload it announces.
 */
static ssize_t
parse_at(struct srv *s, const struct bytes *b, size_t *pos, struct nbd_request *req)
{
	size_t hsz = nbd_conn_request_size(s->c), k, avail = b->n - *pos;
	ssize_t r;

	for (k = 0; k < hsz && k < avail && nbd_conn_phase(s->c) == NBD_PHASE_TRANSMISSION; k++)
		CHECK_EQ(nbd_request_parse(s->c, b->p + *pos, k, req), 0);
	r = nbd_request_parse(s->c, b->p + *pos, avail, req);
	if (r > 0) {
		*pos += (size_t)r;
		if (req->payload != NBD_PAYLOAD_NONE)
			*pos += req->payload_len < b->n - *pos ? req->payload_len : b->n - *pos;
	}
	return r;
}

/* One request: build it, parse it, @return its error (or the negative
 * parse result); @p out gets the request. */
static long long
one(struct srv *s, bool ext, uint16_t flags, uint16_t type, uint64_t off, uint64_t len,
    struct nbd_request *out)
{
	struct bytes b = { 0 };
	struct nbd_request req;
	size_t pos = 0;
	ssize_t r;

	c_req(&b, ext, flags, type, 0x1122334455667788ull, off, len);
	r = parse_at(s, &b, &pos, &req);
	b_free(&b);
	if (out != NULL)
		*out = req;
	if (r < 0)
		return r;
	CHECK_EQ(r, ext ? 32 : 28);
	CHECK(req.cookie == 0x1122334455667788ull && req.type == type && req.flags == flags);
	CHECK(req.offset == off);
	CHECK((req.error == 0) == (req.why == NULL));
	return req.error;
}

static void
test_requests_simple(void)
{
	struct srv s;
	struct bytes b = { 0 };
	struct nbd_request req;
	const uint16_t FUA = NBD_CMD_FLAG_FUA;

	srv_session(&s, &b, "mem", NBD_REPLY_SIMPLE, false);
	/* Valid, each command. */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 4096, &req), 0);
	CHECK(req.payload == NBD_PAYLOAD_NONE && req.payload_len == 0 && req.len == 4096);
	CHECK_EQ(one(&s, false, FUA, NBD_CMD_WRITE, 4096, 512, &req), 0);
	CHECK(req.payload == NBD_PAYLOAD_DATA && req.payload_len == 512);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(one(&s, false, FUA, NBD_CMD_FLUSH, 0, 0, NULL), 0); /* FUA is valid anywhere */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_TRIM, 0, MIB, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_CACHE, MIB - 1, 1, NULL), 0);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO | FUA,
		     NBD_CMD_WRITE_ZEROES, 0, MIB, NULL),
		 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, MIB, 0, NULL), 0); /* empty at the end */
	/* Errors, each in turn. */
	CHECK_EQ(one(&s, false, 0, 9, 0, 0, &req), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, 0xffff, 0, 0, &req), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0x40, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_PAYLOAD_LEN, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE, 0, 1, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD && req.payload_len == 1);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_TRIM, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 1, NULL),
		 NBD_EINVAL); /* simple */
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_BLOCK_STATUS, 0, 1, NULL), NBD_EINVAL); /* no context */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_FLUSH, 1, 0, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_FLUSH, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, MIB, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, MIB + 1, 0, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, MIB - 1, 2, &req), NBD_ENOSPC);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD && req.payload_len == 2);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE_ZEROES, MIB, 1, NULL), NBD_ENOSPC);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_TRIM, 1, MIB, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_CACHE, UINT64_MAX, 2, NULL), NBD_EINVAL); /* overflow */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, UINT64_MAX - 1, 4, NULL), NBD_ENOSPC);
	/* Read above the maximum payload: no data is sent, so EINVAL. */
	{
		struct bytes big = { 0 };
		size_t pos = 0;

		c_req(&big, false, 0, NBD_CMD_READ, 1, 0, 32 * MIB + 1);
		CHECK_EQ(parse_at(&s, &big, &pos, &req), 28);
		CHECK_EQ(req.error, NBD_EINVAL); /* beyond the end first */
		b_free(&big);
	}
	srv_close(&s);

	/* A small export with a block size and no FUA, cache, fast zero. */
	b.n = 0;
	srv_session(&s, &b, "small", NBD_REPLY_SIMPLE, false);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 512, 1024, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 511, 1024, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 512, 1000, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 65536, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 65536 + 512, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, FUA, NBD_CMD_WRITE, 0, 512, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_CACHE, 0, 512, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 0, 512, NULL),
		 NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 0, 512, NULL), 0);
	/* A write above the maximum: read and dropped up to 32 MiB ... */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 0, 65536 + 512, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD && req.payload_len == 65536 + 512);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 0, 32 * MIB, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD && req.payload_len == 32 * MIB);
	CHECK(nbd_conn_phase(s.c) == NBD_PHASE_TRANSMISSION);
	/* ... and above that, the connection ends. */
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 0, 32 * MIB + 1, &req), -EMSGSIZE);
	CHECK(req.why != NULL);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 512, NULL), -ESHUTDOWN);
	srv_close(&s);

	/* Read-only: every write is EPERM, even past the end; reads fine. */
	b.n = 0;
	srv_session(&s, &b, "ro", NBD_REPLY_SIMPLE, false);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 0, 512, &req), NBD_EPERM);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 1 << 20, 512, NULL), NBD_EPERM);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_TRIM, 0, 512, NULL), NBD_EPERM);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE_ZEROES, 0, 512, NULL), NBD_EPERM);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 512, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(one(&s, false, FUA, NBD_CMD_READ, 0, 512, NULL), NBD_EINVAL);
	srv_close(&s);

	/* An export whose size is not a multiple of its block size. */
	b.n = 0;
	srv_session(&s, &b, "odd", NBD_REPLY_SIMPLE, false);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 512, 488, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 512, 400, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_TRIM, 0, 512, NULL), NBD_EINVAL); /* not offered */
	srv_close(&s);

	/* An export that offers nothing but reads and writes. */
	b.n = 0;
	srv_session(&s, &b, "bare", NBD_REPLY_SIMPLE, false);
	CHECK_EQ(nbd_conn_tflags(s.c), NBD_FLAG_HAS_FLAGS | NBD_FLAG_ROTATIONAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_FLUSH, 0, 0, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_TRIM, 0, 512, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE_ZEROES, 0, 512, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_CACHE, 0, 512, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_WRITE, 0, 512, NULL), 0);
	srv_close(&s);

	/* A bad magic closes; so does a request after DISC. */
	b.n = 0;
	srv_session(&s, &b, "mem", NBD_REPLY_SIMPLE, false);
	{
		struct bytes r = { 0 };
		size_t pos = 0;

		c_req(&r, true, 0, NBD_CMD_READ, 1, 0, 512); /* extended, not negotiated */
		CHECK_EQ(parse_at(&s, &r, &pos, &req), -EPROTO);
		CHECK(req.why != NULL);
		CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
		b_free(&r);
	}
	srv_close(&s);
	b.n = 0;
	srv_session(&s, &b, "mem", NBD_REPLY_SIMPLE, false);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_DISC, 0, 0, &req), 0);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 512, NULL), -ESHUTDOWN);
	srv_close(&s);
	b_free(&b);
}

static void
test_requests_structured(void)
{
	struct srv s;
	struct bytes b = { 0 };
	struct nbd_request req;

	srv_session(&s, &b, "mem", NBD_REPLY_STRUCTURED, true);
	CHECK_EQ(nbd_conn_tflags(s.c), TF_MEM_DF);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 65536, NULL), 0);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_DF, NBD_CMD_WRITE, 0, 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_BLOCK_STATUS, 0, MIB, NULL), 0);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 0, 4096, NULL), 0);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_BLOCK_STATUS, 0, MIB + 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, false, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL);
	srv_close(&s);

	/* A read above the maximum: EOVERFLOW once chunks are possible. */
	b.n = 0;
	srv_session(&s, &b, "small", NBD_REPLY_STRUCTURED, false);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_READ, 0, 65536 + 512, &req), NBD_EOVERFLOW);
	CHECK_EQ(one(&s, false, 0, NBD_CMD_BLOCK_STATUS, 0, 512, NULL), NBD_EINVAL);
	srv_close(&s);

	/* Base:allocation on an export that does not offer it: no context. */
	b.n = 0;
	srv_open(&s, &ops, NULL);
	b_u32(&b, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_meta(&b, NBD_OPT_SET_META_CONTEXT, "nobs", q_alloc1, 1);
	c_go(&b, NBD_OPT_GO, "nobs", NULL, 0);
	CHECK_EQ(srv_feed_b(&s, &b, true), (ssize_t)b.n);
	CHECK(!nbd_conn_meta_context(s.c, NULL));
	CHECK_EQ(one(&s, false, 0, NBD_CMD_BLOCK_STATUS, 0, 512, NULL), NBD_EINVAL);
	srv_close(&s);
	b_free(&b);
}

static void
test_requests_extended(void)
{
	struct srv s;
	struct bytes b = { 0 };
	struct nbd_request req;
	const uint16_t PL = NBD_CMD_FLAG_PAYLOAD_LEN;

	srv_session(&s, &b, "big", NBD_REPLY_EXTENDED, true);
	CHECK_EQ(nbd_conn_request_size(s.c), 32);
	/* 64-bit effect lengths. */
	CHECK_EQ(one(&s, true, 0, NBD_CMD_TRIM, 0, 5ull << 30, &req), 0);
	CHECK(req.len == 5ull << 30 && req.payload == NBD_PAYLOAD_NONE);
	CHECK_EQ(one(&s, true, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 1ull << 32,
		     TIB - (1ull << 32), NULL),
		 0);
	CHECK_EQ(one(&s, true, 0, NBD_CMD_BLOCK_STATUS, 0, TIB, NULL), 0);
	CHECK_EQ(one(&s, true, 0, NBD_CMD_CACHE, 0, TIB + 1, NULL), NBD_EINVAL);
	CHECK_EQ(one(&s, true, 0, NBD_CMD_WRITE_ZEROES, TIB, 1, NULL), NBD_ENOSPC);
	/* A write carries PAYLOAD_LEN; its length is the payload. */
	CHECK_EQ(one(&s, true, PL, NBD_CMD_WRITE, 1ull << 35, 4096, &req), 0);
	CHECK(req.payload == NBD_PAYLOAD_DATA && req.payload_len == 4096 && req.len == 4096);
	CHECK_EQ(one(&s, true, 0, NBD_CMD_WRITE, 0, 4096, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_NONE); /* no flag: nothing follows */
	/* A payload on a command that takes none: dropped, EINVAL. */
	CHECK_EQ(one(&s, true, PL, NBD_CMD_BLOCK_STATUS, 0, 12, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD && req.payload_len == 12);
	CHECK_EQ(one(&s, true, PL, NBD_CMD_READ, 0, 8, &req), NBD_EINVAL);
	CHECK(req.payload == NBD_PAYLOAD_DISCARD);
	/* Reads: 64-bit but not above the maximum payload. */
	CHECK_EQ(one(&s, true, 0, NBD_CMD_READ, 0, 32 * MIB, NULL), 0);
	CHECK_EQ(one(&s, true, 0, NBD_CMD_READ, 0, 5ull << 30, NULL), NBD_EOVERFLOW);
	/* A payload too large to drop ends it. */
	CHECK_EQ(one(&s, true, PL, NBD_CMD_WRITE, 0, 1ull << 33, NULL), -EMSGSIZE);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	srv_close(&s);

	/* The compact magic is not spoken once extended headers are on. */
	b.n = 0;
	srv_session(&s, &b, "mem", NBD_REPLY_EXTENDED, false);
	{
		struct bytes r = { 0 };
		size_t pos = 0;

		c_req(&r, false, 0, NBD_CMD_READ, 1, 0, 512);
		b_put(&r, "pad!", 4);
		CHECK_EQ(parse_at(&s, &r, &pos, &req), -EPROTO);
		b_free(&r);
	}
	srv_close(&s);
	b_free(&b);
}

/* ------------------------------------------------------------- replies */

static void
test_errno_map(void)
{
	CHECK_EQ(nbd_errno_to_wire(0, 0), NBD_SUCCESS);
	CHECK_EQ(nbd_errno_to_wire(-EPERM, 0), NBD_EPERM);
	CHECK_EQ(nbd_errno_to_wire(EROFS, 0), NBD_EPERM);
	CHECK_EQ(nbd_errno_to_wire(-EIO, 0), NBD_EIO);
	CHECK_EQ(nbd_errno_to_wire(-ENOMEM, 0), NBD_ENOMEM);
	CHECK_EQ(nbd_errno_to_wire(-ENOSPC, 0), NBD_ENOSPC);
	CHECK_EQ(nbd_errno_to_wire(-EDQUOT, 0), NBD_ENOSPC);
	CHECK_EQ(nbd_errno_to_wire(-EFBIG, 0), NBD_ENOSPC);
	CHECK_EQ(nbd_errno_to_wire(-ESHUTDOWN, 0), NBD_ESHUTDOWN);
	CHECK_EQ(nbd_errno_to_wire(-ENOTSUP, 0), NBD_EINVAL);
	CHECK_EQ(nbd_errno_to_wire(-EOPNOTSUPP, NBD_CMD_FLAG_FAST_ZERO), NBD_ENOTSUP);
	CHECK_EQ(nbd_errno_to_wire(-EOVERFLOW, 0), NBD_EINVAL);
	CHECK_EQ(nbd_errno_to_wire(-EOVERFLOW, NBD_CMD_FLAG_DF), NBD_EOVERFLOW);
	CHECK_EQ(nbd_errno_to_wire(-EINVAL, 0), NBD_EINVAL);
	CHECK_EQ(nbd_errno_to_wire(-ENOENT, 0), NBD_EINVAL);
	CHECK_EQ(nbd_errno_to_wire(12345, 0), NBD_EINVAL);
}

/* A request as the parser would give it. */
static struct nbd_request
mkreq(uint16_t type, uint16_t flags, uint64_t off, uint64_t len)
{
	struct nbd_request r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.flags = flags;
	r.offset = off;
	r.len = len;
	r.cookie = 0xc0c0c0c0deadbeefull;
	return r;
}

/* Check a chunk header; @return its payload length. */
static uint64_t
chunk(const uint8_t *p, enum nbd_reply_mode mode, uint16_t flags, uint16_t type,
      const struct nbd_request *req)
{
	if (mode == NBD_REPLY_EXTENDED) {
		CHECK(nbd_get32(p) == NBD_MAGIC_EXTENDED);
		CHECK_EQ(nbd_get16(p + 4), flags);
		CHECK_EQ(nbd_get16(p + 6), type);
		CHECK(nbd_get64(p + 8) == req->cookie);
		CHECK(nbd_get64(p + 16) == req->offset);
		return nbd_get64(p + 24);
	}
	CHECK(nbd_get32(p) == NBD_MAGIC_STRUCTURED);
	CHECK_EQ(nbd_get16(p + 4), flags);
	CHECK_EQ(nbd_get16(p + 6), type);
	CHECK(nbd_get64(p + 8) == req->cookie);
	return nbd_get32(p + 16);
}

static void
test_replies(void)
{
	static const enum nbd_reply_mode modes[] = { NBD_REPLY_SIMPLE, NBD_REPLY_STRUCTURED,
						     NBD_REPLY_EXTENDED };
	uint8_t buf[2048];
	char longmsg[600];
	unsigned m;

	memset(longmsg, 'x', sizeof(longmsg));
	longmsg[sizeof(longmsg) - 1] = '\0';
	/* A 2-byte UTF-8 sequence across the cut. */
	longmsg[NBD_REPLY_MSG_MAX - 1] = (char)0xc3;
	longmsg[NBD_REPLY_MSG_MAX] = (char)0xa9;

	for (m = 0; m < 3; m++) {
		enum nbd_reply_mode mode = modes[m];
		const size_t hs = mode == NBD_REPLY_EXTENDED ? 32 : 20;
		struct srv s;
		struct bytes b = { 0 };
		struct nbd_request rd = mkreq(NBD_CMD_READ, 0, 4096, 8192);
		struct nbd_request wr = mkreq(NBD_CMD_WRITE, 0, 0, 512);
		struct nbd_request fl = mkreq(NBD_CMD_FLUSH, 0, 0, 0);
		ssize_t r;

		srv_session(&s, &b, "mem", mode, mode != NBD_REPLY_SIMPLE);

		/* ok */
		r = nbd_reply_ok(s.c, &wr, buf, sizeof(buf));
		if (mode == NBD_REPLY_SIMPLE) {
			CHECK_EQ(r, 16);
			CHECK(nbd_get32(buf) == NBD_MAGIC_SIMPLE && nbd_get32(buf + 4) == 0 &&
			      nbd_get64(buf + 8) == wr.cookie);
			CHECK_EQ(nbd_reply_ok(s.c, &rd, buf, sizeof(buf)), -EINVAL);
		} else {
			CHECK_EQ(r, (ssize_t)hs);
			CHECK_EQ(chunk(buf, mode, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, &wr),
				 0);
			CHECK_EQ(nbd_reply_ok(s.c, &rd, buf, sizeof(buf)), (ssize_t)hs);
		}
		CHECK_EQ(nbd_reply_ok(s.c, &fl, buf, 15), -ENOBUFS);
		CHECK_EQ(nbd_reply_ok(NULL, &fl, buf, sizeof(buf)), -EINVAL);

		/* error */
		r = nbd_reply_error(s.c, &rd, NBD_EIO, "disk on fire", buf, sizeof(buf));
		if (mode == NBD_REPLY_SIMPLE) {
			CHECK_EQ(r, 16);
			CHECK_EQ(nbd_get32(buf + 4), NBD_EIO);
		} else {
			CHECK_EQ(r, (ssize_t)(hs + 6 + 12));
			CHECK_EQ(chunk(buf, mode, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, &rd),
				 6 + 12);
			CHECK_EQ(nbd_get32(buf + hs), NBD_EIO);
			CHECK_EQ(nbd_get16(buf + hs + 4), 12);
			CHECK(memcmp(buf + hs + 6, "disk on fire", 12) == 0);
			r = nbd_reply_error(s.c, &rd, NBD_EIO, longmsg, buf, sizeof(buf));
			CHECK_EQ(nbd_get16(buf + hs + 4), NBD_REPLY_MSG_MAX - 1);
			CHECK(r <= (ssize_t)NBD_REPLY_ERROR_MAX);
			CHECK_EQ(nbd_reply_error(s.c, &rd, NBD_EIO, NULL, buf, sizeof(buf)),
				 (ssize_t)(hs + 6));
			CHECK_EQ(nbd_reply_error(s.c, &rd, NBD_EIO, "abc", buf, hs + 8), -ENOBUFS);
		}
		CHECK_EQ(nbd_reply_error(s.c, &rd, 0, NULL, buf, sizeof(buf)), -EINVAL);

		/* error offset */
		r = nbd_reply_error_offset(s.c, &rd, NBD_EIO, 4096 + 100, "bad", false, buf,
					   sizeof(buf));
		if (mode == NBD_REPLY_SIMPLE) {
			CHECK_EQ(r, -EPROTO);
		} else {
			CHECK_EQ(r, (ssize_t)(hs + 6 + 3 + 8));
			CHECK_EQ(chunk(buf, mode, 0, NBD_REPLY_TYPE_ERROR_OFFSET, &rd), 17);
			CHECK(nbd_get64(buf + hs + 9) == 4196);
			CHECK_EQ(nbd_reply_error_offset(s.c, &rd, NBD_EIO, 4095, NULL, true, buf,
							sizeof(buf)),
				 -EINVAL);
			CHECK_EQ(nbd_reply_error_offset(s.c, &rd, NBD_EIO, 4096 + 8192, NULL, true,
							buf, sizeof(buf)),
				 -EINVAL);
			CHECK_EQ(nbd_reply_error_offset(s.c, &fl, NBD_EIO, 0, NULL, true, buf,
							sizeof(buf)),
				 -EINVAL);
		}

		/* read data */
		r = nbd_reply_read_data(s.c, &rd, 4096, 8192, true, buf, sizeof(buf));
		if (mode == NBD_REPLY_SIMPLE) {
			CHECK_EQ(r, 16);
			CHECK(nbd_get32(buf) == NBD_MAGIC_SIMPLE && nbd_get32(buf + 4) == 0);
			CHECK_EQ(nbd_reply_read_data(s.c, &rd, 4096, 4096, true, buf, sizeof(buf)),
				 -EINVAL); /* no pieces */
		} else {
			CHECK_EQ(r, (ssize_t)(hs + 8));
			CHECK_EQ(chunk(buf, mode, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA,
				       &rd),
				 8 + 8192);
			CHECK(nbd_get64(buf + hs) == 4096);
			CHECK_EQ(nbd_reply_read_data(s.c, &rd, 8192, 4096, false, buf, sizeof(buf)),
				 (ssize_t)(hs + 8));
			CHECK_EQ(chunk(buf, mode, 0, NBD_REPLY_TYPE_OFFSET_DATA, &rd), 8 + 4096);
			CHECK_EQ(nbd_reply_read_data(s.c, &rd, 8192, 8192, false, buf, sizeof(buf)),
				 -EINVAL); /* past the request */
			CHECK_EQ(nbd_reply_read_data(s.c, &rd, 8192, 4096, false, buf, hs + 7),
				 -ENOBUFS);
		}
		CHECK_EQ(nbd_reply_read_data(s.c, &rd, 4096, 0, true, buf, sizeof(buf)), -EINVAL);
		CHECK_EQ(nbd_reply_read_data(s.c, &wr, 0, 512, true, buf, sizeof(buf)), -EINVAL);
		CHECK_EQ(nbd_reply_read_data(s.c, &rd, 0, 512, true, buf, sizeof(buf)), -EINVAL);

		/* read hole */
		r = nbd_reply_read_hole(s.c, &rd, 4096, 4096, false, buf, sizeof(buf));
		if (mode == NBD_REPLY_SIMPLE) {
			CHECK_EQ(r, -EPROTO);
		} else {
			struct nbd_request df = mkreq(NBD_CMD_READ, NBD_CMD_FLAG_DF, 0, 4096);

			CHECK_EQ(r, (ssize_t)(hs + 12));
			CHECK_EQ(chunk(buf, mode, 0, NBD_REPLY_TYPE_OFFSET_HOLE, &rd), 12);
			CHECK(nbd_get64(buf + hs) == 4096);
			CHECK_EQ(nbd_get32(buf + hs + 8), 4096);
			CHECK_EQ(nbd_reply_read_hole(s.c, &df, 0, 4096, true, buf, sizeof(buf)),
				 -EINVAL);
			CHECK_EQ(nbd_reply_read_hole(s.c, &rd, 4096, 0, true, buf, sizeof(buf)),
				 -EINVAL);
			CHECK(hs + 12 <= NBD_REPLY_HOLE_MAX);
		}
		srv_close(&s);
		b_free(&b);
	}
}

static void
test_block_status(void)
{
	struct nbd_extent ext[4] = {
		{ .length = 4096, .flags = 0 },
		{ .length = 8192, .flags = NBD_STATE_HOLE | NBD_STATE_ZERO },
		{ .length = 6ull << 30, .flags = NBD_STATE_ZERO },
		{ .length = 4096, .flags = 0 },
	};
	uint8_t buf[512];
	size_t used;
	unsigned m;

	for (m = 0; m < 2; m++) {
		const bool wide = m == 1;
		const size_t hs = wide ? 32 + 8 : 20 + 4, es = wide ? 16 : 8;
		enum nbd_reply_mode mode = wide ? NBD_REPLY_EXTENDED : NBD_REPLY_STRUCTURED;
		struct nbd_request bs = mkreq(NBD_CMD_BLOCK_STATUS, 0, 0, 10000);
		struct nbd_request one_ =
			mkreq(NBD_CMD_BLOCK_STATUS, NBD_CMD_FLAG_REQ_ONE, 0, 1000);
		struct nbd_request all = mkreq(NBD_CMD_BLOCK_STATUS, 0, 0, TIB);
		struct srv s;
		struct bytes b = { 0 };
		uint32_t id;
		ssize_t r;

		srv_session(&s, &b, "big", mode, true);
		CHECK(nbd_conn_meta_context(s.c, &id));
		/* Stops with the extent that reaches the request's end. */
		r = nbd_reply_block_status(s.c, &bs, ext, 4, true, &used, buf, sizeof(buf));
		CHECK_EQ(used, 2);
		CHECK_EQ(r, (ssize_t)(hs + 2 * es));
		CHECK_EQ(chunk(buf, mode, NBD_REPLY_FLAG_DONE,
			       wide ? NBD_REPLY_TYPE_BLOCK_STATUS_EXT : NBD_REPLY_TYPE_BLOCK_STATUS,
			       &bs),
			 hs - (wide ? 32 : 20) + 2 * es);
		if (wide) {
			CHECK_EQ(nbd_get32(buf + 32), id);
			CHECK_EQ(nbd_get32(buf + 36), 2);
			CHECK(nbd_get64(buf + 40) == 4096 && nbd_get64(buf + 48) == 0);
			CHECK(nbd_get64(buf + 56) == 8192 && nbd_get64(buf + 64) == 3);
		} else {
			CHECK_EQ(nbd_get32(buf + 20), id);
			CHECK(nbd_get32(buf + 24) == 4096 && nbd_get32(buf + 28) == 0);
			CHECK(nbd_get32(buf + 32) == 8192 && nbd_get32(buf + 36) == 3);
		}
		/* REQ_ONE: one extent, cut to the request. */
		r = nbd_reply_block_status(s.c, &one_, ext, 4, false, &used, buf, sizeof(buf));
		CHECK_EQ(used, 1);
		CHECK_EQ(r, (ssize_t)(hs + es));
		CHECK(wide ? nbd_get64(buf + 40) == 1000 : nbd_get32(buf + 24) == 1000);
		/* A 6 GiB extent: whole when wide, cut (and last) when compact. */
		r = nbd_reply_block_status(s.c, &all, ext, 4, true, &used, buf, sizeof(buf));
		if (wide) {
			CHECK_EQ(used, 4);
			CHECK(nbd_get64(buf + 40 + 2 * 16) == 6ull << 30);
		} else {
			CHECK_EQ(used, 3);
			CHECK_EQ(nbd_get32(buf + 24 + 2 * 8), UINT32_MAX);
		}
		/* As many as fit. */
		r = nbd_reply_block_status(s.c, &all, ext, 4, true, &used, buf, hs + es + es - 1);
		CHECK_EQ(used, 1);
		CHECK_EQ(nbd_reply_block_status(s.c, &all, ext, 4, true, &used, buf, hs + es - 1),
			 -ENOBUFS);
		CHECK(NBD_REPLY_BLOCK_STATUS_SIZE(4) >= hs + 4 * es);
		/* Misuse. */
		{
			struct nbd_extent zero = { 0, 0 };
			struct nbd_request rd = mkreq(NBD_CMD_READ, 0, 0, 512);

			CHECK_EQ(nbd_reply_block_status(s.c, &bs, &zero, 1, true, NULL, buf,
							sizeof(buf)),
				 -EINVAL);
			CHECK_EQ(nbd_reply_block_status(s.c, &bs, ext, 0, true, NULL, buf,
							sizeof(buf)),
				 -EINVAL);
			CHECK_EQ(nbd_reply_block_status(s.c, &rd, ext, 1, true, NULL, buf,
							sizeof(buf)),
				 -EINVAL);
		}
		srv_close(&s);

		/* Without a context there is no block status to send. */
		b.n = 0;
		srv_session(&s, &b, "big", mode, false);
		CHECK_EQ(nbd_reply_block_status(s.c, &bs, ext, 1, true, NULL, buf, sizeof(buf)),
			 -EPROTO);
		srv_close(&s);
		b_free(&b);
	}
	/* A compact cut keeps the next extent aligned to block_min. */
	{
		struct nbd_extent huge = { .length = 5ull << 30, .flags = 0 };
		struct nbd_request bs = mkreq(NBD_CMD_BLOCK_STATUS, 0, 0, 1ull << 20);
		struct srv s;
		struct bytes b = { 0 };

		srv_session(&s, &b, "small", NBD_REPLY_STRUCTURED, true);
		bs.len = MIB;
		CHECK_EQ(nbd_reply_block_status(s.c, &bs, &huge, 1, true, &used, buf, sizeof(buf)),
			 20 + 4 + 8);
		CHECK_EQ(nbd_get32(buf + 24), UINT32_MAX - 511);
		srv_close(&s);
		b_free(&b);
	}
}

static void
test_export_check(void)
{
	struct nbd_export e = { .name = "x", .size = 1 };
	char big[NBD_STRING_MAX + 2];

	CHECK_EQ(nbd_export_check(&e), 0);
	CHECK_EQ(nbd_export_check(NULL), -EINVAL);
	e.name = NULL;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	e.name = big;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	big[NBD_STRING_MAX] = '\0';
	CHECK_EQ(nbd_export_check(&e), 0);
	e.name = "x";
	e.caps = 1u << 31;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.caps = NBD_EXPORT_CAN_FAST_ZERO;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.caps = 0;
	e.block_min = 65536 * 2;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.block_min = 4096;
	e.block_pref = 2048;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.block_pref = 0; /* defaults to block_min */
	CHECK_EQ(nbd_export_check(&e), 0);
	e.block_min = 256;
	e.block_pref = 256; /* below 512 */
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.block_pref = 512;
	e.block_max = 500;
	CHECK_EQ(nbd_export_check(&e), -EINVAL);
	e.block_max = 0;
	e.size = UINT64_MAX;
	CHECK_EQ(nbd_export_check(&e), -EOVERFLOW);
	CHECK(strcmp(nbd_cmd_name(NBD_CMD_WRITE_ZEROES), "NBD_CMD_WRITE_ZEROES") == 0);
	CHECK(strcmp(nbd_cmd_name(99), "unknown") == 0);
	CHECK(strcmp(nbd_opt_name(NBD_OPT_EXTENDED_HEADERS), "NBD_OPT_EXTENDED_HEADERS") == 0);
	CHECK(strcmp(nbd_opt_name(99), "unknown") == 0);
}

/* -------------------------------------------------- whole sessions */

/*
 * Whole client sessions, as real clients order them: the handshake, a
 * request of each kind with its payload, DISC. Each is driven byte by
 * byte (handshake) and prefix by prefix (requests); each becomes a seed
 * of the fuzz corpus.
 */
static void
session(const char *file, const char *name, enum nbd_reply_mode mode, bool meta)
{
	static const uint8_t data[512] = { 1, 2, 3 };
	const bool ext = mode == NBD_REPLY_EXTENDED;
	const uint16_t PL = ext ? NBD_CMD_FLAG_PAYLOAD_LEN : 0;
	struct srv s;
	struct bytes b = { 0 };
	struct nbd_request req;
	size_t pos, start;
	unsigned n = 0, errors = 0;
	uint16_t tf;
	ssize_t r;

	srv_session(&s, &b, name, mode, meta);
	tf = nbd_conn_tflags(s.c);
	start = b.n;
	c_req(&b, ext, 0, NBD_CMD_READ, 1, 0, 4096);
	c_req(&b, ext, PL | (tf & NBD_FLAG_SEND_FUA ? NBD_CMD_FLAG_FUA : 0), NBD_CMD_WRITE, 2, 512,
	      512);
	b_put(&b, data, 512);
	c_req(&b, ext, 0, NBD_CMD_FLUSH, 3, 0, 0);
	c_req(&b, ext, 0, NBD_CMD_TRIM, 4, 8192, 4096);
	c_req(&b, ext, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 5, 16384, 4096);
	if (tf & NBD_FLAG_SEND_CACHE)
		c_req(&b, ext, 0, NBD_CMD_CACHE, 6, 0, 65536);
	if (meta) {
		c_req(&b, ext, 0, NBD_CMD_BLOCK_STATUS, 7, 0, 65536);
		c_req(&b, ext, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 8, 4096, 4096);
	}
	if (mode != NBD_REPLY_SIMPLE)
		c_req(&b, ext, NBD_CMD_FLAG_DF, NBD_CMD_READ, 9, 4096, 4096);
	c_req(&b, ext, 0, NBD_CMD_READ, 10, nbd_conn_export(s.c)->size, 512); /* an error */
	c_req(&b, ext, 0, NBD_CMD_DISC, 11, 0, 0);
	pos = start;
	while (pos < b.n) {
		r = parse_at(&s, &b, &pos, &req);
		CHECK(r > 0);
		if (r <= 0)
			break;
		n++;
		if (req.error != 0)
			errors++;
		CHECK(req.payload != NBD_PAYLOAD_DISCARD);
	}
	CHECK_EQ(pos, b.n);
	CHECK_EQ(errors, 1);
	CHECK_EQ(n, 7 + !!(tf & NBD_FLAG_SEND_CACHE) + (meta ? 2 : 0) + (mode != NBD_REPLY_SIMPLE));
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	corpus_save(file, &b);
	srv_close(&s);
	b_free(&b);
}

/* 32 requests in flight, then DISC: all decode from one buffer, and each
 * can still be answered after the phase went to CLOSED. */
static void
test_in_flight_disc(void)
{
	struct srv s;
	struct bytes b = { 0 };
	struct nbd_request req[33];
	uint8_t buf[64];
	size_t pos, k;
	unsigned i;

	srv_session(&s, &b, "mem", NBD_REPLY_STRUCTURED, false);
	pos = b.n;
	for (i = 0; i < 32; i++)
		c_req(&b, false, 0, i % 2 ? NBD_CMD_READ : NBD_CMD_FLUSH, 100 + i, 0,
		      i % 2 ? 4096 : 0);
	c_req(&b, false, 0, NBD_CMD_DISC, 999, 0, 0);
	for (k = 0; k < 33; k++) {
		CHECK_EQ(nbd_request_parse(s.c, b.p + pos, b.n - pos, &req[k]), 28);
		pos += 28;
		CHECK_EQ(req[k].error, 0);
		CHECK(req[k].cookie == (k < 32 ? 100 + k : 999));
	}
	CHECK_EQ(pos, b.n);
	CHECK_EQ(nbd_conn_phase(s.c), NBD_PHASE_CLOSED);
	for (k = 0; k < 32; k++) {
		if (req[k].type == NBD_CMD_READ)
			CHECK_EQ(nbd_reply_read_data(s.c, &req[k], 0, 4096, true, buf, sizeof(buf)),
				 28);
		else
			CHECK_EQ(nbd_reply_ok(s.c, &req[k], buf, sizeof(buf)), 20);
	}
	srv_close(&s);
	b_free(&b);
}

/* Handshake-only seeds: listing, info, metadata queries, abort. */
static void
seeds_handshake(void)
{
	static const uint16_t all[] = { NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE };
	static const char *const q[] = { "base:" };
	struct bytes b = { 0 };

	b_u32(&b, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	c_opt(&b, NBD_OPT_LIST, NULL, 0);
	c_opt(&b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_meta(&b, NBD_OPT_LIST_META_CONTEXT, "mem", q, 1);
	c_go(&b, NBD_OPT_INFO, "mem", all, 3);
	c_opt(&b, 99, "xyz", 3);
	c_opt(&b, NBD_OPT_ABORT, NULL, 0);
	corpus_save("handshake-list-info-abort", &b);
	b.n = 0;
	b_u32(&b, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_opt(&b, NBD_OPT_EXPORT_NAME, "mem", 3);
	c_req(&b, false, 0, NBD_CMD_WRITE, 1, 0, 8);
	b_put(&b, "abcdefgh", 8);
	c_req(&b, false, 0, NBD_CMD_READ, 2, 0, 8);
	c_req(&b, false, 0, NBD_CMD_DISC, 3, 0, 0);
	corpus_save("export-name-simple", &b);
	b_free(&b);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0) {
		corpus_dir = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--corpus DIR]\n", argv[0]);
		return 2;
	}
	test_greeting_and_cflags();
	test_export_name();
	test_abort();
	test_list();
	test_info_go();
	test_structured_extended();
	test_meta_context();
	test_unknown_and_limits();
	test_requests_simple();
	test_requests_structured();
	test_requests_extended();
	test_errno_map();
	test_replies();
	test_block_status();
	test_export_check();
	test_in_flight_disc();
	session("session-simple", "mem", NBD_REPLY_SIMPLE, false);
	session("session-structured", "mem", NBD_REPLY_STRUCTURED, true);
	session("session-extended", "mem", NBD_REPLY_EXTENDED, true);
	session("session-extended-big", "big", NBD_REPLY_EXTENDED, true);
	session("session-structured-small", "small", NBD_REPLY_STRUCTURED, true);
	seeds_handshake();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
