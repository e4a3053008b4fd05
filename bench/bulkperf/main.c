/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf main: parse, say what runs, hand over to the backend's form.
 * The result line is always the last line on stdout of a run that got as
 * far as moving buffers.
 */
#include <stdio.h>
#include <string.h>

#include "bulkperf.h"

#ifndef PERF_HAVE_DPDK
#define PERF_HAVE_DPDK 0
#endif

static void
perf_banner(const struct perf_opts *o)
{
	static const char *const sides[] = {
		[PERF_SIDE_ALL] = "one process per domain",
		[PERF_SIDE_CREATE] = "create side (reflector)",
		[PERF_SIDE_BIND] = "bind side (source)",
	};

	printf("bulkperf: backend %s, mode %s, %u buffers of %u bytes, burst %u, ", o->backend_name,
	       perf_mode_name(o->mode), o->buffers, o->buffer_size, o->burst);
	if (o->count != 0)
		printf("count %llu", (unsigned long long)o->count);
	else
		printf("duration %.3f s", o->duration);
	printf(", %u hop%s, trust %s, inflight %u%s, %s, endpoint %s%s\n", o->hops,
	       o->hops == 1 ? "" : "s", app_trust_name(o->trust_level), o->inflight,
	       o->verify ? ", verify" : "",
	       o->backend != PERF_BACKEND_LOCAL ? sides[o->side]
	       : o->threads			? "thread per domain"
						: "one thread",
	       o->addr, o->side == PERF_SIDE_ALL ? ".LINK" : "");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct perf_opts o;
	int rc;

	app_prog = "bulkperf";
	rc = perf_opts_parse(argc, argv, &o);
	if (rc != APP_PARSE_OK) {
		app_args_free(&o.args);
		return rc == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
	}
	app_signals_init();
	perf_banner(&o);
	switch (o.backend) {
	case PERF_BACKEND_DPDK:
#if PERF_HAVE_DPDK
		rc = perf_dpdk_main(&o);
#else
		rc = APP_EXIT_USAGE; /* perf_opts_parse() let through only what is built */
#endif
		break;
	case PERF_BACKEND_SHM:
		if (o.side == PERF_SIDE_ALL)
			rc = perf_spawn_main(&o);
		else
			rc = perf_chain_main(&o, &perf_form_shm, o.side == PERF_SIDE_BIND ? 0 : 1,
					     o.side == PERF_SIDE_BIND ? 0 : 1, false, NULL);
		break;
	default:
		rc = perf_chain_main(&o, &perf_form_local, 0, o.hops + 1, false, NULL);
		break;
	}
	app_args_free(&o.args);
	return rc;
}
