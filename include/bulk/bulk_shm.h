/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_shm.h
 * Shared-memory backend: channels between processes on one host.
 *
 * An endpoint is a Unix socket name: "@name" for the abstract namespace, or
 * a filesystem path (created with mode 0600). The creator of a channel
 * listens on it; a binder connects, and the creator checks the binder's uid
 * with SO_PEERCRED (a different uid is refused unless allowed below).
 * The socket carries only the set-up and file descriptors (SCM_RIGHTS): the
 * descriptor rings (one per direction, in one shared memfd) and each pool's
 * memfd, sent once when the pool is first assigned to the channel. The fast
 * path is the rings: no syscall unless the peer asked for a wakeup.
 *
 * Trust levels:
 *  - FULL: pools mapped read-write on both sides; protections never change.
 *  - HALF: a process maps buffers it does not own PROT_NONE and copies it
 *    holds PROT_READ (mprotect over runs of buffers): touching a moved,
 *    passed or released buffer, or writing a copy, faults. Needs pools of
 *    BULK_MEM_MEMFD memory and page-multiple buffer sizes.
 *  - NONE: Linux cannot revoke a mapping from another process, so each side
 *    keeps its buffers in private memory and the data crosses through a
 *    per-channel staging memfd: one copy on send, one on receive, counted in
 *    bulk_channel_stats.trust_copies. NONE is not zero copy.
 *
 * A peer that dies or closes its socket is seen by a poll that finds
 * nothing in the ring (the socket is asked at most once a millisecond, at
 * once after bulk_channel_arm()): the channel goes CLOSED, pending
 * continuations and pool assignments fail with -BULK_E_PEER_GONE, copies
 * across it are voided and every buffer this side had moved or passed to
 * the peer comes back, READ_WRITE (bulk_channel_stats.reclaimed). A pool
 * received only through the dead peer may then be freed with the buffers
 * it still owns (bulk_pool_free()).
 *
 * Sockets and eventfds are close-on-exec but a fork()ed child inherits
 * them: a child that lives on keeps the peer from seeing this process die.
 * Fork before creating channels.
 *
 * bulk_channel_fd() of an shm channel is an epoll fd (the wakeup eventfd and
 * the socket, so that a hang-up wakes a sleeper too); bulk_channel_arm()
 * clears it. Do not read it.
 */
#ifndef BULK_SHM_H
#define BULK_SHM_H

#include <stdint.h>
#include <sys/types.h>

#include <bulk/bulk.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest endpoint name (a sun_path less its terminating NUL). */
#define BULK_SHM_NAME_MAX 107

/** Creator-side options of an shm endpoint; zero means default. */
struct bulk_shm_params {
	/** Also accept binders running as this uid (besides our own). */
	uid_t allow_uid;
	/** Nonzero: allow_uid is meaningful. */
	int allow_uid_set;
	/** Nonzero: accept binders of any uid. */
	int allow_any_uid;
};

/**
 * Create an shm endpoint named @p name in domain @p d. The same call makes
 * the endpoint a creator listens on (pass it to bulk_channel_create(), which
 * creates the socket) and the descriptor a binder connects to (pass it to
 * bulk_channel_bind() as the remote endpoint, from any process).
 * @param name    "@abstract" or a filesystem path, at most BULK_SHM_NAME_MAX bytes
 * @param params  creator options, or NULL for the defaults (same uid only)
 * @return 0; -EINVAL (NULL d/name/out, empty name); -ENAMETOOLONG; -ENOMEM.
 *
 * bulk_channel_create() on it may further return -EADDRINUSE (another live
 * creator listens on the name) or a negative errno of socket/bind/listen.
 * bulk_channel_bind() to it returns -BULK_E_EP_NO_CHANNEL when nobody listens,
 * and the bind continuation gets the creator's answer:
 * -BULK_E_BIND_MISMATCH, -BULK_E_BIND_REFUSED, -EPERM (uid not allowed),
 * -BULK_E_PEER_GONE (the creator went away before answering).
 */
int bulk_shm_endpoint_create(struct bulk_domain *d, const char *name,
			     const struct bulk_shm_params *params, struct bulk_endpoint **out);

#ifdef __cplusplus
}
#endif

#endif /* BULK_SHM_H */
