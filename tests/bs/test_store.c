/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's block store (apps/nbs/store.h) on both kinds: every op with random
 * data checked against a reference buffer, many requests in flight and
 * completing out of order, the bounds and flag checks, FLUSH and FUA, TRIM
 * and WRITE_ZEROES reading back zeros, sparse memory and sparse files, the
 * pread fallback, the event-loop calls, and a FLUSH that survives kill -9.
 *
 *   test_store CASE [SEED]
 *
 * CASE: spec, bounds, memory, memory512, file, file_sync, file_nofalloc,
 * file_tmpfs, sparse, events, durability, ooo, all. Temporary files go to $TMPDIR (or /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulk/bulk_alloc.h>

#include "app_opts.h"
#include "check.h"
#include "store.h"

#define MAX_QD 256

static uint64_t rng_state = 20261123;

static uint64_t
rnd(void)
{
	/* xorshift64*: reproducible from the seed on every platform. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint64_t
rnd_below(uint64_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* ------------------------------------------------------------ helpers */

/* A request as the tests use it: the store's part first. */
struct tio {
	struct nbs_store_req req;
	int status;
	int calls;       /* callbacks seen: must end at exactly 1 */
	unsigned seq;    /* submission order */
	unsigned order;  /* completion order */
	uint8_t *expect; /* READ: the reference bytes, compared on completion */
	uint8_t *data;   /* READ/WRITE buffer */
};

static unsigned completions;
static unsigned mismatches;

static void
tio_done(struct nbs_store_req *req, int status)
{
	struct tio *t = (struct tio *)req; /* req is the first member */

	t->status = status;
	t->calls++;
	t->order = completions++;
	if (status == 0 && req->op == NBS_STORE_OP_READ && t->expect != NULL &&
	    memcmp(t->data, t->expect, req->len) != 0) {
		fprintf(stderr, "READ %llu+%llu: data differs from the reference\n",
			(unsigned long long)req->offset, (unsigned long long)req->len);
		mismatches++;
	}
}

static char tmpdir_buf[512];

static const char *
tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir_buf, sizeof(tmpdir_buf), "%s", t != NULL && *t ? t : "/tmp");
	return tmpdir_buf;
}

/* A sparse temporary file of @p size bytes in @p dir (NULL: $TMPDIR); its path in @p path. */
static int
make_file_in(const char *dir, char *path, size_t path_len, uint64_t size)
{
	int fd;

	snprintf(path, path_len, "%s/test_store.XXXXXX", dir != NULL ? dir : tmpdir());
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_RC(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int
make_file(char *path, size_t path_len, uint64_t size)
{
	return make_file_in(NULL, path, path_len, size);
}

static struct nbs_store *
open_store(const char *spec, const struct nbs_store_params *p)
{
	struct nbs_store *s = NULL;
	char err[256] = "";
	struct nbs_store_params pp = { 0 };
	int rc;

	if (p != NULL)
		pp = *p;
	pp.err = err;
	pp.err_len = sizeof(err);
	rc = nbs_store_open(spec, &pp, &s);
	if (rc != 0)
		fprintf(stderr, "open %s: %s (%s)\n", spec, bulk_strerror(rc), err);
	CHECK_RC(rc, 0);
	return s;
}

/* Submit one request and wait for it; @return its status. */
static int
do_sync(struct nbs_store *s, unsigned op, unsigned flags, uint64_t off, uint64_t len, void *buf)
{
	struct tio t = { 0 };
	int rc;

	nbs_store_req_init(&t.req, op, flags, off, len, buf, tio_done, NULL);
	rc = nbs_store_submit(s, &t.req);
	if (rc < 0)
		return rc;
	CHECK(nbs_store_drain(s) >= 1);
	CHECK_EQ_INT(t.calls, 1);
	return t.status;
}

/* ---------------------------------------------- random ops vs reference */

struct range {
	uint64_t off, len;
};

static bool
overlaps(const struct range *r, unsigned n, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (off < r[i].off + r[i].len && r[i].off < off + len)
			return true;
	return false;
}

/*
 * Rounds of up to @p qd requests in flight at once, with ranges that do not
 * overlap each other (so the reference is right whatever order they finish
 * in), each read checked at its completion, the whole store read back at
 * the end.
 */
static void
random_body(struct nbs_store *s, unsigned rounds, unsigned qd, uint64_t max_len, bool trim_zeroes)
{
	static struct tio tios[MAX_QD];
	struct range busy[MAX_QD];
	uint64_t size = s->size;
	uint8_t *ref = calloc(1, size);
	uint64_t ops_seen[NBS_STORE_OP_COUNT] = { 0 };
	uint64_t slow_zeroes = 0;
	struct nbs_store_stats st;

	CHECK(ref != NULL && qd <= MAX_QD);
	mismatches = 0;
	for (unsigned r = 0; r < rounds; r++) {
		unsigned n = 1 + (unsigned)rnd_below(qd);

		completions = 0;
		for (unsigned i = 0; i < n; i++) {
			struct tio *t = &tios[i];
			unsigned pick = (unsigned)rnd_below(100);
			unsigned op, flags = 0;
			uint64_t off = 0, len = 0;
			int tries = 0;

			memset(t, 0, sizeof(*t));
			op = pick < 35 ? NBS_STORE_OP_READ
			     : pick < 70 ? NBS_STORE_OP_WRITE
			     : pick < 82 ? NBS_STORE_OP_TRIM
			     : pick < 95 ? NBS_STORE_OP_WRITE_ZEROES
					 : NBS_STORE_OP_FLUSH;
			if (op != NBS_STORE_OP_FLUSH) {
				do {
					len = 1 + rnd_below(max_len);
					if (rnd_below(2) == 0) /* half block aligned */
						len = (len + s->block_size - 1) / s->block_size *
						      s->block_size;
					if (len > size)
						len = size;
					off = rnd_below(size - len + 1);
					if (rnd_below(2) == 0)
						off = off / s->block_size * s->block_size;
				} while (overlaps(busy, i, off, len) && ++tries < 50);
				if (tries >= 50) {
					op = NBS_STORE_OP_FLUSH;
					off = len = 0;
				}
			}
			busy[i].off = off;
			busy[i].len = len;
			if (rnd_below(4) == 0 && op != NBS_STORE_OP_READ)
				flags |= NBS_STORE_REQ_FUA;
			if (op == NBS_STORE_OP_WRITE_ZEROES && rnd_below(2) == 0)
				flags |= NBS_STORE_REQ_NO_HOLE;
			if (op == NBS_STORE_OP_WRITE_ZEROES && rnd_below(4) == 0)
				flags |= NBS_STORE_REQ_FAST_ZERO;
			if (op == NBS_STORE_OP_READ || op == NBS_STORE_OP_WRITE) {
				t->data = malloc(len);
				CHECK(t->data != NULL);
				/* Garbage in read buffers: the store must overwrite all. */
				rnd_fill(t->data, len);
			}
			if (op == NBS_STORE_OP_READ) {
				t->expect = malloc(len);
				CHECK(t->expect != NULL);
				memcpy(t->expect, ref + off, len);
			} else if (op == NBS_STORE_OP_WRITE) {
				memcpy(ref + off, t->data, len);
			} else if (op == NBS_STORE_OP_WRITE_ZEROES ||
				   (op == NBS_STORE_OP_TRIM && trim_zeroes)) {
				memset(ref + off, 0, len);
			}
			t->seq = i;
			nbs_store_req_init(&t->req, op, flags, off, len, t->data, tio_done, NULL);
			CHECK_RC(nbs_store_submit(s, &t->req), 0);
			ops_seen[op]++;
		}
		CHECK_EQ_INT(nbs_store_inflight(s), n);
		CHECK_EQ_INT(nbs_store_drain(s), n);
		CHECK_EQ_INT(nbs_store_inflight(s), 0);
		for (unsigned i = 0; i < n; i++) {
			struct tio *t = &tios[i];

			CHECK_EQ_INT(t->calls, 1);
			if (t->status == -EOPNOTSUPP &&
			    (t->req.flags & NBS_STORE_REQ_FAST_ZERO) != 0) {
				/* Could not be fast: the client writes zeros instead. */
				slow_zeroes++;
				CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, 0, t->req.offset,
						 t->req.len, NULL),
					 0);
			} else {
				CHECK_RC(t->status, 0);
			}
			free(t->data);
			free(t->expect);
		}
		CHECK_EQ_INT(mismatches, 0);
	}
	/* The whole store, in pieces of up to 1 MiB. */
	{
		uint8_t *buf = malloc(1u << 20);

		for (uint64_t off = 0; off < size; off += 1u << 20) {
			uint64_t len = size - off < (1u << 20) ? size - off : (1u << 20);

			CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, off, len, buf), 0);
			CHECK(memcmp(buf, ref + off, len) == 0);
		}
		free(buf);
	}
	CHECK_RC(nbs_store_stats_get(s, &st), 0);
	for (unsigned op = 0; op < NBS_STORE_OP_COUNT; op++)
		CHECK(st.ops[op] >= ops_seen[op]);
	CHECK_EQ_INT(st.errors, slow_zeroes);
	/* At most one copy per byte of a request. */
	CHECK(st.bytes_copied <= st.bytes_read + st.bytes_written);
	printf("  %s: %llu reads, %llu writes, %llu flushes, %llu trims, %llu zeroes; "
	       "%llu B read, %llu B written, %llu B copied, %llu B zeroed, %llu max in flight\n",
	       s->ops->name, (unsigned long long)st.ops[0], (unsigned long long)st.ops[1],
	       (unsigned long long)st.ops[2], (unsigned long long)st.ops[3],
	       (unsigned long long)st.ops[4], (unsigned long long)st.bytes_read,
	       (unsigned long long)st.bytes_written, (unsigned long long)st.bytes_copied,
	       (unsigned long long)st.bytes_zeroed, (unsigned long long)st.inflight_max);
	free(ref);
}

/* ---------------------------------------------------------------- cases */

static void
case_spec(void)
{
	struct nbs_store_params p = { 0 };
	struct nbs_store *s = NULL;
	char err[256];
	uint64_t v;

	CHECK_RC(app_parse_size("4096", &v), 0);
	CHECK_EQ_INT(v, 4096);
	CHECK_RC(app_parse_size("4k", &v), 0);
	CHECK_EQ_INT(v, 4096);
	CHECK_RC(app_parse_size("3M", &v), 0);
	CHECK_EQ_INT(v, 3u << 20);
	CHECK_RC(app_parse_size("2g", &v), 0);
	CHECK_EQ_INT(v, 2ull << 30);
	CHECK_RC(app_parse_size("1T", &v), 0);
	CHECK_EQ_INT(v, 1ull << 40);
	CHECK_RC(app_parse_size("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_RC(app_parse_size("18446744073709551616", &v), -EINVAL);
	CHECK_RC(app_parse_size("16777216T", &v), -EINVAL);
	CHECK_RC(app_parse_size("", &v), -EINVAL);
	CHECK_RC(app_parse_size("K", &v), -EINVAL);
	CHECK_RC(app_parse_size("12X", &v), -EINVAL);
	CHECK_RC(app_parse_size("12KB", &v), -EINVAL);
	CHECK_RC(app_parse_size("-1", &v), -EINVAL);
	CHECK_RC(app_parse_size(NULL, &v), -EINVAL);

	p.err = err;
	p.err_len = sizeof(err);
	CHECK_RC(nbs_store_open(NULL, &p, &s), -EINVAL);
	CHECK_RC(nbs_store_open("memory:1M", &p, NULL), -EINVAL);
	CHECK_RC(nbs_store_open("memory", &p, &s), -EINVAL);
	CHECK(err[0] != '\0');
	CHECK_RC(nbs_store_open("disk:1M", &p, &s), -EINVAL);
	CHECK_RC(nbs_store_open("memory:", &p, &s), -EINVAL);
	CHECK_RC(nbs_store_open("memory:0", &p, &s), -EINVAL);
	CHECK_RC(nbs_store_open("memory:12X", &p, &s), -EINVAL);
	err[0] = '\0';
	CHECK_RC(nbs_store_open("memory:1T", &p, &s), -ERANGE);
	CHECK(strstr(err, "block size") != NULL);
	p.block_size = 1000;
	CHECK_RC(nbs_store_open("memory:1M", &p, &s), -EINVAL);
	p.block_size = 256;
	CHECK_RC(nbs_store_open("memory:1M", &p, &s), -EINVAL);
	p.block_size = 0;
	p.queue_depth = 3;
	CHECK_RC(nbs_store_open("file:/etc/hostname", &p, &s), -EINVAL);
	p.queue_depth = 0;
	CHECK_RC(nbs_store_open("file:", &p, &s), -EINVAL);
	CHECK_RC(nbs_store_open("file:/nonexistent/nbs-store", &p, &s), -ENOENT);
	CHECK(strstr(err, "/nonexistent/nbs-store") != NULL);
	p.read_only = true;
	CHECK_RC(nbs_store_open("file:/dev/null", &p, &s), -EINVAL); /* a char device */
	CHECK(strstr(err, "regular file") != NULL);
	p.read_only = false;
	CHECK_RC(nbs_store_open("file:/", &p, &s), -EISDIR);

	/* A good one: geometry and flags. */
	p.block_size = 65536;
	CHECK_RC(nbs_store_open("memory:1M", &p, &s), 0);
	CHECK_EQ_INT(s->size, 1u << 20);
	CHECK_EQ_INT(s->block_size, 65536);
	CHECK_EQ_INT(s->min_block_size, 1);
	CHECK_EQ_INT(s->max_io, NBS_STORE_MAX_IO);
	CHECK_EQ_INT(s->flags, NBS_STORE_FLAG_FLUSH | NBS_STORE_FLAG_FUA | NBS_STORE_FLAG_TRIM |
				       NBS_STORE_FLAG_ZERO | NBS_STORE_FLAG_FAST_ZERO);
	CHECK(nbs_store_pool(s) != NULL);
	CHECK_EQ_INT(bulk_pool_buffer_count(nbs_store_pool(s)), 16);
	CHECK_EQ_INT(bulk_pool_buffer_size(nbs_store_pool(s)), 65536);
	CHECK(bulk_pool_fd(nbs_store_pool(s)) >= 0); /* memfd: shareable */
	CHECK_EQ_INT(nbs_store_is_sync(s), 1);
	CHECK_RC(nbs_store_close(s), 0);

	/* The pool in the caller's domain, which outlives the store. */
	{
		struct bulk_domain *d;

		CHECK_RC(bulk_domain_create("server", &d), 0);
		p.domain = d;
		p.block_size = 0;
		CHECK_RC(nbs_store_open("memory:1000", &p, &s), 0);
		CHECK_EQ_INT(s->size, 1000); /* a last partial block */
		CHECK(bulk_pool_domain(nbs_store_pool(s)) == d);
		CHECK_RC(nbs_store_close(s), 0);
		CHECK_RC(bulk_domain_destroy(d), 0);
		p.domain = NULL;
	}
	CHECK_RC(nbs_store_close(NULL), -EINVAL);
	CHECK(strcmp(nbs_store_op_name(NBS_STORE_OP_WRITE_ZEROES), "WRITE_ZEROES") == 0);
	CHECK(strcmp(nbs_store_op_name(99), "?") == 0);
}

static void
bounds_body(struct nbs_store *s)
{
	uint64_t size = s->size;
	uint8_t buf[8192];
	struct tio t = { 0 };

	memset(buf, 0xab, sizeof(buf));
	/* The last byte and the last partial block are served. */
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, size - 1, 1, buf), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, NBS_STORE_REQ_FUA, size - 100, 100, buf), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, size - 1, 1, buf), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_TRIM, 0, size - 50, 50, NULL), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, 0, size - 10, 10, NULL), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, size - 100, 100, buf), 0);
	for (unsigned i = 0; i < 50; i++)
		CHECK_EQ_INT(buf[i], 0xab);
	for (unsigned i = 50; i < 100; i++)
		CHECK_EQ_INT(buf[i], 0);

	/* Past the end: reads and trims -EINVAL, writes and zeroes -ENOSPC. */
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_READ, 0, size - 1, 2), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_READ, 0, size, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_TRIM, 0, size - 1, 2), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, size - 1, 2), -ENOSPC);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, UINT64_MAX - 5, 5), -ENOSPC);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE_ZEROES, 0, size, 4096), -ENOSPC);
	/* offset + length overflowing: -EINVAL whatever the op. */
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_READ, 0, UINT64_MAX - 10, 100), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, UINT64_MAX - 10, 100), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE_ZEROES, 0, 1, UINT64_MAX), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_TRIM, 0, UINT64_MAX, UINT64_MAX), -EINVAL);
	/* Lengths. */
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_READ, 0, 0, 0), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE_ZEROES, 0, 0, 0), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_READ, 0, 0, (uint64_t)NBS_STORE_MAX_IO + 1),
		 -EOVERFLOW);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, 0, UINT64_MAX), -EOVERFLOW);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_FLUSH, 0, 0, 0), 0);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_FLUSH, 0, 1, 0), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_FLUSH, 0, 0, 1), -EINVAL);
	/* Ops and flags. */
	CHECK_RC(nbs_store_check(NULL, NBS_STORE_OP_READ, 0, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_COUNT, 0, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, 200, 0, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 1u << 7, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, NBS_STORE_REQ_NO_HOLE, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_TRIM, NBS_STORE_REQ_FAST_ZERO, 0, 1), -EINVAL);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, NBS_STORE_REQ_FUA, 0, 1), 0);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_MASK, 0, 1), 0);

	/* Submit: the same checks, plus the request itself; nothing calls back. */
	completions = 0;
	nbs_store_req_init(&t.req, NBS_STORE_OP_WRITE, 0, size, 1, buf, tio_done, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), -ENOSPC);
	nbs_store_req_init(&t.req, NBS_STORE_OP_READ, 0, 0, 1, NULL, tio_done, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), -EINVAL);
	nbs_store_req_init(&t.req, NBS_STORE_OP_WRITE, 0, 0, 1, NULL, tio_done, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), -EINVAL);
	nbs_store_req_init(&t.req, NBS_STORE_OP_READ, 0, 0, 1, buf, NULL, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), -EINVAL);
	CHECK_RC(nbs_store_submit(NULL, &t.req), -EINVAL);
	CHECK_RC(nbs_store_submit(s, NULL), -EINVAL);
	CHECK_EQ_INT(nbs_store_poll(s, 0), 0);
	CHECK_EQ_INT(completions, 0);
	CHECK_EQ_INT(nbs_store_inflight(s), 0);
	CHECK_RC(nbs_store_poll(NULL, 0), -EINVAL);
	CHECK_RC(nbs_store_drain(NULL), -EINVAL);
	CHECK_RC(nbs_store_arm(NULL), -EINVAL);
	CHECK_RC(nbs_store_fd(NULL), -EINVAL);
	CHECK_RC(nbs_store_stats_get(s, NULL), -EINVAL);
	/* The store is fine after all that. */
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 0, sizeof(buf), buf), 0);
}

static void
readonly_body(const char *spec)
{
	struct nbs_store_params p = { .read_only = true };
	struct nbs_store *s = open_store(spec, &p);
	uint8_t buf[512];

	CHECK(s->flags & NBS_STORE_FLAG_READ_ONLY);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, 0, 1), -EPERM);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_TRIM, 0, 0, 1), -EPERM);
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE_ZEROES, 0, 0, 1), -EPERM);
	/* Read-only before range: what NBD answers a read-only export. */
	CHECK_RC(nbs_store_check(s, NBS_STORE_OP_WRITE, 0, UINT64_MAX, 2), -EPERM);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 0, sizeof(buf), buf), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_FLUSH, 0, 0, 0, NULL), 0);
	CHECK_RC(nbs_store_close(s), 0);
}

static void
case_bounds(void)
{
	char path[600], spec[700];
	uint64_t size = (1u << 20) + 100;
	struct nbs_store *s;
	int fd;

	printf("  memory\n");
	s = open_store("memory:1048676", NULL);
	CHECK_EQ_INT(s->size, size);
	bounds_body(s);
	CHECK_RC(nbs_store_close(s), 0);
	readonly_body("memory:64K");

	fd = make_file(path, sizeof(path), size);
	snprintf(spec, sizeof(spec), "file:%s", path);
	for (int sync = 0; sync < 2; sync++) {
		struct nbs_store_params p = { .no_uring = sync != 0 };

		printf("  file (%s)\n", sync ? "pread" : "io_uring");
		s = open_store(spec, &p);
		CHECK_EQ_INT(s->size, size);
		bounds_body(s);
		CHECK_RC(nbs_store_close(s), 0);
	}
	readonly_body(spec);
	close(fd);
	unlink(path);
}

static void
case_memory(unsigned block_size)
{
	struct nbs_store_params p = { .block_size = block_size };
	struct nbs_store *s = open_store("memory:8M", &p);

	CHECK_EQ_INT(s->block_size, block_size);
	random_body(s, 150, 32, 256u << 10, true);
	CHECK_RC(nbs_store_close(s), 0);
	/* Not a multiple of the block size. */
	s = open_store("memory:3000001", &p);
	random_body(s, 50, 16, 64u << 10, true);
	CHECK_RC(nbs_store_close(s), 0);
}

static void
file_random(const char *dir, const struct nbs_store_params *params, const char *why)
{
	char path[600], spec[700];
	struct nbs_store_params p = *params;
	uint64_t size = (8u << 20) + 333;
	struct nbs_store *s;
	int fd = make_file_in(dir, path, sizeof(path), size);

	p.queue_depth = 16;
	snprintf(spec, sizeof(spec), "file:%s", path);
	s = open_store(spec, &p);
	printf("  file store in %s, %s (%s)\n", dir != NULL ? dir : tmpdir(),
	       nbs_store_is_sync(s) ? "pread/pwrite" : "io_uring", why);
	if (!p.no_uring && nbs_store_is_sync(s))
		printf("  (io_uring unavailable here: the fallback ran instead)\n");
	if (p.no_uring)
		CHECK_EQ_INT(nbs_store_is_sync(s), 1);
	/* Queue depth 16 and up to 64 in flight: the backlog is used. */
	random_body(s, 150, 64, 256u << 10, !p.no_fallocate);
	if (p.no_fallocate) {
		struct nbs_store_stats st;

		/* WRITE_ZEROES wrote zeros. */
		CHECK_RC(nbs_store_stats_get(s, &st), 0);
		CHECK(st.bytes_zeroed > 0);
	}
	CHECK_RC(nbs_store_close(s), 0);
	/* What the store says is what the file holds, read around the store. */
	{
		uint8_t *a = malloc(size), *b = malloc(size);
		struct nbs_store *s2;

		CHECK(a != NULL && b != NULL);
		CHECK_EQ_INT(pread(fd, a, size, 0), size);
		s2 = open_store(spec, &p);
		CHECK_RC(do_sync(s2, NBS_STORE_OP_READ, 0, 0, size, b), 0);
		CHECK(memcmp(a, b, size) == 0);
		CHECK_RC(nbs_store_close(s2), 0);
		free(a);
		free(b);
	}
	close(fd);
	unlink(path);
}

static void
case_file_sync(void)
{
	char path[600], spec[700];
	struct nbs_store *s;
	int fd = make_file(path, sizeof(path), 1 << 20);
	struct nbs_store_params p = { .no_uring = true };

	file_random(NULL, &p, "forced by params.no_uring");
	/* The environment variable forces it too. */
	snprintf(spec, sizeof(spec), "file:%s", path);
	CHECK_RC(setenv(NBS_STORE_ENV_NO_URING, "1", 1), 0);
	s = open_store(spec, NULL);
	CHECK_EQ_INT(nbs_store_is_sync(s), 1);
	CHECK_RC(nbs_store_fd(s), -ENOTSUP);
	CHECK_RC(nbs_store_close(s), 0);
	CHECK_RC(unsetenv(NBS_STORE_ENV_NO_URING), 0);
	close(fd);
	unlink(path);
}

/* No fallocate: TRIM does nothing, WRITE_ZEROES writes zeros, FAST_ZERO fails. */
static void
case_file_nofalloc(void)
{
	struct nbs_store_params p = { .no_fallocate = true };
	char path[600], spec[700];
	struct nbs_store *s;
	const uint64_t size = 4u << 20, zoff = 100, zlen = (3u << 20) + 5;
	uint8_t *w = malloc(size), *r = malloc(size);
	int fd = make_file(path, sizeof(path), size);

	CHECK(w != NULL && r != NULL);
	file_random(NULL, &p, "no fallocate");
	p.no_uring = true;
	file_random(NULL, &p, "no fallocate");
	snprintf(spec, sizeof(spec), "file:%s", path);
	for (int sync = 0; sync < 2; sync++) {
		p.no_uring = sync != 0;
		s = open_store(spec, &p);
		/* Zeros written in several pieces (more than the 1 MiB zero buffer). */
		rnd_fill(w, size);
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 0, size, w), 0);
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_FUA, zoff, zlen, NULL),
			 0);
		memset(w + zoff, 0, zlen);
		CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 0, size, r), 0);
		CHECK(memcmp(w, r, size) == 0);
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_FAST_ZERO, 0, 4096,
				 NULL),
			 -EOPNOTSUPP);
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES,
				 NBS_STORE_REQ_FAST_ZERO | NBS_STORE_REQ_NO_HOLE, 0, 4096, NULL),
			 -EOPNOTSUPP);
		CHECK_RC(do_sync(s, NBS_STORE_OP_TRIM, 0, 0, 4096, NULL), 0);
		CHECK_RC(nbs_store_close(s), 0);
	}
	close(fd);
	unlink(path);
	free(w);
	free(r);
}

/* tmpfs: no ZERO_RANGE, so NO_HOLE goes by punch + allocate. */
static void
case_file_tmpfs(void)
{
	struct nbs_store_params p = { 0 };
	struct statfs sf;

	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC || access("/dev/shm", W_OK))
		CHECK_SKIP("no writable tmpfs at /dev/shm");
	file_random("/dev/shm", &p, "tmpfs");
	p.no_uring = true;
	file_random("/dev/shm", &p, "tmpfs");
}

/*
 * Many in flight on io_uring, completing out of order: a FLUSH of lots of
 * dirty data goes to the kernel's workers while reads of cached data
 * complete at once, so reads submitted after the FLUSH finish before it.
 */
static void
case_ooo(void)
{
	char path[600], spec[700];
	static struct tio tios[MAX_QD];
	const unsigned n = 200, len = 16384;
	uint64_t size = (uint64_t)n * len;
	struct nbs_store_params p = { .queue_depth = 64 };
	struct nbs_store *s;
	uint8_t *ref = malloc(size);
	unsigned rounds, ooo_rounds = 0;
	int fd = make_file(path, sizeof(path), size);

	CHECK(ref != NULL);
	snprintf(spec, sizeof(spec), "file:%s", path);
	s = open_store(spec, &p);
	if (nbs_store_is_sync(s)) {
		nbs_store_close(s);
		close(fd);
		unlink(path);
		free(ref);
		CHECK_SKIP("io_uring unavailable: nothing completes out of order");
	}
	mismatches = 0;
	for (rounds = 0; rounds < 10 && ooo_rounds < 3; rounds++) {
		bool ooo = false;

		/* Dirty everything (many writes in flight at once, QD 64 < 200). */
		rnd_fill(ref, size);
		completions = 0;
		for (unsigned i = 0; i < n; i++) {
			struct tio *t = &tios[i];

			memset(t, 0, sizeof(*t));
			t->seq = i;
			nbs_store_req_init(&t->req, NBS_STORE_OP_WRITE, 0, (uint64_t)i * len, len,
					   ref + (uint64_t)i * len, tio_done, NULL);
			CHECK_RC(nbs_store_submit(s, &t->req), 0);
		}
		CHECK_EQ_INT(nbs_store_drain(s), n);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ_INT(tios[i].calls, 1);
			CHECK_RC(tios[i].status, 0);
		}
		/* FLUSH first, then reads of every block, all in flight together. */
		completions = 0;
		memset(&tios[0], 0, sizeof(tios[0]));
		nbs_store_req_init(&tios[0].req, NBS_STORE_OP_FLUSH, 0, 0, 0, NULL, tio_done, NULL);
		CHECK_RC(nbs_store_submit(s, &tios[0].req), 0);
		for (unsigned i = 1; i < n; i++) {
			struct tio *t = &tios[i];

			memset(t, 0, sizeof(*t));
			t->seq = i;
			t->data = malloc(len);
			t->expect = ref + (uint64_t)i * len;
			nbs_store_req_init(&t->req, NBS_STORE_OP_READ, 0, (uint64_t)i * len, len,
					   t->data, tio_done, NULL);
			CHECK_RC(nbs_store_submit(s, &t->req), 0);
		}
		CHECK_EQ_INT(nbs_store_inflight(s), n);
		CHECK_EQ_INT(nbs_store_drain(s), n);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ_INT(tios[i].calls, 1);
			CHECK_RC(tios[i].status, 0);
			if (tios[i].order != i)
				ooo = true;
			free(tios[i].data);
		}
		CHECK_EQ_INT(mismatches, 0);
		if (ooo)
			ooo_rounds++;
	}
	printf("  %u of %u rounds completed out of order (flush at %u of %u)\n", ooo_rounds,
	       rounds, tios[0].order, n);
	CHECK(ooo_rounds > 0);
	{
		struct nbs_store_stats st;

		CHECK_RC(nbs_store_stats_get(s, &st), 0);
		CHECK(st.inflight_max >= n);
	}
	CHECK_RC(nbs_store_close(s), 0);
	close(fd);
	unlink(path);
	free(ref);
}

static uint64_t
fd_blocks(int fd)
{
	struct stat st;

	CHECK_RC(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Memory: never-written blocks take no memory and reads of them copy nothing. */
/* The runs of [off, off + len) must be exactly these (hole flag, length) pairs. */
static void
check_extents(struct nbs_store *s, uint64_t off, uint64_t len, unsigned n, const bool *hole,
	      const uint64_t *length)
{
	struct nbs_store_extent e[8];
	int got = nbs_store_extents(s, off, len, e, 8);

	CHECK_EQ_INT(got, n);
	for (int i = 0; i < got && i < (int)n; i++) {
		CHECK_EQ_INT(e[i].hole, hole[i]);
		CHECK_EQ_INT(e[i].length, length[i]);
	}
}

static void
sparse_memory(void)
{
	struct nbs_store *s = open_store("memory:64M", NULL);
	int memfd = bulk_pool_fd(nbs_store_pool(s));
	uint8_t *buf = malloc(1u << 20), *w = malloc(1u << 20);
	struct nbs_store_stats st;

	CHECK(memfd >= 0 && buf != NULL && w != NULL);
	CHECK_EQ_INT(fd_blocks(memfd), 0);
	memset(buf, 0xee, 1u << 20);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 32u << 20, 1u << 20, buf), 0);
	for (unsigned i = 0; i < 1u << 20; i++)
		if (buf[i] != 0)
			CHECK_EQ_INT(buf[i], 0);
	CHECK_RC(nbs_store_stats_get(s, &st), 0);
	CHECK_EQ_INT(st.bytes_copied, 0);
	CHECK_EQ_INT(st.bytes_zeroed, 1u << 20);
	CHECK_EQ_INT(fd_blocks(memfd), 0); /* reading did not allocate */

	/* One block written inside a 1 MiB read: 4 KiB copied, the rest zeroed. */
	rnd_fill(w, 4096);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, (32u << 20) + 40960, 4096, w), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 32u << 20, 1u << 20, buf), 0);
	CHECK(memcmp(buf + 40960, w, 4096) == 0);
	CHECK_RC(nbs_store_stats_get(s, &st), 0);
	CHECK_EQ_INT(st.bytes_copied, 4096 + 4096);
	CHECK(fd_blocks(memfd) >= 4096);
	/* Block status: hole, the written block, hole; cut to the range. */
	check_extents(s, 32u << 20, 1u << 20, 3, (const bool[]){ true, false, true },
		      (const uint64_t[]){ 40960, 4096, (1u << 20) - 40960 - 4096 });
	check_extents(s, (32u << 20) + 40960 + 100, 50, 1, (const bool[]){ false },
		      (const uint64_t[]){ 50 });
	/* A READ by reference: zeros, the written block in place, zeros; no copy. */
	{
		struct iovec v[4];
		uint64_t copied = st.bytes_copied;
		size_t at = 0;

		CHECK_EQ_INT(nbs_store_read_map(s, 32u << 20, 1u << 20, v, 4), 3);
		CHECK_EQ_INT(v[0].iov_len, 40960);
		CHECK_EQ_INT(v[1].iov_len, 4096);
		CHECK_EQ_INT(v[2].iov_len, (1u << 20) - 40960 - 4096);
		for (int i = 0; i < 3; i++) {
			memcpy(buf + at, v[i].iov_base, v[i].iov_len);
			at += v[i].iov_len;
		}
		CHECK(memcmp(buf + 40960, w, 4096) == 0);
		CHECK(buf[0] == 0 && buf[40959] == 0 && buf[45056] == 0 && buf[(1u << 20) - 1] == 0);
		CHECK_RC(nbs_store_stats_get(s, &st), 0);
		CHECK_EQ_INT(st.bytes_copied, copied);
		CHECK_EQ_INT(fd_blocks(memfd) < (64u << 10), 1); /* the holes stayed holes */
		CHECK_RC(nbs_store_read_map(s, 32u << 20, 1u << 20, v, 2), -ENOBUFS);
		CHECK_RC(nbs_store_read_map(s, (64u << 20) - 512, 1024, v, 4), -EINVAL);
		CHECK_RC(nbs_store_read_map(s, 0, 0, v, 4), -EINVAL);

		/* A WRITE by reference: the bytes land in the store, read back as data. */
		CHECK_EQ_INT(nbs_store_write_map(s, (48u << 20) + 100, 5000, v, 4), 1);
		memcpy(v[0].iov_base, w, 5000);
		check_extents(s, 48u << 20, 16384, 1, (const bool[]){ true },
			      (const uint64_t[]){ 16384 }); /* not written until done */
		nbs_store_write_mapped(s, (48u << 20) + 100, 5000);
		check_extents(s, 48u << 20, 16384, 2, (const bool[]){ false, true },
			      (const uint64_t[]){ 8192, 8192 });
		CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, (48u << 20) + 100, 5000, buf), 0);
		CHECK(memcmp(buf, w, 5000) == 0);
		CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 48u << 20, 100, buf), 0);
		CHECK(buf[0] == 0 && buf[99] == 0); /* the rest of the block: zeros */
		CHECK_RC(nbs_store_write_map(s, (64u << 20) - 512, 1024, v, 4), -ENOSPC);
		CHECK_RC(nbs_store_write_map(s, 0, 0, v, 4), -EINVAL);
		CHECK_RC(nbs_store_stats_get(s, &st), 0);
		CHECK_EQ_INT(st.bytes_copied, copied + 5000 + 100); /* the two READs only */
	}
	{
		struct nbs_store_extent e[1];

		CHECK_EQ_INT(nbs_store_extents(s, 32u << 20, 1u << 20, e, 1), 1);
		CHECK(e[0].hole && e[0].length == 40960); /* stops at max */
		CHECK_RC(nbs_store_extents(s, 64u << 20, 1, e, 1), -EINVAL);
		CHECK_RC(nbs_store_extents(s, (64u << 20) - 1, 2, e, 1), -EINVAL);
		CHECK_RC(nbs_store_extents(s, 0, 0, e, 1), -EINVAL);
		CHECK_RC(nbs_store_extents(s, UINT64_MAX, 2, e, 1), -EINVAL);
		CHECK_RC(nbs_store_extents(s, 0, 4096, e, 0), -EINVAL);
	}

	/* 1 MiB written, then trimmed: the memory goes back. */
	rnd_fill(w, 1u << 20);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 0, 1u << 20, w), 0);
	CHECK(fd_blocks(memfd) >= (1u << 20));
	check_extents(s, 0, 2u << 20, 2, (const bool[]){ false, true },
		      (const uint64_t[]){ 1u << 20, 1u << 20 });
	CHECK_RC(do_sync(s, NBS_STORE_OP_TRIM, 0, 0, 1u << 20, NULL), 0);
	CHECK(fd_blocks(memfd) < (1u << 20));
	check_extents(s, 0, 2u << 20, 1, (const bool[]){ true }, (const uint64_t[]){ 2u << 20 });
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 0, 1u << 20, buf), 0);
	for (unsigned i = 0; i < 1u << 20; i++)
		if (buf[i] != 0)
			CHECK_EQ_INT(buf[i], 0);
	/* WRITE_ZEROES NO_HOLE keeps the memory, without NO_HOLE it punches. */
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 0, 1u << 20, w), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_NO_HOLE, 0, 1u << 20, NULL),
		 0);
	CHECK(fd_blocks(memfd) >= (1u << 20));
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 0, 1u << 20, buf), 0);
	CHECK(buf[0] == 0 && buf[(1u << 20) - 1] == 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 0, 1u << 20, w), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, 0, 0, 1u << 20, NULL), 0);
	CHECK(fd_blocks(memfd) < (1u << 20));
	CHECK_RC(nbs_store_close(s), 0);
	free(buf);
	free(w);
}

/* File: a sparse temp file; holes read as zeros; TRIM punches; NO_HOLE allocates. */
static void
sparse_file(bool sync)
{
	char path[600], spec[700];
	struct nbs_store_params p = { .no_uring = sync };
	uint64_t size = 64u << 20;
	uint8_t *buf = malloc(1u << 20), *w = malloc(1u << 20);
	struct nbs_store *s;
	uint64_t b0, b1;
	int fd = make_file(path, sizeof(path), size);
	int rc;

	CHECK(buf != NULL && w != NULL);
	snprintf(spec, sizeof(spec), "file:%s", path);
	s = open_store(spec, &p);
	CHECK_EQ_INT(s->size, size);
	b0 = fd_blocks(fd);
	memset(buf, 0xee, 1u << 20);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 7u << 20, 1u << 20, buf), 0);
	for (unsigned i = 0; i < 1u << 20; i++)
		if (buf[i] != 0)
			CHECK_EQ_INT(buf[i], 0);
	rnd_fill(w, 1u << 20);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, NBS_STORE_REQ_FUA, 8u << 20, 1u << 20, w), 0);
	b1 = fd_blocks(fd);
	CHECK(b1 >= b0 + (1u << 20));
	{
		struct iovec v[1];

		CHECK_RC(nbs_store_read_map(s, 0, 4096, v, 1), -ENOTSUP); /* reads are copied */
		CHECK_RC(nbs_store_write_map(s, 0, 4096, v, 1), -ENOTSUP); /* and writes */
	}
	/* Block status from SEEK_DATA / SEEK_HOLE: hole, the written MiB, hole. */
	{
		struct nbs_store_extent e[4];

		if (nbs_store_extents(s, 7u << 20, 3u << 20, e, 4) == 1 && !e[0].hole)
			printf("  this file system does not report holes (SEEK_HOLE)\n");
		else
			check_extents(s, 7u << 20, 3u << 20, 3, (const bool[]){ true, false, true },
				      (const uint64_t[]){ 1u << 20, 1u << 20, 1u << 20 });
	}
	CHECK_RC(do_sync(s, NBS_STORE_OP_TRIM, 0, 8u << 20, 1u << 20, NULL), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 8u << 20, 1u << 20, buf), 0);
	for (unsigned i = 0; i < 1u << 20; i++)
		if (buf[i] != 0)
			CHECK_EQ_INT(buf[i], 0);
	if (fd_blocks(fd) >= b1) {
		printf("  this file system did not punch the hole (TRIM is advisory)\n");
	} else {
		/* Punched. NO_HOLE allocates; plain WRITE_ZEROES punches. */
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_NO_HOLE, 16u << 20,
				 1u << 20, NULL),
			 0);
		CHECK(fd_blocks(fd) >= b0 + (1u << 20));
		CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 24u << 20, 1u << 20, w), 0);
		b1 = fd_blocks(fd);
		rc = do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_FAST_ZERO, 24u << 20,
			     1u << 20, NULL);
		CHECK_RC(rc, 0);
		CHECK(fd_blocks(fd) < b1);
	}
	/* Unaligned zeroes inside data: the bytes around stay. */
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE, 0, 32u << 20, 1u << 20, w), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_WRITE_ZEROES, NBS_STORE_REQ_FUA, (32u << 20) + 1000, 5000,
			 NULL),
		 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_TRIM, NBS_STORE_REQ_FUA, (32u << 20) + 9000, 3, NULL), 0);
	CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, 32u << 20, 1u << 20, buf), 0);
	memset(w + 1000, 0, 5000);
	memset(w + 9000, 0, 3);
	CHECK(memcmp(buf, w, 1u << 20) == 0);
	CHECK_RC(nbs_store_close(s), 0);
	close(fd);
	unlink(path);
	free(buf);
	free(w);
}

static void
case_sparse(void)
{
	printf("  memory\n");
	sparse_memory();
	printf("  file (io_uring)\n");
	sparse_file(false);
	printf("  file (pread)\n");
	sparse_file(true);
}

/* Callbacks that poll or close get -EBUSY; callbacks that resubmit work. */
static struct nbs_store *cb_store;
static int cb_poll_rc, cb_close_rc, cb_resubmits;

static void
cb_reentrant(struct nbs_store_req *req, int status)
{
	CHECK_RC(status, 0);
	cb_poll_rc = nbs_store_poll(cb_store, 0);
	cb_close_rc = nbs_store_close(cb_store);
	if (cb_resubmits++ < 5)
		CHECK_RC(nbs_store_submit(cb_store, req), 0);
}

/* What an event loop does: arm, sleep on the fd, poll. */
static void
events_body(struct nbs_store *s)
{
	uint8_t buf[4096];
	struct tio t = { 0 };
	int fd = nbs_store_fd(s);

	completions = 0;
	nbs_store_req_init(&t.req, NBS_STORE_OP_READ, 0, 0, sizeof(buf), buf, tio_done, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), 0);
	CHECK_EQ_INT(t.calls, 0); /* never inside submit */
	if (fd < 0) {
		CHECK_RC(fd, -ENOTSUP);
		CHECK_RC(nbs_store_arm(s), 1); /* ready: do not sleep */
	} else {
		/* Sleep until the fd says so; a 5 s cap so a bug fails, not hangs. */
		for (int i = 0; i < 50 && completions == 0; i++) {
			int rc = nbs_store_arm(s);

			CHECK(rc == 0 || rc == 1);
			if (rc == 0) {
				struct pollfd pfd = { .fd = fd, .events = POLLIN };

				CHECK_EQ_INT(poll(&pfd, 1, 5000), 1);
			}
			CHECK(nbs_store_poll(s, 0) >= 0);
		}
	}
	CHECK(nbs_store_poll(s, 0) >= 0);
	CHECK_EQ_INT(t.calls, 1);
	CHECK_RC(t.status, 0);
	CHECK_RC(nbs_store_arm(s), 0); /* nothing in flight */

	/* Re-entry from a callback. */
	cb_store = s;
	cb_resubmits = 0;
	nbs_store_req_init(&t.req, NBS_STORE_OP_WRITE, NBS_STORE_REQ_FUA, 4096, sizeof(buf), buf,
			   cb_reentrant, NULL);
	CHECK_RC(nbs_store_submit(s, &t.req), 0);
	CHECK(nbs_store_drain(s) == 6);
	CHECK_RC(cb_poll_rc, -EBUSY);
	CHECK_RC(cb_close_rc, -EBUSY);
	CHECK_EQ_INT(nbs_store_inflight(s), 0);

	/* poll(max) bounds the callbacks run. */
	{
		struct tio m[10];

		completions = 0;
		for (int i = 0; i < 10; i++) {
			memset(&m[i], 0, sizeof(m[i]));
			nbs_store_req_init(&m[i].req, NBS_STORE_OP_READ, 0, (uint64_t)i * 512, 512,
					   buf, tio_done, NULL);
			CHECK_RC(nbs_store_submit(s, &m[i].req), 0);
		}
		for (int i = 0; i < 1000 && completions < 10; i++) {
			int rc = nbs_store_poll(s, 3);

			CHECK(rc >= 0 && rc <= 3);
		}
		CHECK_EQ_INT(completions, 10);
		for (int i = 0; i < 10; i++)
			CHECK_EQ_INT(m[i].calls, 1);
	}
	/* Close with requests in flight: they finish first. */
	completions = 0;
	nbs_store_req_init(&t.req, NBS_STORE_OP_WRITE, 0, 0, sizeof(buf), buf, tio_done, NULL);
	t.calls = 0;
	CHECK_RC(nbs_store_submit(s, &t.req), 0);
	CHECK_RC(nbs_store_close(s), 0);
	CHECK_EQ_INT(t.calls, 1);
	CHECK_RC(t.status, 0);
}

static void
case_events(void)
{
	char path[600], spec[700];
	int fd = make_file(path, sizeof(path), 1 << 20);

	printf("  memory\n");
	events_body(open_store("memory:1M", NULL));
	snprintf(spec, sizeof(spec), "file:%s", path);
	printf("  file (io_uring)\n");
	events_body(open_store(spec, NULL));
	{
		struct nbs_store_params p = { .no_uring = true };

		printf("  file (pread)\n");
		events_body(open_store(spec, &p));
	}
	close(fd);
	unlink(path);
}

/*
 * Durability: a child writes (some with FUA), FLUSHes, says so through a
 * pipe once the FLUSH completed, then keeps writing elsewhere until it is
 * killed with SIGKILL; what was acknowledged before the FLUSH is there
 * when the store is opened again.
 */
static void
durability_child(const char *spec, bool sync, int wfd, uint64_t seed)
{
	struct nbs_store_params p = { .no_uring = sync };
	struct nbs_store *s = NULL;
	uint8_t *w = malloc(1u << 20);
	static struct tio more[32];

	rng_state = seed;
	if (nbs_store_open(spec, &p, &s) != 0 || w == NULL)
		_exit(3);
	for (unsigned i = 0; i < 8; i++) {
		rnd_fill(w, 1u << 20);
		if (do_sync(s, NBS_STORE_OP_WRITE, i % 2 ? NBS_STORE_REQ_FUA : 0,
			    (uint64_t)i << 20, 1u << 20, w) != 0)
			_exit(4);
	}
	if (do_sync(s, NBS_STORE_OP_FLUSH, 0, 0, 0, NULL) != 0)
		_exit(5);
	if (write(wfd, "k", 1) != 1)
		_exit(6);
	/* Unacknowledged work in flight at the kill, in the second half. */
	for (;;) {
		for (unsigned i = 0; i < 32; i++) {
			nbs_store_req_init(&more[i].req, NBS_STORE_OP_WRITE, 0,
					   (8u << 20) + ((uint64_t)i << 15), 1u << 15, w, tio_done,
					   NULL);
			if (nbs_store_submit(s, &more[i].req) != 0)
				_exit(7);
		}
		nbs_store_drain(s);
	}
}

static void
case_durability(void)
{
	char path[600], spec[700];
	uint8_t *buf = malloc(1u << 20), *w = malloc(1u << 20);
	int fd = make_file(path, sizeof(path), 16u << 20);

	CHECK(buf != NULL && w != NULL);
	snprintf(spec, sizeof(spec), "file:%s", path);
	for (int sync = 0; sync < 2; sync++) {
		uint64_t seed = rnd() | 1;
		int pfd[2], status;
		char c;
		pid_t pid;
		struct nbs_store *s;

		CHECK_RC(pipe(pfd), 0);
		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			durability_child(spec, sync != 0, pfd[1], seed);
			_exit(0);
		}
		close(pfd[1]);
		CHECK_EQ_INT(read(pfd[0], &c, 1), 1);
		usleep(20000); /* let it have writes in flight */
		CHECK_RC(kill(pid, SIGKILL), 0);
		CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(pfd[0]);

		s = open_store(spec, NULL);
		rng_state = seed;
		for (unsigned i = 0; i < 8; i++) {
			rnd_fill(w, 1u << 20);
			CHECK_RC(do_sync(s, NBS_STORE_OP_READ, 0, (uint64_t)i << 20, 1u << 20, buf),
				 0);
			CHECK(memcmp(buf, w, 1u << 20) == 0);
		}
		CHECK_RC(nbs_store_close(s), 0);
		printf("  %s: 8 MiB acknowledged before FLUSH survived kill -9\n",
		       sync ? "pread" : "io_uring");
	}
	close(fd);
	unlink(path);
	free(buf);
	free(w);
}

int
main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "all";
	bool all = strcmp(c, "all") == 0;
	bool any = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2)
		rng_state = strtoull(argv[2], NULL, 0) | 1;
	else if (getenv("BULK_SEED") != NULL)
		rng_state = strtoull(getenv("BULK_SEED"), NULL, 0) | 1;
	printf("test_store %s (seed %llu)\n", c, (unsigned long long)rng_state);
#define RUN(name, call)                                 \
	do {                                            \
		if (all || strcmp(c, name) == 0) {      \
			printf("%s\n", name);           \
			call;                           \
			any = true;                     \
		}                                       \
	} while (0)
	RUN("spec", case_spec());
	RUN("bounds", case_bounds());
	RUN("memory", case_memory(4096));
	RUN("memory512", case_memory(512));
	RUN("file", file_random(NULL, &(struct nbs_store_params){ 0 }, "default"));
	RUN("file_sync", case_file_sync());
	RUN("file_nofalloc", case_file_nofalloc());
	RUN("file_tmpfs", case_file_tmpfs());
	RUN("sparse", case_sparse());
	RUN("events", case_events());
	RUN("durability", case_durability());
	RUN("ooo", case_ooo());
#undef RUN
	if (!any) {
		fprintf(stderr, "usage: test_store [spec|bounds|memory|memory512|file|file_sync|"
				"file_nofalloc|file_tmpfs|sparse|events|durability|ooo|all] "
				"[SEED]\n");
		return 2;
	}
	return CHECK_DONE("test_store");
}
