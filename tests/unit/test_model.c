/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Model-based random test over every backend in the table (local for now).
 * Seed: argv[1], else $BULK_SEED, else the time; printed first. Operations:
 * argv[2], else $BULK_MODEL_OPS, else 200,000.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <bulk/bulk_local.h>

#include "check.h"
#include "model_body.h"

static int
local_endpoint(void *ctx, struct bulk_domain *d, struct bulk_endpoint **out)
{
	(void)ctx;
	return bulk_local_endpoint_create(d, out);
}

static const struct model_backend backends[] = {
	{ .name = "local", .endpoint_create = local_endpoint },
};

int
main(int argc, char **argv)
{
	uint64_t seed;
	unsigned long ops = 200000;
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
	printf("test_model: seed %" PRIu64 "\n", seed);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		model_run(&backends[i], seed, (unsigned)ops);
	check_count += model_checks();
	return CHECK_DONE("test_model");
}
