/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared model-based random test (tests/unit/model_body.c) over the shm
 * backend: three domains in one process, but every channel is a real
 * Unix socket + ring memfd channel and every domain maps each pool it
 * receives on its own.
 *
 * The body allocates its pools with default parameters (BULK_MEM_ANON),
 * which the shm backend cannot share (assignment fails with
 * -BULK_E_POOL_NOT_SHAREABLE: FULL and HALF hand the pool's memfd to the peer).
 * struct model_backend has no say in how pools are allocated, so meson
 * compiles model_body.c for this program with bulk_pool_alloc renamed to
 * model_pool_alloc, defined below: the same call with .mem forced to
 * BULK_MEM_MEMFD. Nothing else of the body changes.
 *
 * Seed: argv[1], else $BULK_SEED, else the time. Operations: argv[2], else
 * $BULK_MODEL_OPS, else 20,000.
 *
 * With --split first (test_shm_model --split [seed [ops]]): the same body
 * across two processes, forked before anything is created: the parent holds
 * domains A and B, the child C, so channels 1 (B->C) and 5 (A->C) go from
 * parent to child and 3 (C->A) back. Both run the same seed; each executes
 * the operations of its own domains and replays the others' in its model
 * (see model_body.c). The test fails if either process fails.
 *
 * --trust full|half|none (after --split, if any): every channel at that
 * level (default full). HALF: the body checks each domain's access to each
 * buffer's pages against the model (PROT_NONE / PROT_READ / read-write by
 * state); NONE: each view is private memory fed through staging copies, so
 * the body follows every view's bytes on its own and counts trust_copies.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

static int
shm_endpoint_named(void *ctx, struct bulk_domain *d, const char *name, struct bulk_endpoint **out)
{
	(void)ctx;
	return bulk_shm_endpoint_create(d, name, NULL, out);
}

static struct model_backend shm_backend = {
	.name = "shm",
	.endpoint_create = shm_endpoint,
};

/* Parent: A and B; child: C. @return the exit status. */
static int
run_split(uint64_t seed, unsigned ops)
{
	static char prefix[96];
	struct model_backend be = shm_backend;
	int sv[2], status;
	pid_t pid;
	static const char *const names[] = {
		[BULK_TRUST_UNINITIALIZED] = "full", [BULK_TRUST_NONE] = "none",
		[BULK_TRUST_HALF] = "half", [BULK_TRUST_FULL] = "full",
	};
	const char *t = names[be.trust];
	char who[64];

	/* A process that failed first closes its end: the other one says so
	 * (the peer process is gone) instead of dying of SIGPIPE unexplained. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(prefix, sizeof(prefix), "@bulk-test-%ld-model-split", (long)getpid());
	be.name_prefix = prefix;
	be.endpoint_named = shm_endpoint_named;
	CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		snprintf(who, sizeof(who), "shm-split-%s-child", t);
		be.name = who;
		be.local_mask = 1u << 2;
		be.peer_fd = sv[1];
		model_run(&be, seed, ops);
		printf("  child: %lu pools allocated as BULK_MEM_MEMFD\n", pools_forced);
		CHECK(pools_forced > 0);
		check_count += model_checks();
		exit(CHECK_DONE("test_shm_model --split (child)"));
	}
	close(sv[1]);
	snprintf(who, sizeof(who), "shm-split-%s-parent", t);
	be.name = who;
	be.local_mask = 1u << 0 | 1u << 1;
	be.peer_fd = sv[0];
	model_run(&be, seed, ops);
	printf("  parent: %lu pools allocated as BULK_MEM_MEMFD\n", pools_forced);
	CHECK(pools_forced > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "test_shm_model --split: child failed (status 0x%x)\n", status);
		CHECK(0);
	}
	close(sv[0]);
	check_count += model_checks();
	return CHECK_DONE("test_shm_model --split");
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	unsigned long ops = 20000;
	bool split = argc > 1 && strcmp(argv[1], "--split") == 0;
	const char *s;
	struct timespec ts;

	if (split) {
		argc--;
		argv++;
	}
	if (argc > 2 && strcmp(argv[1], "--trust") == 0) {
		if (strcmp(argv[2], "half") == 0) {
			shm_backend.trust = BULK_TRUST_HALF;
		} else if (strcmp(argv[2], "none") == 0) {
			shm_backend.trust = BULK_TRUST_NONE;
		} else if (strcmp(argv[2], "full") != 0) {
			fprintf(stderr, "test_shm_model: --trust full|half|none\n");
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	s = argc > 1 ? argv[1] : getenv("BULK_SEED");

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
	printf("test_shm_model%s: seed %" PRIu64 "\n", split ? " --split" : "", seed);
	if (split)
		return run_split(seed, (unsigned)ops);
	model_run(&shm_backend, seed, (unsigned)ops);
	printf("  %lu pools allocated as BULK_MEM_MEMFD instead of BULK_MEM_ANON\n", pools_forced);
	CHECK(pools_forced > 0);
	check_count += model_checks();
	return CHECK_DONE("test_shm_model");
}
