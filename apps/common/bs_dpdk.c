/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --dpdk option of the block service's programs (see bs_dpdk.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_features.h>

#include "app.h"
#include "bs_dpdk.h"

#if BULK_HAVE_DPDK && defined(BS_WITH_DPDK)
#include <bulk/bulk_dpdk.h>

struct bs_dpdk {
	struct bulk_dpdk_port *port;
	bool registered;
	uint32_t ip;
	unsigned ep;
	char addr[64];
};

static int
ipv4(const char *v, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static int
mac(const char *v, uint8_t m[6])
{
	unsigned x[6];

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)x[i];
	return 0;
}

static int
parse(const char *spec, struct bulk_dpdk_port_params *pp, unsigned *ep)
{
	char buf[256], *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	*ep = 1;
	for (char *kv = strtok_r(buf, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '='), *end;
		unsigned long n;

		if (v == NULL)
			return -EINVAL;
		*v++ = '\0';
		if (strcmp(kv, "port") == 0 || strcmp(kv, "ep") == 0) {
			n = strtoul(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n > 65535)
				return -EINVAL;
			if (kv[0] == 'p')
				pp->port_id = (uint16_t)n;
			else if (n == 0)
				return -EINVAL;
			else
				*ep = (unsigned)n;
		} else if (strcmp(kv, "ip") == 0) {
			if (ipv4(v, &pp->local_ip) < 0)
				return -EINVAL;
		} else if (strcmp(kv, "peer") == 0) {
			if (ipv4(v, &pp->peer_ip) < 0)
				return -EINVAL;
		} else if (strcmp(kv, "mac") == 0) {
			if (mac(v, pp->peer_mac) < 0)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return pp->local_ip != 0 ? 0 : -EINVAL;
}

int
bs_dpdk_open(struct bulk_domain *d, const char *spec, int eal_argc, char **eal_argv,
	     struct bs_dpdk **out)
{
	struct bulk_dpdk_port_params pp;
	struct bs_dpdk *p;
	struct in_addr a;
	unsigned ep;
	int rc;

	memset(&pp, 0, sizeof(pp));
	if (parse(spec, &pp, &ep) < 0) {
		app_err("dpdk '%s': expected port=N,ip=A.B.C.D[,peer=A.B.C.D][,mac=MAC][,ep=N]", spec);
		return -EINVAL;
	}
	rc = bulk_dpdk_init(eal_argc, eal_argv);
	if (rc < 0 && rc != -EALREADY) {
		app_err("EAL initialisation failed: %s (EAL arguments go before \"--\")",
			bulk_strerror(rc));
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	pp.configure = 1;
	rc = bulk_dpdk_port_open(d, &pp, &p->port);
	if (rc < 0) {
		app_err("dpdk port %u: %s", pp.port_id, bulk_strerror(rc));
		free(p);
		return rc;
	}
	rc = bulk_dpdk_port_addr_register(p->port);
	if (rc < 0) {
		app_err("dpdk port %u: registering it for dpdk: addresses: %s", pp.port_id,
			bulk_strerror(rc));
		bs_dpdk_close(p);
		return rc;
	}
	p->registered = true;
	p->ip = pp.local_ip;
	p->ep = ep;
	a.s_addr = htonl(pp.local_ip);
	snprintf(p->addr, sizeof(p->addr), "dpdk:ip=%s,ep=%u", inet_ntoa(a), ep);
	*out = p;
	return 0;
}

int
bs_dpdk_poll(void *arg)
{
	struct bs_dpdk *p = arg;

	return p != NULL && p->port != NULL ? bulk_dpdk_port_poll(p->port, 32) : 0;
}

const char *
bs_dpdk_data_addr(const struct bs_dpdk *p)
{
	return p->addr;
}

const char *
bs_dpdk_data_addr_ep(const struct bs_dpdk *p, unsigned ep, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = htonl(p->ip) };

	snprintf(buf, len, "dpdk:ip=%s,ep=%u", inet_ntoa(a), ep);
	return buf;
}

unsigned
bs_dpdk_ep(const struct bs_dpdk *p)
{
	return p->ep;
}

uint64_t
bs_dpdk_tx_copied(const struct bulk_channel *ch)
{
	struct bulk_dpdk_chan_stats st;

	if (bulk_dpdk_chan_stats_get(ch, &st) < 0)
		return 0;
	return st.tx_copied;
}

void
bs_dpdk_close(struct bs_dpdk *p)
{
	int rc;

	if (p == NULL)
		return;
	if (p->registered)
		(void)bulk_dpdk_port_addr_unregister(p->port);
	if (p->port != NULL && (rc = bulk_dpdk_port_close(p->port)) < 0)
		app_err("closing the dpdk port: %s", bulk_strerror(rc));
	free(p);
}

#else /* no DPDK */

struct bs_dpdk {
	int unused;
};

int
bs_dpdk_open(struct bulk_domain *d, const char *spec, int eal_argc, char **eal_argv,
	     struct bs_dpdk **out)
{
	(void)d;
	(void)eal_argc;
	(void)eal_argv;
	(void)out;
	app_err("dpdk '%s': this build has no DPDK backend", spec);
	return -BULK_E_NO_BACKEND;
}

int
bs_dpdk_poll(void *arg)
{
	(void)arg;
	return 0;
}

const char *
bs_dpdk_data_addr(const struct bs_dpdk *p)
{
	(void)p;
	return "";
}

const char *
bs_dpdk_data_addr_ep(const struct bs_dpdk *p, unsigned ep, char *buf, size_t len)
{
	(void)p;
	(void)ep;
	if (len > 0)
		buf[0] = '\0';
	return buf;
}

unsigned
bs_dpdk_ep(const struct bs_dpdk *p)
{
	(void)p;
	return 0;
}

uint64_t
bs_dpdk_tx_copied(const struct bulk_channel *ch)
{
	(void)ch;
	return 0;
}

void
bs_dpdk_close(struct bs_dpdk *p)
{
	(void)p;
}

#endif
