/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_addr.h
 * Endpoint addresses: one text form that names the far end of a channel,
 * whichever backend carries it. Users type it, applications exchange it
 * over their control connections (the spec's "name service", 8.5), and
 * error messages quote it.
 *
 *   local:NAME                   a creator's endpoint in this process
 *   shm:@NAME                    an shm endpoint in the abstract socket namespace
 *   shm:/PATH                    an shm endpoint on a filesystem socket
 *   dpdk:ip=A.B.C.D,ep=N[,udp=P] endpoint number N at IPv4 address A.B.C.D
 *                                (UDP port P; default: the port's)
 *
 * An address names where a creator listens: the creator makes its local
 * endpoint from it (bulk_addr_endpoint_create()) and a binder resolves the
 * same string to the remote endpoint it binds to
 * (bulk_addr_endpoint_remote()). Both sides can therefore be given one and
 * the same address.
 *
 * Syntax, checked strictly so that one address has one spelling: the
 * scheme in lower case; names and paths of printable ASCII without blanks
 * (0x21..0x7e), at most BULK_ADDR_NAME_MAX bytes (for shm the '@' or '/'
 * counts, as in a socket's sun_path); dpdk keys in any order, each once,
 * separated by ',' with no blanks; numbers in decimal without sign or
 * leading zero; the IPv4 address a unicast one in dotted-quad form.
 * bulk_addr_format() writes the canonical form (dpdk keys as ip, ep, udp).
 *
 * Backends: local and shm addresses are resolved by libbulk itself (when
 * the backend is built). A local NAME lives in a small per-process table:
 * the creator's endpoint is entered under it, and a binder in another
 * domain of the process gets that very endpoint. dpdk addresses need a
 * port, whose settings are given once per process: libbulk-dpdk registers
 * each port with bulk_dpdk_port_addr_register() (bulk_dpdk.h), which hands
 * libbulk the operations below (bulk_addr_register()); libbulk never calls
 * DPDK code itself.
 */
#ifndef BULK_ADDR_H
#define BULK_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include <bulk/bulk.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest NAME of local:NAME, and longest @NAME or /PATH of shm: (a sun_path less its NUL). */
#define BULK_ADDR_NAME_MAX	107
/** Room for the text of any address, its terminating NUL included. */
#define BULK_ADDR_STRLEN	128
/** Resolvers (bulk_addr_register()) one process may have at once. */
#define BULK_ADDR_MAX_RESOLVERS 16

/** The scheme of an address: which backend carries the channel. */
enum bulk_addr_scheme {
	BULK_ADDR_NONE = 0, /**< not an address (a zeroed struct) */
	BULK_ADDR_LOCAL,    /**< local:NAME */
	BULK_ADDR_SHM,	    /**< shm:@NAME or shm:/PATH */
	BULK_ADDR_DPDK,	    /**< dpdk:ip=A.B.C.D,ep=N[,udp=P] */
};

/** A parsed address. Fields that do not belong to the scheme are zero. */
struct bulk_addr {
	enum bulk_addr_scheme scheme;
	/** local: the name; shm: "@name" or "/path". NUL-terminated. */
	char name[BULK_ADDR_NAME_MAX + 1];
	uint32_t ip;  /**< dpdk: IPv4 address, host byte order */
	uint16_t ep;  /**< dpdk: endpoint number, 1..65535 */
	uint16_t udp; /**< dpdk: UDP port, 1..65535; 0: the port's own */
};

/**
 * Parse the text form of an address.
 * @param s    the address, NUL-terminated
 * @param out  receives it (zeroed first; left zeroed on failure)
 * @return 0; -EINVAL (NULL argument; an empty address; a name or path that
 *   is empty or holds a blank or a control byte; shm: neither '@' nor '/'
 *   after the scheme; dpdk: a key without '=', an empty key or value, an
 *   unknown key, a key given twice, ip= or ep= missing, a number or an IPv4
 *   address that is not written as one, trailing bytes);
 *   -EAFNOSUPPORT (no scheme, or not local, shm or dpdk);
 *   -ENAMETOOLONG (a name or path longer than BULK_ADDR_NAME_MAX);
 *   -ERANGE (dpdk: ep or udp not in 1..65535);
 *   -EADDRNOTAVAIL (dpdk: not a unicast address: 0.0.0.0/8, multicast,
 *   240.0.0.0/4 and broadcast are refused).
 *   bulk_addr_explain() says which rule the text broke.
 */
int bulk_addr_parse(const char *s, struct bulk_addr *out);

/**
 * Say why @p s is not an address: parse it as bulk_addr_parse() does and
 * write a one-line reason ("dpdk address: unknown key 'foo' (ip, ep, udp)")
 * into @p buf, truncated to @p len bytes; "" when it is one.
 * @return what bulk_addr_parse() returns for @p s (-EINVAL also for a NULL
 *   @p buf with @p len > 0).
 */
int bulk_addr_explain(const char *s, char *buf, size_t len);

/**
 * Write the canonical text of an address.
 * @param len  room in @p buf; BULK_ADDR_STRLEN always suffices
 * @return its length (without the NUL); -EINVAL (NULL argument, or @p a is
 *   not a valid address: unknown scheme, bad name, ep 0, ip not unicast);
 *   -ENOSPC (@p len too small; @p buf then holds "" if @p len > 0).
 */
int bulk_addr_format(const struct bulk_addr *a, char *buf, size_t len);

/** @return "local", "shm" or "dpdk" (the backend's name), or "?" */
const char *bulk_addr_scheme_name(enum bulk_addr_scheme s);

/**
 * Make the endpoint a creator listens on at address @p a, in domain @p d
 * (pass it to bulk_channel_create()). local: a new local endpoint entered
 * under its name; shm: bulk_shm_endpoint_create() with default parameters;
 * dpdk: bulk_dpdk_endpoint_create() with endpoint number ep, through the
 * first registered port of @p d whose own address is ip (and UDP port udp,
 * when given).
 * Free it with bulk_addr_endpoint_free().
 * @return 0; -EINVAL (NULL argument, invalid @p a); -BULK_E_NO_BACKEND (the
 *   scheme's backend is not built, or no dpdk port is registered);
 *   -EADDRINUSE (local: the name is taken in this process);
 *   -EADDRNOTAVAIL (dpdk: no registered port of @p d has that address);
 *   -ENOMEM; or what the backend's endpoint call returns.
 */
int bulk_addr_endpoint_create(struct bulk_domain *d, const struct bulk_addr *a,
			      struct bulk_endpoint **out);

/**
 * Resolve address @p a to the remote endpoint a binder in domain @p d
 * passes to bulk_channel_bind(). local: the endpoint a creator entered
 * under the name (the same object; its reference is counted); shm:
 * bulk_shm_endpoint_create(); dpdk: over a registered port of @p d that
 * reaches ip: a fixed-peer port whose peer is ip (and whose UDP port is udp,
 * when given) first, else a multi-peer port (peer_ip 0), where udp names the
 * peer's UDP port (bulk_dpdk_endpoint_remote_ip()).
 * Free it with bulk_addr_endpoint_free().
 * @return 0; -EINVAL (NULL argument, invalid @p a); -BULK_E_NO_BACKEND (as
 *   for bulk_addr_endpoint_create()); -BULK_E_EP_NO_CHANNEL (local: no
 *   endpoint has that name in this process, yet: retry as for a creator
 *   that does not listen yet); -EHOSTUNREACH (dpdk: no registered port of
 *   @p d leads to ip); -ENOMEM; or what the backend's endpoint call returns.
 */
int bulk_addr_endpoint_remote(struct bulk_domain *d, const struct bulk_addr *a,
			      struct bulk_endpoint **out);

/**
 * Free an endpoint made by bulk_addr_endpoint_create() or
 * bulk_addr_endpoint_remote(), after the channel made on or bound through
 * it. A local endpoint goes (and its name with it) when the last of its
 * creator and binders let go of it; every other one at once. A local
 * endpoint is shared: none of its references is dropped while the
 * creator's channel on it exists.
 * @return 0; -EINVAL (NULL); -EBUSY (as bulk_endpoint_free(): the channel
 *   created on it is not freed yet; the reference is kept).
 */
int bulk_addr_endpoint_free(struct bulk_endpoint *ep);

/**
 * How a backend library resolves the addresses of its scheme, for
 * bulk_addr_register(). Both operations return 0 (and fill @p out), 1 when
 * the address is not theirs to resolve (libbulk tries the next resolver),
 * or a negative code, which libbulk returns as it is.
 */
struct bulk_addr_ops {
	/** The endpoint a creator in @p d listens on at @p a. */
	int (*endpoint_create)(void *ctx, struct bulk_domain *d, const struct bulk_addr *a,
			       struct bulk_endpoint **out);
	/** The remote endpoint at @p a a binder in @p d binds to. */
	int (*endpoint_remote)(void *ctx, struct bulk_domain *d, const struct bulk_addr *a,
			       struct bulk_endpoint **out);
};

/**
 * Register a resolver of @p scheme addresses (libbulk-dpdk does, through
 * bulk_dpdk_port_addr_register()). Resolvers are tried in the order they
 * were registered. @p ops and @p ctx must stay valid until unregistered.
 * @return 0; -EINVAL (NULL @p ops, or a scheme libbulk resolves itself:
 *   only BULK_ADDR_DPDK is registered); -EEXIST (this @p ops and @p ctx
 *   are registered already); -ENOSPC (BULK_ADDR_MAX_RESOLVERS reached).
 */
int bulk_addr_register(enum bulk_addr_scheme scheme, const struct bulk_addr_ops *ops, void *ctx);

/**
 * Remove a resolver registered with bulk_addr_register().
 * @return 0; -EINVAL (NULL @p ops); -ENOENT (not registered).
 */
int bulk_addr_unregister(enum bulk_addr_scheme scheme, const struct bulk_addr_ops *ops, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* BULK_ADDR_H */
