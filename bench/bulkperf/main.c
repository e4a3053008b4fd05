/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf main: parse, pick the backend, set the pipeline up, run it,
 * tear it down, report. The result line is always the last line on stdout
 * of a run that got as far as moving buffers.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bulkperf.h"

static void
perf_on_signal(int sig)
{
	(void)sig;
	/* Lock-free atomic store: async-signal-safe. The source stops and drains. */
	atomic_store_explicit(&perf_interrupted, true, memory_order_relaxed);
}

/* Backends this binary can drive; the others are named so the error is useful. */
static int
perf_check_backend(const char *name)
{
	static const char *const known[] = { "local", "shm", "dpdk" };

	if (strcmp(name, "local") == 0)
		return 0;
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i]) == 0) {
			fprintf(stderr, "bulkperf: backend %s not built (built: local)\n", name);
			return -1;
		}
	fprintf(stderr, "bulkperf: unknown backend '%s' (local, shm, dpdk; built: local)\n", name);
	return -1;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct perf_opts o;
	struct perf_run r;
	struct perf_totals t;
	int rc;

	rc = perf_opts_parse(argc, argv, &o);
	if (rc == PERF_PARSE_HELP)
		return PERF_EXIT_OK;
	if (rc != PERF_PARSE_OK)
		return PERF_EXIT_USAGE;
	if (perf_check_backend(o.backend) < 0)
		return PERF_EXIT_USAGE;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = perf_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("bulkperf: backend %s, mode %s, %u buffers of %u bytes, burst %u, ", o.backend,
	       perf_mode_name(o.mode), o.buffers, o.buffer_size, o.burst);
	if (o.count != 0)
		printf("count %llu", (unsigned long long)o.count);
	else
		printf("duration %.3f s", o.duration);
	printf(", %u hop%s, trust %s, inflight %u%s%s\n", o.hops, o.hops == 1 ? "" : "s",
	       perf_trust_name(o.trust), o.inflight, o.verify ? ", verify" : "",
	       o.threads ? ", thread per domain" : ", one thread");
	fflush(stdout);

	rc = perf_setup(&r, &o);
	if (rc < 0) {
		perf_teardown(&r);
		perf_run_free(&r);
		return PERF_EXIT_FAIL;
	}
	if (perf_csv_open(&r) < 0) {
		perf_teardown(&r);
		perf_run_free(&r);
		return PERF_EXIT_FAIL;
	}
	if (o.threads)
		perf_run_threads(&r);
	else
		perf_run_single(&r);
	perf_teardown(&r);
	perf_totals_get(&r, &t);
	perf_stats_final(&r, &t);
	perf_csv_close(&r);
	perf_totals_get(&r, &t);
	perf_result_line(&r, &t);
	perf_run_free(&r);
	return (t.errors != 0 || t.verify_failures != 0) ? PERF_EXIT_FAIL : PERF_EXIT_OK;
}
