/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pool allocator: parameter validation, get/put bursts, double put,
 * page alignment, unique ids, memfd and hugepage memory, and bulk_pool_free
 * refused while buffers are away.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NPOOLS 1000

static struct bulk_pool *many[NPOOLS];

static void
test_params(struct bulk_domain *d)
{
	struct bulk_pool_params ok = { .count = 8, .buffer_size = 4096 };
	struct bulk_pool_params pp;
	struct bulk_pool *p = NULL;

	CHECK_RC(bulk_pool_alloc(NULL, &ok, &p), -EINVAL);
	CHECK_RC(bulk_pool_alloc(d, NULL, &p), -EINVAL);
	CHECK_RC(bulk_pool_alloc(d, &ok, NULL), -EINVAL);
	pp = ok;
	pp.count = 0;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.buffer_size = 0;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.buffer_size = 100; /* not a multiple of the default alignment (64) */
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.align = 48; /* not a power of two */
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.buffer_size = 4096 + 512;
	pp.align = 1024;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.trust = (enum bulk_trust)7;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.mem = (enum bulk_mem_kind)9;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	pp = ok;
	pp.count = UINT32_MAX;
	pp.buffer_size = 1u << 31; /* 2^63 bytes */
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), -EINVAL);
	CHECK(p == NULL);
	/* Sizes that are fine: odd multiples of the alignment, align 8. */
	pp = ok;
	pp.count = 3;
	pp.buffer_size = 192;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_EQ_INT(bulk_pool_buffer_count(p), 3);
	CHECK_EQ_INT(bulk_pool_buffer_size(p), 192);
	CHECK_EQ_INT(bulk_pool_trust(p), BULK_TRUST_UNINITIALIZED);
	CHECK(bulk_pool_buffer(p, 3) == NULL);
	CHECK((uintptr_t)bulk_pool_buffer(p, 1)->addr - (uintptr_t)bulk_pool_buffer(p, 0)->addr
	      == 192);
	CHECK_RC(bulk_pool_free(p), 0);
	pp.align = 8;
	pp.buffer_size = 24;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_pool_free(NULL), -EINVAL);
	printf("  params: NULLs, count 0, size 0, size %% align, align not 2^n, enums, "
	       "overflow\n");
}

static void
test_get_put(struct bulk_domain *d)
{
	struct bulk_pool_params pp = { .count = 16, .buffer_size = 2048, .align = 2048 };
	struct bulk_pool *p, *q;
	struct bulk_buffer *b[20], *dup[2], *one;
	long page = sysconf(_SC_PAGESIZE);

	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_RC(bulk_pool_alloc(d, &pp, &q), 0);
	CHECK(bulk_pool_domain(p) == d);
	CHECK(bulk_domain_pool_lookup(d, bulk_pool_get_id(p)) == p);
	CHECK_EQ_INT(bulk_pool_free_count(p), 16);
	CHECK_EQ_INT((uintptr_t)bulk_pool_base(p) % (uintptr_t)page, 0);
	for (unsigned i = 0; i < 16; i++) {
		struct bulk_buffer *x = bulk_pool_buffer(p, i);

		CHECK_EQ_INT(x->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(x->index, i);
		CHECK(x->pool == p);
		CHECK_EQ_INT((uintptr_t)x->addr % 2048, 0);
		CHECK(x->addr == (uint8_t *)bulk_pool_base(p) + (size_t)i * 2048);
		memset(x->addr, 0x5a, 2048); /* the memory is there and writable */
	}
	CHECK_RC(bulk_pool_get_burst(NULL, b, 1), -EINVAL);
	CHECK_RC(bulk_pool_get_burst(p, b, 0), 0);
	CHECK_RC(bulk_pool_get_burst(p, b, 10), 10);
	CHECK_EQ_INT(bulk_pool_free_count(p), 6);
	CHECK_RC(bulk_pool_get_burst(p, b + 10, 10), 6); /* short: 0..n */
	CHECK_EQ_INT(bulk_pool_free_count(p), 0);
	CHECK(bulk_pool_get(p) == NULL);
	CHECK_RC(bulk_pool_get_burst(p, b, 4), 0);
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = i + 1; j < 16; j++)
			CHECK(b[i] != b[j]);
	/* Taken buffers are still owned READ_WRITE: the pool may go. */
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_RC(bulk_pool_get_burst(p, b, 16), 16);

	/* Put: all or nothing; double put, duplicate, other pool, NULL. */
	CHECK_RC(bulk_pool_put_burst(p, b, 4), 4);
	CHECK_EQ_INT(bulk_pool_free_count(p), 4);
	CHECK_RC(bulk_pool_put_burst(p, b + 3, 2), -BULK_E_BUFFER_FREE);
	CHECK_EQ_INT(bulk_pool_free_count(p), 4);
	CHECK_RC(bulk_pool_put(b[0]), -BULK_E_BUFFER_FREE);
	dup[0] = b[5];
	dup[1] = b[5];
	CHECK_RC(bulk_pool_put_burst(p, dup, 2), -BULK_E_DUPLICATE);
	CHECK_EQ_INT(bulk_pool_free_count(p), 4);
	one = bulk_pool_get(q);
	CHECK(one != NULL);
	dup[0] = b[6];
	dup[1] = one;
	CHECK_RC(bulk_pool_put_burst(p, dup, 2), -EINVAL);
	dup[1] = NULL;
	CHECK_RC(bulk_pool_put_burst(p, dup, 2), -EINVAL);
	CHECK_RC(bulk_pool_put_burst(NULL, dup, 1), -EINVAL);
	CHECK_RC(bulk_pool_put(NULL), -EINVAL);
	CHECK_EQ_INT(bulk_pool_free_count(p), 4);
	CHECK_EQ_INT(b[6]->flags & 1, 0);
	CHECK_RC(bulk_pool_put(one), 0);
	CHECK_RC(bulk_pool_put_burst(p, b + 4, 12), 12);
	CHECK_EQ_INT(bulk_pool_free_count(p), 16);
	/* LIFO or not, every buffer comes out once. */
	CHECK_RC(bulk_pool_get_burst(p, b, 20), 16);
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = i + 1; j < 16; j++)
			CHECK(b[i] != b[j]);
	CHECK_RC(bulk_pool_put_burst(p, b, 16), 16);
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_pool_free(q), 0);
	printf("  get/put: short bursts, double put, duplicate, foreign buffer, alignment\n");
}

static void
test_ids(struct bulk_domain *d, struct bulk_domain *d2)
{
	struct bulk_pool_params pp = { .count = 1, .buffer_size = 64 };

	for (unsigned i = 0; i < NPOOLS; i++)
		CHECK_RC(bulk_pool_alloc(i % 2 ? d : d2, &pp, &many[i]), 0);
	for (unsigned i = 0; i < NPOOLS; i++) {
		const struct bulk_pool_id *a = bulk_pool_get_id(many[i]);

		CHECK_EQ_INT(bulk_pool_id_equal(a, a), 1);
		for (unsigned j = i + 1; j < NPOOLS; j++)
			if (bulk_pool_id_equal(a, bulk_pool_get_id(many[j]))) {
				fprintf(stderr, "pools %u and %u share an id\n", i, j);
				CHECK(0);
			}
	}
	check_count += (unsigned long)NPOOLS * (NPOOLS - 1) / 2;
	/* A domain only finds its own pools. */
	CHECK(bulk_domain_pool_lookup(d, bulk_pool_get_id(many[1])) == many[1]);
	CHECK(bulk_domain_pool_lookup(d2, bulk_pool_get_id(many[1])) == NULL);
	for (unsigned i = 0; i < NPOOLS; i++)
		CHECK_RC(bulk_pool_free(many[i]), 0);
	printf("  ids: %u pools in two domains, all ids distinct\n", NPOOLS);
}

static void
test_mem_kinds(struct bulk_domain *d)
{
	struct bulk_pool_params pp = { .count = 4, .buffer_size = 4096,
				       .mem = BULK_MEM_MEMFD };
	struct bulk_pool *p;
	struct stat sb;
	int fd, rc;

	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	fd = bulk_pool_fd(p);
	CHECK(fd >= 0);
	CHECK_EQ_INT(fstat(fd, &sb), 0);
	CHECK(sb.st_size >= 4 * 4096);
	memset(bulk_pool_buffer(p, 3)->addr, 0xee, 4096);
	{
		uint8_t byte = 0;

		CHECK_EQ_INT(pread(fd, &byte, 1, 3 * 4096 + 17), 1);
		CHECK_EQ_INT(byte, 0xee); /* the fd maps the same memory */
	}
	CHECK_RC(bulk_pool_free(p), 0);
	pp.mem = BULK_MEM_ANON;
	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_RC(bulk_pool_fd(p), -ENOTSUP);
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_pool_fd(NULL), -EINVAL);

	pp.mem = BULK_MEM_HUGEPAGE;
	pp.count = 8;
	rc = bulk_pool_alloc(d, &pp, &p);
	if (rc == -ENOMEM) {
		printf("  hugepage: none reserved (-ENOMEM), that part skipped\n");
	} else {
		CHECK_RC(rc, 0);
		CHECK_EQ_INT((uintptr_t)bulk_pool_base(p) % (2u << 20), 0);
		memset(bulk_pool_buffer(p, 7)->addr, 1, 4096);
		CHECK_RC(bulk_pool_free(p), 0);
		printf("  hugepage: 2 MiB aligned pool allocated\n");
	}
	printf("  memfd: fd maps the pool; anon: -ENOTSUP\n");
}

/* bulk_pool_free() is refused while assigned, and while a buffer is away. */
static void
test_free_refused(struct bulk_domain *a, struct bulk_domain *b)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX };
	struct bulk_pool_params pp = { .count = 4, .buffer_size = 4096 };
	struct bulk_domain *doms[2] = { a, b };
	struct bulk_endpoint *ep;
	struct bulk_channel *ca, *cb;
	struct bulk_pool *p, *pv;
	struct bulk_buffer *x;

	t_connect(a, b, &cp, NULL, NULL, &ep, &ca, &cb);
	CHECK_RC(bulk_pool_alloc(a, &pp, &p), 0);
	CHECK_RC(bulk_channel_assign_pool(ca, p, BULK_CONT_NONE), 0);
	t_drain(doms, 2);
	CHECK_RC(bulk_pool_free(p), -BULK_E_POOL_ASSIGNED);
	x = bulk_pool_get(p);
	CHECK_RC(bulk_channel_move(ca, x, 4096, NULL, BULK_CONT_NONE), 0);
	t_drain(doms, 2);
	/* Tear down with one buffer at b: it keeps its owner, the pool is in use. */
	t_disconnect(a, b, ep, ca, cb);
	CHECK_RC(bulk_pool_free(p), -BULK_E_POOL_IN_USE);
	CHECK_RC(bulk_domain_destroy(a), -BULK_E_POOL_IN_USE);
	pv = bulk_domain_pool_lookup(b, bulk_pool_get_id(p));
	CHECK(pv != NULL);
	CHECK_EQ_INT(bulk_pool_buffer(pv, x->index)->state, BULK_BUFFER_READ_WRITE);
	/* A new channel brings it home. */
	t_connect(a, b, &cp, NULL, NULL, &ep, &ca, &cb);
	CHECK_RC(bulk_channel_assign_pool(ca, p, BULK_CONT_NONE), 0);
	t_drain(doms, 2);
	CHECK_RC(bulk_channel_pass(cb, bulk_pool_buffer(pv, x->index), 0, NULL, BULK_CONT_NONE),
		 0);
	t_drain(doms, 2);
	CHECK_EQ_INT(x->state, BULK_BUFFER_READ_WRITE);
	t_disconnect(a, b, ep, ca, cb);
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_domain_destroy(b), 0);
	CHECK_RC(bulk_domain_destroy(a), 0);
	printf("  free: refused while assigned and while a buffer is away; fine once home\n");
}

int
main(void)
{
	struct bulk_domain *d, *d2, *a, *b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_alloc: the pool allocator\n");
	CHECK_RC(bulk_domain_create("alloc", &d), 0);
	CHECK_RC(bulk_domain_create("alloc2", &d2), 0);
	test_params(d);
	test_get_put(d);
	test_ids(d, d2);
	test_mem_kinds(d);
	CHECK_RC(bulk_domain_destroy(d2), 0);
	CHECK_RC(bulk_domain_destroy(d), 0);
	CHECK_RC(bulk_domain_create("a", &a), 0);
	CHECK_RC(bulk_domain_create("b", &b), 0);
	test_free_refused(a, b);
	return CHECK_DONE("test_alloc");
}
