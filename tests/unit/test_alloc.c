/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pool allocator: parameter validation, get/put bursts, double put,
 * page alignment, unique ids, memfd and hugepage memory, and bulk_pool_free
 * refused while buffers are away.
 *
 *   test_alloc [all|main|hugepage]
 *
 * main is everything but hugepage memory; hugepage is that part alone, a
 * test of its own so that its skip (no 2 MiB pages to be had) shows in the
 * summary line: exit 77 then, and the reason on stdout. all (the default)
 * runs both and prints the hugepage part's skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hugepages.h"

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
	int fd;

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
	printf("  memfd: fd maps the pool; anon: -ENOTSUP\n");
}

#define HP_PAGES 2 /* the pool spans two pages: both must be huge */

/* The kernel page size of the mapping that holds @p addr, in KiB, or -1. */
static long
kernel_page_kib(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* NULL when the part ran, or why it was skipped. */
static const char *
test_hugepage(struct bulk_domain *d)
{
	static char why[256];
	struct bulk_pool_params pp = { .count = 8,
				       .buffer_size = 512 * 1024,
				       .mem = BULK_MEM_HUGEPAGE };
	struct bulk_pool_params ap = { .count = 8,
				       .buffer_size = 512 * 1024,
				       .mem = BULK_MEM_ANON };
	struct bulk_pool *p, *a;
	const char *skip;
	long nr0, added;
	int lock;

	if (access(HP_DIR, F_OK) != 0) {
		snprintf(why, sizeof(why), "no 2 MiB hugetlb pages in this kernel (%s: %s)", HP_DIR,
			 strerror(errno));
		return why;
	}
	lock = hp_lock();
	nr0 = hp_read("nr_hugepages");
	skip = hp_reserve(HP_PAGES, why, sizeof(why));
	if (skip != NULL) {
		close(lock);
		return skip;
	}
	added = hp_added;

	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK_EQ_INT((uintptr_t)bulk_pool_base(p) % HP_SIZE, 0);
	CHECK(bulk_pool_buffer(p, 4)->addr == (uint8_t *)bulk_pool_base(p) + HP_SIZE);
	memset(bulk_pool_base(p), 0x11, (size_t)pp.count * pp.buffer_size);
	/* Really 2 MiB pages, both of them (an anonymous pool, for contrast, not). */
	CHECK_EQ_INT(kernel_page_kib(bulk_pool_buffer(p, 0)->addr), 2048);
	CHECK_EQ_INT(kernel_page_kib(bulk_pool_buffer(p, 7)->addr), 2048);
	CHECK_RC(bulk_pool_alloc(d, &ap, &a), 0);
	CHECK_EQ_INT(kernel_page_kib(bulk_pool_base(a)) * 1024, sysconf(_SC_PAGESIZE));
	CHECK_RC(bulk_pool_free(a), 0);
	CHECK_RC(bulk_pool_free(p), 0);

	/* Exactly what we added goes back. */
	hp_give_back();
	CHECK_EQ_INT(hp_read("nr_hugepages"), nr0);
	close(lock);
	if (added > 0)
		printf("  hugepage: 4 MiB pool on two 2 MiB pages (KernelPageSize 2048 kB); "
		       "%ld page(s) added through sysfs, given back\n",
		       added);
	else
		printf("  hugepage: 4 MiB pool on two 2 MiB pages (KernelPageSize 2048 kB); "
		       "enough were free\n");
	return NULL;
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
main(int argc, char **argv)
{
	const char *part = argc > 1 ? argv[1] : "all";
	bool all = strcmp(part, "all") == 0;
	const char *skipped = NULL;
	struct bulk_domain *d, *d2, *a, *b;

	if (argc > 2 || (!all && strcmp(part, "main") != 0 && strcmp(part, "hugepage") != 0)) {
		fprintf(stderr, "usage: test_alloc [all|main|hugepage]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_alloc: the pool allocator (%s)\n", part);
	if (all || strcmp(part, "main") == 0) {
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
	}
	if (all || strcmp(part, "hugepage") == 0) {
		CHECK_RC(bulk_domain_create("huge", &d), 0);
		skipped = test_hugepage(d);
		CHECK_RC(bulk_domain_destroy(d), 0);
		if (skipped != NULL && !all)
			CHECK_SKIP("hugepage part: %s", skipped);
		if (skipped != NULL)
			printf("SKIP: hugepage part: %s\n", skipped);
	}
	return CHECK_DONE("test_alloc");
}
