/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A consumer of an installed libbulk (install_test.sh builds it with
 * nothing but `pkg-config --cflags --libs libbulk`, and again with
 * --static): one buffer moved and passed back over a local channel and over
 * an shm channel (two domains of this process, through a real socket), the
 * payload checked both ways; the version it runs with is the one it was
 * compiled against.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_features.h>
#include <bulk/bulk_version.h>
#if BULK_HAVE_LOCAL
#include <bulk/bulk_local.h>
#endif
#if BULK_HAVE_SHM
#include <bulk/bulk_shm.h>
#endif

#define BUF_SIZE 4096

#define CHECK(call)                                                                                \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ < 0) {                                                                     \
			fprintf(stderr, "install/local_shm: %s: %s\n", #call, bulk_strerror(rc_)); \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/* What one side's callbacks and continuations saw. */
struct side {
	struct bulk_buffer *got;
	uint32_t len;
	bool bound, assigned, closed;
};

static struct bulk_domain *dom[2];

/* Poll both domains until @p cond holds. */
#define POLL_UNTIL(cond)                                                                      \
	do {                                                                                  \
		for (long i_ = 0; !(cond); i_++) {                                            \
			if (i_ == 10000000) {                                                 \
				fprintf(stderr, "install/local_shm: timed out: %s\n", #cond); \
				exit(1);                                                      \
			}                                                                     \
			CHECK(bulk_domain_poll(dom[0], 0));                                   \
			CHECK(bulk_domain_poll(dom[1], 0));                                   \
		}                                                                             \
	} while (0)

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	CHECK(err);
	*(bool *)arg = true;
}

static void
received(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	 const void *meta, unsigned n)
{
	struct side *s = bulk_channel_user(ch);

	(void)meta;
	s->got = bufs[n - 1];
	s->len = lens[n - 1];
}

/* Create on @p cep in dom[0], bind through @p bep from dom[1], move a buffer
 * of a pool of @p mem and pass it back, tear down. */
static void
run(const char *name, struct bulk_endpoint *cep, struct bulk_endpoint *bep, enum bulk_mem_kind mem)
{
	const struct bulk_channel_callbacks src_cb = { .buffer_received = received };
	const struct bulk_channel_callbacks snk_cb = { .move_received = received };
	struct side src = { 0 }, snk = { 0 };
	const struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX,
						.trust = BULK_TRUST_FULL,
						.user = &src };
	const struct bulk_bind_params bp = { .user = &snk };
	const struct bulk_pool_params pp = { .count = 4, .buffer_size = BUF_SIZE, .mem = mem };
	struct bulk_channel *tx, *rx;
	struct bulk_pool *pool;
	struct bulk_buffer *b;
	char want[64];

	CHECK(bulk_channel_create(cep, &src_cb, &cp, &tx));
	CHECK(bulk_channel_bind(dom[1], bep, &snk_cb, &bp,
				(struct bulk_cont){ .fn = set_flag, .arg = &src.bound }, &rx));
	POLL_UNTIL(src.bound);
	CHECK(bulk_pool_alloc(dom[0], &pp, &pool));
	CHECK(bulk_channel_assign_pool(tx, pool,
				       (struct bulk_cont){ .fn = set_flag, .arg = &src.assigned }));
	POLL_UNTIL(src.assigned);

	b = bulk_pool_get(pool);
	if (b == NULL) {
		fprintf(stderr, "install/local_shm: %s: empty pool\n", name);
		exit(1);
	}
	snprintf(want, sizeof(want), "over %s, from the source", name);
	memcpy(b->addr, want, strlen(want) + 1);
	CHECK(bulk_channel_move(tx, b, (uint32_t)strlen(want) + 1, NULL, BULK_CONT_NONE));
	POLL_UNTIL(snk.got != NULL);
	if (snk.len != strlen(want) + 1 || strcmp(snk.got->addr, want) != 0) {
		fprintf(stderr, "install/local_shm: %s: the sink read the wrong payload\n", name);
		exit(1);
	}

	snprintf(want, sizeof(want), "over %s, back from the sink", name);
	memcpy(snk.got->addr, want, strlen(want) + 1);
	CHECK(bulk_channel_pass(rx, snk.got, (uint32_t)strlen(want) + 1, NULL, BULK_CONT_NONE));
	POLL_UNTIL(src.got != NULL);
	if (src.got != b || strcmp(b->addr, want) != 0) {
		fprintf(stderr, "install/local_shm: %s: the source read the wrong payload\n", name);
		exit(1);
	}

	CHECK(bulk_pool_put(b));
	CHECK(bulk_channel_destroy(tx, (struct bulk_cont){ .fn = set_flag, .arg = &src.closed }));
	POLL_UNTIL(src.closed && bulk_channel_state(rx) == BULK_STATE_CLOSED);
	CHECK(bulk_channel_free(rx));
	CHECK(bulk_channel_free(tx));
	CHECK(bulk_pool_free(pool));
	printf("%s: moved and passed back one buffer, payload checked\n", name);
}

int
main(void)
{
	struct bulk_endpoint *cep = NULL, *bep = NULL;
	int n = 0;

	if (strcmp(bulk_version(), BULK_VERSION_STRING) != 0) {
		fprintf(stderr, "install/local_shm: runs with libbulk %s, built against %s\n",
			bulk_version(), BULK_VERSION_STRING);
		return 1;
	}
	CHECK(bulk_domain_create("source", &dom[0]));
	CHECK(bulk_domain_create("sink", &dom[1]));
#if BULK_HAVE_LOCAL
	CHECK(bulk_local_endpoint_create(dom[0], &cep));
	run("local", cep, cep, BULK_MEM_ANON);
	CHECK(bulk_endpoint_free(cep));
	n++;
#endif
#if BULK_HAVE_SHM
	char name[64];

	snprintf(name, sizeof(name), "@libbulk-install-test-%ld", (long)getpid());
	CHECK(bulk_shm_endpoint_create(dom[0], name, NULL, &cep));
	CHECK(bulk_shm_endpoint_create(dom[1], name, NULL, &bep));
	run("shm", cep, bep, BULK_MEM_MEMFD);
	CHECK(bulk_endpoint_free(bep));
	CHECK(bulk_endpoint_free(cep));
	n++;
#endif
	(void)cep;
	(void)bep;
	CHECK(bulk_domain_destroy(dom[1]));
	CHECK(bulk_domain_destroy(dom[0]));
	printf("libbulk %s: %d backends worked\n", bulk_version(), n);
	return 0;
}
