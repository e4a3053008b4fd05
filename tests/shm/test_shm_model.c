/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared model-based random test (tests/unit/model_body.c) over the shm
 * backend: three domains in one process, but every channel is a real
 * Unix socket + ring memfd channel and every domain maps each pool it
 * receives on its own.
 *
 * The body allocates its pools with default parameters (BULK_MEM_ANON),
 * which the shm backend cannot share (assignment fails with
 * -BULK_E_POOL_GEOMETRY: FULL and HALF hand the pool's memfd to the peer).
 * struct model_backend has no say in how pools are allocated, so meson
 * compiles model_body.c for this program with bulk_pool_alloc renamed to
 * model_pool_alloc, defined below: the same call with .mem forced to
 * BULK_MEM_MEMFD. Nothing else of the body changes.
 *
 * Seed: argv[1], else $BULK_SEED, else the time. Operations: argv[2], else
 * $BULK_MODEL_OPS, else 20,000.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <bulk/bulk_alloc.h>
#include <bulk/bulk_shm.h>

#include "check.h"
#include "model_body.h"

int model_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		     struct bulk_pool **out);

static unsigned long pools_forced;

int
model_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		 struct bulk_pool **out)
{
	struct bulk_pool_params p;

	if (params == NULL)
		return bulk_pool_alloc(d, params, out);
	p = *params;
	if (p.mem == BULK_MEM_ANON) {
		p.mem = BULK_MEM_MEMFD;
		pools_forced++;
	}
	return bulk_pool_alloc(d, &p, out);
}

static unsigned name_seq;

static int
shm_endpoint(void *ctx, struct bulk_domain *d, struct bulk_endpoint **out)
{
	char name[96];

	(void)ctx;
	snprintf(name, sizeof(name), "@bulk-test-%ld-model-%u", (long)getpid(), name_seq++);
	return bulk_shm_endpoint_create(d, name, NULL, out);
}

static const struct model_backend shm_backend = {
	.name = "shm",
	.endpoint_create = shm_endpoint,
};

int
main(int argc, char **argv)
{
	uint64_t seed;
	unsigned long ops = 20000;
	const char *s = argc > 1 ? argv[1] : getenv("BULK_SEED");
	struct timespec ts;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s != NULL && s[0] != '\0') {
		seed = strtoull(s, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
	}
	if (argc > 2)
		ops = strtoul(argv[2], NULL, 0);
	else if (getenv("BULK_MODEL_OPS") != NULL)
		ops = strtoul(getenv("BULK_MODEL_OPS"), NULL, 0);
	printf("test_shm_model: seed %" PRIu64 "\n", seed);
	model_run(&shm_backend, seed, (unsigned)ops);
	printf("  %lu pools allocated as BULK_MEM_MEMFD instead of BULK_MEM_ANON\n", pools_forced);
	CHECK(pools_forced > 0);
	check_count += model_checks();
	return CHECK_DONE("test_shm_model");
}
