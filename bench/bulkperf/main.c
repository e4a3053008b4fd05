/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf main: parse, say what runs, hand over to the backend's driver.
 * The result line is always the last line on stdout of a run that got as
 * far as moving buffers.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bulk_config.h"
#include "bulkperf.h"

#ifndef PERF_HAVE_DPDK
#define PERF_HAVE_DPDK 0
#endif

static void
perf_on_signal(int sig)
{
	(void)sig;
	/* Lock-free atomic store: async-signal-safe. The source stops and drains. */
	atomic_store_explicit(&perf_interrupted, true, memory_order_relaxed);
}

static void
perf_banner(const struct perf_opts *o)
{
	static const char *const roles[] = {
		[PERF_SHM_ALL] = "one process per domain",
		[PERF_SHM_CREATE] = "create side (reflector)",
		[PERF_SHM_BIND] = "bind side (source)",
	};
	bool shm = strcmp(o->backend, "shm") == 0, dpdk = strcmp(o->backend, "dpdk") == 0;

	printf("bulkperf: backend %s, mode %s, %u buffers of %u bytes, burst %u, ", o->backend,
	       perf_mode_name(o->mode), o->buffers, o->buffer_size, o->burst);
	if (o->count != 0)
		printf("count %llu", (unsigned long long)o->count);
	else
		printf("duration %.3f s", o->duration);
	printf(", %u hop%s, trust %s, inflight %u%s, %s", o->hops, o->hops == 1 ? "" : "s",
	       perf_trust_name(o->trust), o->inflight, o->verify ? ", verify" : "",
	       shm || dpdk ? roles[o->role] : (o->threads ? "thread per domain" : "one thread"));
	if (shm)
		printf(", endpoint %s", o->endpoint);
	if (dpdk) {
		char local[INET_ADDRSTRLEN], peer[INET_ADDRSTRLEN];
		struct in_addr a;

		a.s_addr = htonl(o->local_ip);
		inet_ntop(AF_INET, &a, local, sizeof(local));
		a.s_addr = htonl(o->peer_ip);
		inet_ntop(AF_INET, &a, peer, sizeof(peer));
		printf(", port %u, %s -> %s, endpoint %u", o->port, local, peer, o->ep_id);
	}
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct perf_opts o;
	int rc;

	rc = perf_opts_parse(argc, argv, &o);
	if (rc == PERF_PARSE_HELP)
		return PERF_EXIT_OK;
	if (rc != PERF_PARSE_OK)
		return PERF_EXIT_USAGE;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = perf_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	perf_banner(&o);
	/* perf_opts_parse() let through only backends that are built. */
#if PERF_HAVE_DPDK
	if (strcmp(o.backend, "dpdk") == 0)
		return perf_dpdk_main(&o);
#endif
#if BULK_HAVE_SHM
	if (strcmp(o.backend, "shm") == 0)
		return perf_shm_main(&o);
#endif
#if BULK_HAVE_LOCAL
	if (strcmp(o.backend, "local") == 0)
		return perf_local_main(&o);
#endif
	return PERF_EXIT_USAGE;
}
