/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy: reach the upstream once to learn its export (retrying while
 * it is not there, for at most --reconnect-timeout), serve that export to
 * local users, say "ready:", poll until SIGTERM or SIGINT; then shut down
 * in order: users are told, finish what they have in flight and say
 * goodbye (their upstream sessions close with them), and the statistics
 * are printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_bs.h>

#include "app.h"
#include "bs_dpdk.h"
#include "cache.h"
#include "proxy.h"

/* The upstream's export, from a first session that is closed again. */
static int
probe(struct px *px)
{
	const struct px_opts *o = px->o;
	uint64_t t0 = app_now_ns(), backoff = 50 * APP_MS_NS;
	bool said = false;

	for (;;) {
		struct bulk_bs_client *c;
		char err[512] = "";
		int rc = px_up_connect(px, &c, err, sizeof(err));

		if (rc == 0) {
			px->info = *bulk_bs_client_info(c);
			rc = bulk_bs_client_close(c);
			if (rc < 0)
				app_err("closing the first upstream session: %s",
					bulk_strerror(rc));
			return 0;
		}
		if (app_is_interrupted() ||
		    (double)(app_now_ns() - t0) / 1e9 >= o->reconnect_timeout) {
			app_err("upstream %s: %s", o->upstream, err[0] ? err : bulk_strerror(rc));
			return rc;
		}
		if (!said)
			app_say("waiting for upstream %s: %s", o->upstream,
				err[0] ? err : bulk_strerror(rc));
		said = true;
		app_sleep_ns(backoff);
		backoff = backoff * 2 > 2 * APP_SEC_NS ? 2 * APP_SEC_NS : backoff * 2;
	}
}

static int
run(struct px_opts *o)
{
	struct px px = { .o = o, .next_ep = 1 };
	struct bulk_bs_server_params p = { .ops = &px_server_ops,
					   .arg = &px,
					   .export_name = o->export_name,
					   .poll = (enum bulk_bs_poll_mode)o->poll,
					   .max_conns = o->max_clients,
					   .poll_hook = px_poll_hook,
					   .poll_hook_arg = &px,
					   .sleep_hook = px_sleep_hook,
					   .spin_hook = px_spin_hook };
	char where[BULK_BS_ADDR_STRLEN] = "", uris[1024] = "", err[512] = "";
	uint64_t t0, next_stats, deadline;
	int rc, idx, status = APP_EXIT_FAIL;

	rc = bulk_domain_create("nbs-proxy", &px.dom);
	if (rc < 0) {
		app_err("bulk_domain_create: %s", bulk_strerror(rc));
		return APP_EXIT_FAIL;
	}
	if (strncmp(o->via, "dpdk:", 5) == 0) {
		if (bs_dpdk_open(px.dom, o->via + 5, o->args.eal_argc, o->args.eal_argv, &px.dpdk) <
		    0)
			goto out;
		px.next_ep = bs_dpdk_ep(px.dpdk);
	}
	if (probe(&px) < 0)
		goto out;
	if (o->cache != NULL) {
		uint64_t bytes = 0;

		rc = app_parse_size(o->cache, &bytes);
		if (rc == 0)
			rc = px_cache_create(px.dom, bytes, o->cache_block, &px.info, &px.cache);
		if (rc < 0) {
			app_err("--cache %s (blocks of %u bytes): %s", o->cache, o->cache_block,
				rc == -EINVAL ? "at least two blocks, a block the export can address"
					      : bulk_strerror(rc));
			goto out;
		}
		/* Users that offer a copy channel get hits as copies. */
		p.copies = 1;
	}
	p.dom = px.dom;
	p.info = px.info;
	/* Each user's session has a pool of its own upstream (one buffer). */
	p.info.max_buffers = px.info.max_buffers > 1 ? px.info.max_buffers - 1 : 1;
	rc = bulk_bs_server_create(&p, &px.srv);
	if (rc < 0) {
		app_err("block service: %s", bulk_strerror(rc));
		goto out;
	}
	if (o->listen != NULL) {
		idx = bulk_bs_server_listen(px.srv, o->listen);
		if (idx < 0) {
			app_err("--listen %s: %s", o->listen,
				idx == -EINVAL ? "expected unix:PATH or unix:@NAME"
					       : bulk_strerror(idx));
			goto out;
		}
		(void)bulk_bs_server_listen_addr(px.srv, idx, where, sizeof(where));
	}
	/* NBD clients (--nbd, or systemd's LISTEN_FDS), carried upstream (nbd.c). */
	if (o->nnbd > 0 || getenv("LISTEN_FDS") != NULL) {
		rc = px_nbd_open(&px, &px.nbd, err, sizeof(err));
		if (rc < 0) {
			app_err("%s", err[0] ? err : bulk_strerror(rc));
			goto out;
		}
		(void)px_nbd_uris(px.nbd, uris, sizeof(uris));
	}
	printf("ready: nbs-proxy listening on %s%s%s upstream %s via %s size %" PRIu64
	       " block %u..%u flags 0x%x poll %s\n",
	       where, where[0] && uris[0] ? " " : "", uris, o->upstream, o->via, px.info.size,
	       px.info.block_min, px.info.block_max, px.info.flags,
	       o->poll ? "busy" : "adaptive");
	fflush(stdout);

	t0 = app_now_ns();
	next_stats = o->stats_period > 0 ? t0 + (uint64_t)(o->stats_period * 1e9) : UINT64_MAX;
	while (!app_is_interrupted()) {
		(void)bulk_bs_server_poll(px.srv, 100);
		/* What arrived in this round goes upstream now, in one call per user. */
		for (struct px_sess *s = px.sessions; s != NULL; s = s->next)
			(void)px_sess_flush(s);
		if (app_now_ns() >= next_stats) {
			uint64_t now = app_now_ns();

			px_report_period(&px, (double)(now - t0) / 1e9);
			next_stats = now + (uint64_t)(o->stats_period * 1e9);
		}
	}

	app_say("shutting down: %u users connected", bulk_bs_server_conns(px.srv));
	px.shutting = true;
	/* NBD clients: no more requests; what is upstream completes and is answered. */
	px_nbd_close(px.nbd);
	px.nbd = NULL;
	(void)bulk_bs_server_shutdown(px.srv);
	deadline = app_now_ns() + (uint64_t)(o->shutdown_timeout * 1e9) + APP_SEC_NS;
	while (bulk_bs_server_conns(px.srv) > 0 && app_now_ns() < deadline) {
		(void)bulk_bs_server_poll(px.srv, 10);
		for (struct px_sess *s = px.sessions; s != NULL; s = s->next)
			(void)px_sess_flush(s);
	}
	px_report_total(&px);
	if (bulk_bs_server_conns(px.srv) > 0) {
		/* Neither the server nor the port can go with users: the
		 * process ends, and the kernel takes the rest. */
		app_err("%u users did not finish: left to the exit", bulk_bs_server_conns(px.srv));
		return APP_EXIT_FAIL;
	}
	status = APP_EXIT_OK;
out:
	px_nbd_close(px.nbd);
	if (px.srv != NULL && bulk_bs_server_free(px.srv) < 0) {
		app_err("freeing the server: busy");
		return APP_EXIT_FAIL;
	}
	if (px_cache_free(px.cache) < 0)
		app_err("freeing the cache: copies still out");
	bs_dpdk_close(px.dpdk);
	rc = bulk_domain_destroy(px.dom);
	if (rc < 0)
		app_err("domain: %s", bulk_strerror(rc));
	return status;
}

int
main(int argc, char **argv)
{
	struct px_opts o;
	int rc;

	app_prog = "nbs-proxy";
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = px_opts_parse(&o, argc, argv);
	if (rc != APP_PARSE_OK) {
		app_args_free(&o.args);
		return rc == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
	}
	app_signals_init();
	rc = run(&o);
	app_args_free(&o.args);
	return rc;
}
