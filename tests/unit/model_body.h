/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Model-based random test body, shared by every backend that can run it:
 * random valid and invalid operations applied both to the library and to a
 * reference model of the spec's Algorithm 1 state; return codes, per-domain
 * buffer states, copy counts, free lists, pool assignments, payload data and
 * the invariants of Algorithm 2 are compared after every operation.
 */
#ifndef BULK_TEST_MODEL_BODY_H
#define BULK_TEST_MODEL_BODY_H

#include <stdint.h>

#include <bulk/bulk.h>

/** How the body gets endpoints of one backend. */
struct model_backend {
	const char *name;
	/** Create an endpoint in @p d that a peer domain can bind to. @return 0 or < 0. */
	int (*endpoint_create)(void *ctx, struct bulk_domain *d, struct bulk_endpoint **out);
	void *ctx;
	/*
	 * Nonzero: the backend carries only the first `len` bytes of a buffer
	 * (a network), so after a move or pass of fewer than all of them the
	 * rest of the new owner's view is its own and not compared.
	 */
	int payload_only;
	/*
	 * Split mode: the same body with the same seed runs in two processes
	 * (forked before anything is created), each executing only the
	 * operations of the domains it holds. Bit d of local_mask: domain d
	 * lives in this process; 0 or all bits: every domain here (one
	 * process, the fields below unused).
	 */
	unsigned local_mask;
	/** Split mode: this process's end of a socketpair to the peer process. */
	int peer_fd;
	/** Split mode: endpoint names are "<name_prefix>-<channel>", the same in both. */
	const char *name_prefix;
	/** Split mode: create the endpoint called @p name in @p d (creator or binder side). */
	int (*endpoint_named)(void *ctx, struct bulk_domain *d, const char *name,
			      struct bulk_endpoint **out);
};

/**
 * Run @p ops random operations with @p seed. Exits through check.h on the
 * first mismatch, after printing the seed and the last operations.
 * @return 0.
 */
int model_run(const struct model_backend *be, uint64_t seed, unsigned ops);

/** @return the checks the body passed so far (check.h counts per file). */
unsigned long model_checks(void);

#endif /* BULK_TEST_MODEL_BODY_H */
