/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs: open the store, put a block service server in front of it, listen,
 * say "ready:", poll until SIGTERM or SIGINT; then shut down in order:
 * clients are told, finish what they have in flight and say goodbye (or
 * are cut off after --shutdown-timeout), the store drains and flushes,
 * and the statistics are printed.
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
#include "nbs.h"
#include "nbd_front.h"

/* Smallest alignment nbs advertises: the sector size block devices use. */
#define NBS_BLOCK_MIN 512u

static uint32_t
store_flags(const struct nbs_store *st)
{
	uint32_t f = 0;

	if (st->flags & NBS_STORE_FLAG_READ_ONLY)
		f |= BULK_BS_FLAG_READ_ONLY;
	if (st->flags & NBS_STORE_FLAG_FLUSH)
		f |= BULK_BS_FLAG_FLUSH;
	if (st->flags & NBS_STORE_FLAG_FUA)
		f |= BULK_BS_FLAG_FUA;
	if (st->flags & NBS_STORE_FLAG_TRIM)
		f |= BULK_BS_FLAG_TRIM;
	if (st->flags & NBS_STORE_FLAG_ZERO)
		f |= BULK_BS_FLAG_WRITE_ZEROES;
	return f;
}

/* What the server's poll hook serves: the block service bridge and the
 * NBD front end (nbd_front.h), both in this one thread. */
struct nbs_loop {
	struct nbs_bridge *bridge;
	struct nbs_nbd *nbd;
};

static int
loop_poll(void *arg)
{
	struct nbs_loop *l = arg;

	return nbs_bridge_poll(l->bridge) + nbs_nbd_poll(l->nbd);
}

/* Block service clients make the server spin anyway (they have channels);
 * NBD clients while they wait on us (nbd_serve_busy()). */
static int
loop_spin(void *arg)
{
	struct nbs_loop *l = arg;

	return nbs_nbd_busy(l->nbd);
}

static int
run(struct nbs_opts *o)
{
	struct nbs_store_params sp = { .block_size = o->block_size, .read_only = o->read_only };
	struct bulk_bs_server_params p = { .ops = &nbs_bridge_ops,
					   .export_name = o->export_name,
					   .poll = (enum bulk_bs_poll_mode)o->poll,
					   .max_conns = o->max_clients,
					   .poll_hook = loop_poll,
					   .spin_hook = loop_spin };
	struct nbs_bridge bridge = { 0 };
	struct nbs_loop loop = { .bridge = &bridge };
	struct bs_dpdk *dpdk = NULL;
	struct bulk_domain *dom = NULL;
	struct nbs_store *store = NULL;
	struct bulk_bs_server *srv = NULL;
	char err[256] = "", where[512] = "";
	uint32_t bmin;
	uint64_t t0, next_stats, deadline;
	int rc, status = APP_EXIT_FAIL, fd;

	rc = bulk_domain_create("nbs", &dom);
	if (rc < 0) {
		app_err("bulk_domain_create: %s", bulk_strerror(rc));
		return APP_EXIT_FAIL;
	}
	if (o->dpdk != NULL && bs_dpdk_open(dom, o->dpdk, o->args.eal_argc, o->args.eal_argv,
					    &dpdk) < 0)
		goto out;
	sp.domain = dom;
	sp.err = err;
	sp.err_len = sizeof(err);
	rc = nbs_store_open(o->store, &sp, &store);
	if (rc < 0) {
		app_err("--store %s: %s", o->store, err[0] ? err : bulk_strerror(rc));
		goto out;
	}
	bmin = o->block_size < NBS_BLOCK_MIN ? o->block_size : NBS_BLOCK_MIN;
	p.dom = dom;
	p.arg = &bridge;
	p.poll_hook_arg = &loop;
	/* Whole blocks of the smallest alignment: a file's odd tail is not served. */
	p.info.size = store->size / bmin * bmin;
	p.info.block_min = bmin;
	p.info.block_pref = o->block_size;
	p.info.block_max = (o->max_request < store->max_io ? o->max_request : store->max_io) / bmin *
			   bmin;
	p.info.flags = store_flags(store);
	p.info.max_buffers = o->max_buffers;
	if (p.info.size == 0) {
		app_err("--store %s: smaller than one block of %u bytes", o->store, bmin);
		goto out;
	}
	bridge.store = store;
	bridge.dpdk = dpdk;
	rc = bulk_bs_server_create(&p, &srv);
	if (rc < 0) {
		app_err("block service: %s", bulk_strerror(rc));
		goto out;
	}
	bridge.srv = srv;
	fd = nbs_store_fd(store);
	if (fd >= 0 && (rc = bulk_bs_server_watch_fd(srv, fd)) < 0) {
		app_err("watching the store's fd: %s", bulk_strerror(rc));
		goto out;
	}
	for (unsigned i = 0; i < o->nlisten; i++) {
		char a[BULK_BS_ADDR_STRLEN];
		int idx = bulk_bs_server_listen(srv, o->listen[i]);

		if (idx < 0) {
			app_err("--listen %s: %s", o->listen[i],
				idx == -EINVAL ? "expected unix:PATH, unix:@NAME or tcp:HOST:PORT"
					       : bulk_strerror(idx));
			goto out;
		}
		(void)bulk_bs_server_listen_addr(srv, idx, a, sizeof(a));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%s", i ? " " : "", a);
	}
	if (o->nnbd > 0 || getenv("LISTEN_FDS") != NULL) {
		struct nbs_nbd_params np = { .store = store, .srv = srv,
					     .export_name = o->export_name, .addrs = o->nbd,
					     .naddrs = o->nnbd, .size = p.info.size,
					     .block_min = bmin, .block_pref = o->block_size,
					     .block_max = p.info.block_max,
					     .max_conns = o->max_clients };

		rc = nbs_nbd_open(&np, &loop.nbd, err, sizeof(err));
		if (rc < 0) {
			app_err("%s", err[0] ? err : bulk_strerror(rc));
			goto out;
		}
		if (where[0] != '\0' && nbs_nbd_listeners(loop.nbd) > 0)
			strcat(where, " ");
		(void)nbs_nbd_uris(loop.nbd, where + strlen(where), sizeof(where) - strlen(where));
	}
	printf("ready: nbs listening on %s store %s size %" PRIu64 " block %u..%u flags 0x%x poll %s\n",
	       where, o->store, p.info.size, bmin, p.info.block_max, p.info.flags,
	       o->poll ? "busy" : "adaptive");
	fflush(stdout);

	t0 = app_now_ns();
	next_stats = o->stats_period > 0 ? t0 + (uint64_t)(o->stats_period * 1e9) : UINT64_MAX;
	while (!app_is_interrupted()) {
		(void)bulk_bs_server_poll(srv, 100);
		if (app_now_ns() >= next_stats) {
			uint64_t now = app_now_ns();

			nbs_report_period(srv, &bridge, (double)(now - t0) / 1e9, o->stats_period);
			next_stats = now + (uint64_t)(o->stats_period * 1e9);
		}
	}

	app_say("shutting down: %u clients connected, %" PRIu64 " requests with the store",
		bulk_bs_server_conns(srv), bridge.inflight);
	/* NBD clients: no more requests; what they have in flight completes. */
	nbs_nbd_close(loop.nbd);
	loop.nbd = NULL;
	(void)bulk_bs_server_shutdown(srv);
	deadline = app_now_ns() + (uint64_t)(o->shutdown_timeout * 1e9) + APP_SEC_NS;
	while (bulk_bs_server_conns(srv) > 0 && app_now_ns() < deadline)
		(void)bulk_bs_server_poll(srv, 10);
	/* Whatever the store still has completes (the clients are gone or go). */
	if (nbs_store_inflight(store) > 0)
		(void)nbs_store_drain(store);
	for (int i = 0; i < 100 && bulk_bs_server_conns(srv) > 0; i++)
		(void)bulk_bs_server_poll(srv, 10);
	rc = nbs_bridge_flush(&bridge);
	if (rc < 0)
		app_err("flush: %s", bulk_strerror(rc));
	nbs_report_total(srv, store, o->store);
	if (bulk_bs_server_conns(srv) > 0) {
		app_err("%u clients did not finish: left to the exit", bulk_bs_server_conns(srv));
		srv = NULL; /* cannot be freed with clients; the process ends */
		goto out;
	}
	status = rc < 0 ? APP_EXIT_FAIL : APP_EXIT_OK;
out:
	nbs_nbd_close(loop.nbd);
	if (srv != NULL && bulk_bs_server_free(srv) < 0)
		app_err("freeing the server: busy");
	if (store != NULL) {
		rc = nbs_store_close(store);
		if (rc < 0)
			app_err("closing the store: %s", bulk_strerror(rc));
	}
	nbs_bridge_fini(&bridge);
	bs_dpdk_close(dpdk);
	if (dom != NULL && (rc = bulk_domain_destroy(dom)) < 0) {
		/* A view lib/bs could neither free nor drop (stats: pools_leaked). */
		app_err("domain: %s", bulk_strerror(rc));
	}
	return status;
}

int
main(int argc, char **argv)
{
	struct nbs_opts o;
	int rc;

	app_prog = "nbs";
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = nbs_opts_parse(&o, argc, argv);
	if (rc != APP_PARSE_OK) {
		app_args_free(&o.args);
		return rc == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
	}
	app_signals_init();
	rc = run(&o);
	app_args_free(&o.args);
	return rc;
}
