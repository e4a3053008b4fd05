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
	 * (a network) into the receiver's own memory, so every domain's view
	 * of a buffer holds its own bytes (the model tracks each; a view starts
	 * zeroed). shm at NONE does the same, whatever this says.
	 */
	int payload_only;
	/*
	 * The trust level of every channel (0: BULK_TRUST_FULL). HALF and NONE
	 * need buffers of whole pages, so the body then uses 4 KiB buffers
	 * instead of 256 bytes, and spreads the bytes it checks over them.
	 * What the model predicts per level (model_body.c): FULL, every view
	 * of a buffer is the same memory and mapped read-write; HALF, the same
	 * memory, mapped as the domain's state allows (none, read, read-write),
	 * probed after each operation for what it touched; NONE, every view is
	 * its own memory (zeroed when created) that a transfer of len bytes
	 * writes the first len bytes of, counted in trust_copies on both sides,
	 * and what a sender writes after a move or pass stays in its own view.
	 */
	enum bulk_trust trust;
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
