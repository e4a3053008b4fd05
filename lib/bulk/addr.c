/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Endpoint addresses (bulk_addr.h): the parser and printer, the per-process
 * table of local endpoint names, and the resolvers other libraries register
 * for their schemes (dpdk). One parser serves bulk_addr_parse() and
 * bulk_addr_explain(): the latter only asks it to say why.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>
#include <bulk/bulk_features.h>

#include "bulk_backend.h"
#include "bulk_mem.h"

#if BULK_HAVE_LOCAL
#include <bulk/bulk_local.h>
#endif
#if BULK_HAVE_SHM
#include <bulk/bulk_shm.h>
_Static_assert(BULK_ADDR_NAME_MAX == BULK_SHM_NAME_MAX, "an shm: address holds any shm name");
#endif
_Static_assert(BULK_ADDR_STRLEN > sizeof("local:") + BULK_ADDR_NAME_MAX, "room for the longest");

/* How much of the offending text a reason quotes. */
#define ADDR_QUOTE_MAX 40u

/* ---------------------------------------------------------------- parsing */

struct addr_why {
	char *buf;
	size_t len;
};

static int __attribute__((format(printf, 3, 4)))
addr_fail(struct addr_why *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (w != NULL && w->len > 0) {
		va_start(ap, fmt);
		vsnprintf(w->buf, w->len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A bounded, printable excerpt of what the user wrote, for a reason. */
static const char *
addr_quote(const char *p, size_t n, char out[ADDR_QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; i < n && i < ADDR_QUOTE_MAX; i++)
		out[i] = (p[i] > ' ' && p[i] < 0x7f) ? p[i] : '?';
	if (i < n) {
		memcpy(&out[i], "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static bool
addr_printable(char c)
{
	return c > ' ' && c < 0x7f;
}

/*
 * A name (local) or a socket name with its '@' or '/' (shm): 1 up to
 * BULK_ADDR_NAME_MAX printable bytes without blanks; @p min is 2 for shm,
 * where the prefix alone names nothing.
 */
static int
addr_check_name(const char *what, const char *p, size_t min, struct addr_why *w)
{
	size_t n = strnlen(p, BULK_ADDR_NAME_MAX + 1);
	char q[ADDR_QUOTE_MAX + 4];

	if (n < min)
		return addr_fail(w, -EINVAL, "%s address: the name is empty", what);
	if (n > BULK_ADDR_NAME_MAX)
		return addr_fail(w, -ENAMETOOLONG, "%s address: the name is longer than %u bytes",
				 what, BULK_ADDR_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!addr_printable(p[i]))
			return addr_fail(w, -EINVAL,
					 "%s address: '%s' holds a blank or a control byte at %zu",
					 what, addr_quote(p, n, q), i);
	return 0;
}

/* A decimal number in 1..65535 without sign or leading zero. */
static int
addr_parse_u16(const char *key, const char *p, size_t n, uint16_t *out, struct addr_why *w)
{
	char q[ADDR_QUOTE_MAX + 4];
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return addr_fail(w, -EINVAL,
					 "dpdk address: %s '%s' is not a decimal number", key,
					 addr_quote(p, n, q));
	if (n > 1 && p[0] == '0')
		return addr_fail(w, -EINVAL, "dpdk address: %s '%s' has a leading zero", key,
				 addr_quote(p, n, q));
	for (size_t i = 0; i < n && v <= UINT16_MAX; i++)
		v = v * 10 + (uint32_t)(p[i] - '0');
	if (v == 0 || v > UINT16_MAX)
		return addr_fail(w, -ERANGE, "dpdk address: %s '%s' is not in 1..65535", key,
				 addr_quote(p, n, q));
	*out = (uint16_t)v;
	return 0;
}

/* 0.0.0.0/8, multicast 224.0.0.0/4 and 240.0.0.0/4 (broadcast) reach no one peer. */
static bool
addr_ip_unicast(uint32_t ip)
{
	return (ip >> 24) != 0 && (ip >> 28) < 0xe;
}

/* Dotted quad, each part 0..255 in decimal without leading zero. */
static int
addr_parse_ip(const char *p, size_t n, uint32_t *out, struct addr_why *w)
{
	char q[ADDR_QUOTE_MAX + 4];
	uint32_t ip = 0;
	size_t i = 0;

	for (unsigned part = 0; part < 4; part++) {
		size_t start = i;
		uint32_t v = 0;

		while (i < n && p[i] >= '0' && p[i] <= '9' && i - start < 3)
			v = v * 10 + (uint32_t)(p[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && p[start] == '0'))
			goto bad;
		ip = ip << 8 | v;
		if (part < 3) {
			if (i >= n || p[i] != '.')
				goto bad;
			i++;
		}
	}
	if (i != n)
		goto bad;
	if (!addr_ip_unicast(ip))
		return addr_fail(w, -EADDRNOTAVAIL,
				 "dpdk address: ip '%s' is not a unicast address",
				 addr_quote(p, n, q));
	*out = ip;
	return 0;
bad:
	return addr_fail(w, -EINVAL, "dpdk address: ip '%s' is not an IPv4 address (A.B.C.D)",
			 addr_quote(p, n, q));
}

/* ip=A.B.C.D,ep=N[,udp=P], keys in any order, each once. */
static int
addr_parse_dpdk(const char *p, struct bulk_addr *a, struct addr_why *w)
{
	static const char *const keys[] = { "ip", "ep", "udp" };
	char q[ADDR_QUOTE_MAX + 4];
	unsigned seen = 0;
	int rc;

	if (*p == '\0')
		return addr_fail(w, -EINVAL, "dpdk address: no keys (ip=A.B.C.D,ep=N[,udp=P])");
	for (;;) {
		const char *end = strchr(p, ',');
		const char *eq, *val;
		size_t n, vn;
		unsigned k;

		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		eq = memchr(p, '=', n);
		if (eq == NULL)
			return addr_fail(w, -EINVAL, "dpdk address: '%s' is not key=value",
					 addr_quote(p, n, q));
		val = eq + 1;
		vn = (size_t)(end - val);
		for (k = 0; k < 3; k++)
			if ((size_t)(eq - p) == strlen(keys[k]) &&
			    memcmp(p, keys[k], (size_t)(eq - p)) == 0)
				break;
		if (eq == p)
			return addr_fail(w, -EINVAL, "dpdk address: a key is empty");
		if (k == 3)
			return addr_fail(w, -EINVAL, "dpdk address: unknown key '%s' (ip, ep, udp)",
					 addr_quote(p, (size_t)(eq - p), q));
		if (seen & (1u << k))
			return addr_fail(w, -EINVAL, "dpdk address: key '%s' given twice", keys[k]);
		seen |= 1u << k;
		if (vn == 0)
			return addr_fail(w, -EINVAL, "dpdk address: key '%s' has no value",
					 keys[k]);
		if (k == 0)
			rc = addr_parse_ip(val, vn, &a->ip, w);
		else
			rc = addr_parse_u16(keys[k], val, vn, k == 1 ? &a->ep : &a->udp, w);
		if (rc < 0)
			return rc;
		if (*end == '\0')
			break;
		p = end + 1;
		if (*p == '\0')
			return addr_fail(w, -EINVAL, "dpdk address: nothing after the last ','");
	}
	if (!(seen & 1u))
		return addr_fail(w, -EINVAL, "dpdk address: ip=A.B.C.D is missing");
	if (!(seen & 2u))
		return addr_fail(w, -EINVAL, "dpdk address: ep=N is missing");
	return 0;
}

static int
addr_parse(const char *s, struct bulk_addr *out, struct addr_why *w)
{
	char q[ADDR_QUOTE_MAX + 4];
	const char *colon, *rest;
	size_t sl;
	int rc;

	if (s == NULL || out == NULL)
		return addr_fail(w, -EINVAL, "no address");
	memset(out, 0, sizeof(*out));
	if (*s == '\0')
		return addr_fail(w, -EINVAL, "empty address");
	colon = strchr(s, ':');
	if (colon == NULL)
		return addr_fail(
			w, -EAFNOSUPPORT,
			"'%s' has no scheme (local:NAME, shm:@NAME, shm:/PATH or dpdk:...)",
			addr_quote(s, strlen(s), q));
	sl = (size_t)(colon - s);
	rest = colon + 1;
	if (sl == 5 && memcmp(s, "local", 5) == 0) {
		rc = addr_check_name("local", rest, 1, w);
		if (rc < 0)
			return rc;
		out->scheme = BULK_ADDR_LOCAL;
		strcpy(out->name, rest);
	} else if (sl == 3 && memcmp(s, "shm", 3) == 0) {
		if (rest[0] != '@' && rest[0] != '/')
			return addr_fail(w, -EINVAL,
					 "shm address: '%s' is neither @NAME (abstract) nor /PATH",
					 addr_quote(rest, strlen(rest), q));
		rc = addr_check_name("shm", rest, 2, w);
		if (rc < 0)
			return rc;
		out->scheme = BULK_ADDR_SHM;
		strcpy(out->name, rest);
	} else if (sl == 4 && memcmp(s, "dpdk", 4) == 0) {
		rc = addr_parse_dpdk(rest, out, w);
		if (rc < 0) {
			memset(out, 0, sizeof(*out));
			return rc;
		}
		out->scheme = BULK_ADDR_DPDK;
	} else {
		return addr_fail(w, -EAFNOSUPPORT, "unknown scheme '%s' (local, shm, dpdk)",
				 addr_quote(s, sl, q));
	}
	if (w != NULL && w->len > 0)
		w->buf[0] = '\0';
	return 0;
}

int
bulk_addr_parse(const char *s, struct bulk_addr *out)
{
	return addr_parse(s, out, NULL);
}

int
bulk_addr_explain(const char *s, char *buf, size_t len)
{
	struct addr_why w = { buf, len };
	struct bulk_addr a;

	if (buf == NULL && len > 0)
		return -EINVAL;
	return addr_parse(s, &a, &w);
}

/* A struct that bulk_addr_parse() could have produced. */
static bool
addr_valid(const struct bulk_addr *a)
{
	switch (a->scheme) {
	case BULK_ADDR_LOCAL:
		return addr_check_name("local", a->name, 1, NULL) == 0;
	case BULK_ADDR_SHM:
		return (a->name[0] == '@' || a->name[0] == '/') &&
		       addr_check_name("shm", a->name, 2, NULL) == 0;
	case BULK_ADDR_DPDK:
		return a->ep != 0 && addr_ip_unicast(a->ip);
	default:
		return false;
	}
}

int
bulk_addr_format(const struct bulk_addr *a, char *buf, size_t len)
{
	int n;

	if (a == NULL || buf == NULL || !addr_valid(a))
		return -EINVAL;
	if (a->scheme == BULK_ADDR_DPDK)
		n = snprintf(buf, len, "dpdk:ip=%u.%u.%u.%u,ep=%u", a->ip >> 24,
			     (a->ip >> 16) & 0xff, (a->ip >> 8) & 0xff, a->ip & 0xff, a->ep);
	else
		n = snprintf(buf, len, "%s:%s", bulk_addr_scheme_name(a->scheme), a->name);
	if (n >= 0 && (size_t)n < len && a->scheme == BULK_ADDR_DPDK && a->udp != 0)
		n += snprintf(buf + n, len - (size_t)n, ",udp=%u", a->udp);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

const char *
bulk_addr_scheme_name(enum bulk_addr_scheme s)
{
	switch (s) {
	case BULK_ADDR_LOCAL:
		return "local";
	case BULK_ADDR_SHM:
		return "shm";
	case BULK_ADDR_DPDK:
		return "dpdk";
	default:
		return "?";
	}
}

/* ------------------------------------------------- local names, resolvers */

/*
 * A local endpoint entered under its name. The creator holds one
 * reference and every binder that resolved the name one more: the binder
 * binds to the creator's own endpoint, which must outlive both channels.
 */
struct addr_local {
	struct addr_local *next;
	struct bulk_endpoint *ep;
	unsigned refs;
	char name[BULK_ADDR_NAME_MAX + 1];
};

struct addr_resolver {
	enum bulk_addr_scheme scheme;
	const struct bulk_addr_ops *ops;
	void *ctx;
};

/* Both tables are per process and may be used from any thread. */
static pthread_mutex_t addr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct addr_local *addr_locals;
static struct addr_resolver addr_resolvers[BULK_ADDR_MAX_RESOLVERS];
static unsigned addr_nresolvers;

static struct addr_local *
addr_local_find(const char *name)
{
	struct addr_local *l;

	for (l = addr_locals; l != NULL; l = l->next)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

#if BULK_HAVE_LOCAL
static int
addr_local_create(struct bulk_domain *d, const struct bulk_addr *a, struct bulk_endpoint **out)
{
	struct addr_local *l;
	int rc;

	l = bulk_zalloc(sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	strcpy(l->name, a->name);
	l->refs = 1;
	pthread_mutex_lock(&addr_lock);
	if (addr_local_find(a->name) != NULL) {
		rc = -EADDRINUSE;
	} else {
		rc = bulk_local_endpoint_create(d, &l->ep);
		if (rc == 0) {
			l->next = addr_locals;
			addr_locals = l;
			*out = l->ep;
		}
	}
	pthread_mutex_unlock(&addr_lock);
	if (rc < 0)
		bulk_free(l);
	return rc;
}
#endif

static int
addr_local_remote(const struct bulk_addr *a, struct bulk_endpoint **out)
{
	struct addr_local *l;
	int rc = -BULK_E_EP_NO_CHANNEL;

	pthread_mutex_lock(&addr_lock);
	l = addr_local_find(a->name);
	if (l != NULL) {
		l->refs++;
		*out = l->ep;
		rc = 0;
	}
	pthread_mutex_unlock(&addr_lock);
	return rc;
}

/* Try the resolvers of @p a's scheme in order; @p remote picks the operation. */
static int
addr_resolve(struct bulk_domain *d, const struct bulk_addr *a, bool remote,
	     struct bulk_endpoint **out)
{
	struct addr_resolver rs[BULK_ADDR_MAX_RESOLVERS];
	unsigned n = 0;

	/* A copy: a resolver may (un)register, and runs without the lock. */
	pthread_mutex_lock(&addr_lock);
	for (unsigned i = 0; i < addr_nresolvers; i++)
		if (addr_resolvers[i].scheme == a->scheme)
			rs[n++] = addr_resolvers[i];
	pthread_mutex_unlock(&addr_lock);
	if (n == 0)
		return -BULK_E_NO_BACKEND;
	for (unsigned i = 0; i < n; i++) {
		int rc = remote ? rs[i].ops->endpoint_remote(rs[i].ctx, d, a, out)
				: rs[i].ops->endpoint_create(rs[i].ctx, d, a, out);

		if (rc != 1)
			return rc;
	}
	return remote ? -EHOSTUNREACH : -EADDRNOTAVAIL;
}

int
bulk_addr_endpoint_create(struct bulk_domain *d, const struct bulk_addr *a,
			  struct bulk_endpoint **out)
{
	if (d == NULL || a == NULL || out == NULL || !addr_valid(a))
		return -EINVAL;
	switch (a->scheme) {
	case BULK_ADDR_LOCAL:
#if BULK_HAVE_LOCAL
		return addr_local_create(d, a, out);
#else
		return -BULK_E_NO_BACKEND;
#endif
	case BULK_ADDR_SHM:
#if BULK_HAVE_SHM
		return bulk_shm_endpoint_create(d, a->name, NULL, out);
#else
		return -BULK_E_NO_BACKEND;
#endif
	default:
		return addr_resolve(d, a, false, out);
	}
}

int
bulk_addr_endpoint_remote(struct bulk_domain *d, const struct bulk_addr *a,
			  struct bulk_endpoint **out)
{
	if (d == NULL || a == NULL || out == NULL || !addr_valid(a))
		return -EINVAL;
	switch (a->scheme) {
	case BULK_ADDR_LOCAL:
		return BULK_HAVE_LOCAL ? addr_local_remote(a, out) : -BULK_E_NO_BACKEND;
	case BULK_ADDR_SHM:
#if BULK_HAVE_SHM
		return bulk_shm_endpoint_create(d, a->name, NULL, out);
#else
		return -BULK_E_NO_BACKEND;
#endif
	default:
		return addr_resolve(d, a, true, out);
	}
}

int
bulk_addr_endpoint_free(struct bulk_endpoint *ep)
{
	struct addr_local **pl, *l = NULL;
	int rc = 0;

	if (ep == NULL)
		return -EINVAL;
	pthread_mutex_lock(&addr_lock);
	for (pl = &addr_locals; *pl != NULL; pl = &(*pl)->next)
		if ((*pl)->ep == ep) {
			l = *pl;
			break;
		}
	/*
	 * Whoever lets go, the endpoint's channel must be gone first, as for
	 * bulk_endpoint_free(): a reference dropped early would let the last
	 * one free an endpoint under a live channel. Pairs with the release
	 * store of the creator that published it.
	 */
	if (l != NULL && __atomic_load_n(&ep->chan, __ATOMIC_ACQUIRE) != NULL) {
		rc = -EBUSY;
		l = NULL;
	} else if (l == NULL || l->refs == 1) {
		rc = bulk_endpoint_free(ep);
		if (rc == 0 && l != NULL)
			*pl = l->next;
		else
			l = NULL;
	} else {
		l->refs--;
		l = NULL;
	}
	pthread_mutex_unlock(&addr_lock);
	bulk_free(l);
	return rc;
}

int
bulk_addr_register(enum bulk_addr_scheme scheme, const struct bulk_addr_ops *ops, void *ctx)
{
	int rc = 0;

	if (ops == NULL || ops->endpoint_create == NULL || ops->endpoint_remote == NULL ||
	    scheme != BULK_ADDR_DPDK)
		return -EINVAL;
	pthread_mutex_lock(&addr_lock);
	for (unsigned i = 0; i < addr_nresolvers; i++)
		if (addr_resolvers[i].scheme == scheme && addr_resolvers[i].ops == ops &&
		    addr_resolvers[i].ctx == ctx)
			rc = -EEXIST;
	if (rc == 0 && addr_nresolvers == BULK_ADDR_MAX_RESOLVERS)
		rc = -ENOSPC;
	if (rc == 0)
		addr_resolvers[addr_nresolvers++] = (struct addr_resolver){ scheme, ops, ctx };
	pthread_mutex_unlock(&addr_lock);
	return rc;
}

int
bulk_addr_unregister(enum bulk_addr_scheme scheme, const struct bulk_addr_ops *ops, void *ctx)
{
	int rc = -ENOENT;

	if (ops == NULL)
		return -EINVAL;
	pthread_mutex_lock(&addr_lock);
	for (unsigned i = 0; i < addr_nresolvers; i++)
		if (addr_resolvers[i].scheme == scheme && addr_resolvers[i].ops == ops &&
		    addr_resolvers[i].ctx == ctx) {
			/* Keep the order: resolvers are tried first come, first served. */
			memmove(&addr_resolvers[i], &addr_resolvers[i + 1],
				(addr_nresolvers - i - 1) * sizeof(addr_resolvers[0]));
			addr_nresolvers--;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&addr_lock);
	return rc;
}
