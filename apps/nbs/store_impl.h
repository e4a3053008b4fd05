/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file store_impl.h
 * What a store kind (store_memory.c, store_file.c) may call; users of the
 * store include store.h only.
 */
#ifndef NBS_STORE_IMPL_H
#define NBS_STORE_IMPL_H

#include <stddef.h>

#include "store.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

extern const struct nbs_store_ops nbs_store_memory_ops;
extern const struct nbs_store_ops nbs_store_file_ops;

/**
 * Finish @p req now: count it and run its callback. Only from inside a
 * poll (the front end's or the kind's poll op), never from submit.
 */
void nbs_store_complete(struct nbs_store *s, struct nbs_store_req *req, int status);

/** Finish @p req at the next poll: what a kind that works at submit uses. */
void nbs_store_defer(struct nbs_store *s, struct nbs_store_req *req, int status);

/** Write a one-line reason into params->err if the caller asked for one. */
void nbs_store_errf(const struct nbs_store_params *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* NBS_STORE_IMPL_H */
