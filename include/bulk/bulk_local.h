/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_local.h
 * Local backend: both ends in one process (same thread or two threads),
 * lock-free SPSC descriptor rings, no syscalls on the fast path. Pool memory
 * is shared as it is, so only BULK_TRUST_FULL is offered.
 *
 * Usage: the creator makes an endpoint and calls bulk_channel_create() on it;
 * the binder passes that same endpoint as the remote one to
 * bulk_channel_bind() from its own domain.
 */
#ifndef BULK_LOCAL_H
#define BULK_LOCAL_H

#include <bulk/bulk.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Create a local endpoint in domain @p d.
 * @return 0; -EINVAL (NULL); -ENOMEM.
 */
int bulk_local_endpoint_create(struct bulk_domain *d, struct bulk_endpoint **out);

#ifdef __cplusplus
}
#endif

#endif /* BULK_LOCAL_H */
