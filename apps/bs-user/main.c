/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bs-user: connect (libbulk-bs: control connection, data channel, pool),
 * check the workload against the export, run it, close in order, and end
 * with the result line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_bs.h>

#include "app.h"
#include "bs_dpdk.h"
#include "bs_hop.h"
#include "bs_user.h"

#define BSU_DEFAULT_RANGE (64ull << 20)

/* The workload must fit the export: said here, before anything is sent. */
static int
fit(struct bsu_opts *o, const struct bulk_bs_info *info)
{
	if (o->bs % info->block_min != 0 || o->bs > info->block_max) {
		app_err("--bs %u: the server takes multiples of %u up to %u", o->bs, info->block_min,
			info->block_max);
		return -EINVAL;
	}
	if (o->offset % info->block_min != 0 || o->offset >= info->size) {
		app_err("--offset %" PRIu64 ": a multiple of %u below the export's size %" PRIu64,
			o->offset, info->block_min, info->size);
		return -EINVAL;
	}
	if (o->range == 0)
		o->range = info->size - o->offset < BSU_DEFAULT_RANGE ? info->size - o->offset
								       : BSU_DEFAULT_RANGE;
	if (o->range > info->size - o->offset) {
		app_err("--range %" PRIu64 " from --offset %" PRIu64 " ends past the export (%" PRIu64
			" bytes)",
			o->range, o->offset, info->size);
		return -EINVAL;
	}
	o->range = o->range / o->bs * o->bs;
	if (o->range == 0) {
		app_err("--range: smaller than one --bs %u request", o->bs);
		return -EINVAL;
	}
	if (o->rw != BSU_READ && (info->flags & BULK_BS_FLAG_READ_ONLY)) {
		app_err("the export is read-only: --rw read only");
		return -EPERM;
	}
	return 0;
}

static void
result(const struct bsu_opts *o, const struct bsu_result *r)
{
	struct app_kv kv;

	app_kv_init(&kv, "result:");
	app_kv_add(&kv, "app", "bs-user");
	app_kv_add(&kv, "workload", "%s", bsu_workload_name(o->workload));
	app_kv_add(&kv, "rw", "%s", bsu_rw_name(o->rw));
	app_kv_add(&kv, "bs", "%u", o->bs);
	app_kv_add(&kv, "qd", "%u", o->qd);
	app_kv_add(&kv, "ios", "%" PRIu64, r->ios);
	app_kv_add(&kv, "bytes", "%" PRIu64, r->bytes);
	app_kv_add(&kv, "iops", "%.0f", app_rate(r->ios, r->secs));
	app_kv_add(&kv, "mb_s", "%.1f", app_rate(r->bytes, r->secs) / 1e6);
	app_kv_u64(&kv, "lat_p50_ns", r->lat.n > 0, app_hist_percentile(&r->lat, NULL, 50));
	app_kv_u64(&kv, "lat_p99_ns", r->lat.n > 0, app_hist_percentile(&r->lat, NULL, 99));
	app_kv_add(&kv, "verify_failures", "%" PRIu64, r->verify_failures);
	app_kv_add(&kv, "errors", "%" PRIu64, r->errors);
	app_kv_print(&kv);
}

static int
run(struct bsu_opts *o)
{
	char err[512] = "";
	const char *addrs[1] = { NULL };
	struct bulk_bs_client_params p = {
		.server = o->connect,
		.export_name = o->export_name,
		.buffers = o->qd,
		.buffer_size = o->bs,
		.trust = o->trust == 1 ? BULK_TRUST_HALF : BULK_TRUST_FULL,
		.copies = o->copies,
		.poll = (enum bulk_bs_poll_mode)o->poll,
		.err_msg = err,
		.err_len = sizeof(err),
	};
	struct bulk_domain *dom = NULL;
	struct bs_dpdk *dpdk = NULL;
	struct bulk_bs_client *c = NULL;
	struct bulk_bs_stats st;
	struct bs_hop hop = { 0 };
	struct bsu_result r;
	int rc, status = APP_EXIT_FAIL;

	rc = bulk_domain_create("bs-user", &dom);
	if (rc < 0) {
		app_err("bulk_domain_create: %s", bulk_strerror(rc));
		return APP_EXIT_FAIL;
	}
	if (strncmp(o->via, "dpdk:", 5) == 0) {
		if (bs_dpdk_open(dom, o->via + 5, o->args.eal_argc, o->args.eal_argv, &dpdk) < 0)
			goto out;
		addrs[0] = bs_dpdk_data_addr(dpdk);
		p.data_addrs = addrs;
		p.poll_hook = bs_dpdk_poll;
		p.poll_hook_arg = dpdk;
	} else if (strncmp(o->via, "shm:", 4) == 0) {
		addrs[0] = o->via;
		p.data_addrs = addrs;
	}
	p.dom = dom;
	rc = bulk_bs_client_connect(&p, &c);
	if (rc < 0) {
		app_err("connect: %s", err[0] ? err : bulk_strerror(rc));
		goto out;
	}
	if (fit(o, bulk_bs_client_info(c)) < 0)
		goto out;
	app_say("connected to %s: %" PRIu64 " bytes, blocks %u..%u; %s %s, bs %u, qd %u, range "
		"%" PRIu64 " at %" PRIu64 "%s",
		o->connect, bulk_bs_client_info(c)->size, bulk_bs_client_info(c)->block_min,
		bulk_bs_client_info(c)->block_max, bsu_workload_name(o->workload),
		bsu_rw_name(o->rw), o->bs, o->qd, o->range, o->offset,
		o->verify ? ", verifying" : "");
	rc = bsu_run(o, c, &r);
	if (rc < 0) {
		app_err("workload: %s", bulk_strerror(rc));
		goto out;
	}
	(void)bulk_bs_client_stats_get(c, &st);
	bs_hop_from_stats(&hop, &st);
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		bs_hop_add_channel(&hop, bulk_bs_client_channel(c, k));
	app_say("hop %s: requests=%" PRIu64 " moved_bytes=%" PRIu64 " copied_bytes=%" PRIu64
		" tx_copied_frames=%" PRIu64 " verified=%" PRIu64 " unverified=%" PRIu64 "%s%s%s",
		hop.backend, hop.requests, hop.moved_bytes, hop.copied_bytes, hop.tx_copied_frames,
		r.verified, r.unverified, r.interrupted ? " (interrupted)" : "",
		r.server_shutdown ? " (server shut down)" : "", r.server_gone ? " (server gone)" : "");
	if (o->copies)
		app_say("copies: %s reads=%" PRIu64 " bytes=%" PRIu64 " released=%" PRIu64
			" held=%u",
			bulk_bs_client_copies(c) ? "on" : "not offered", st.copy_reads,
			st.copy_bytes, st.copies_released, bulk_bs_client_copies_held(c));
	rc = bulk_bs_client_close(c);
	c = NULL;
	if (rc < 0 && rc != -ECONNRESET)
		app_err("close: %s", bulk_strerror(rc));
	result(o, &r);
	status = r.errors == 0 && r.verify_failures == 0 && !r.server_gone ? APP_EXIT_OK
									   : APP_EXIT_FAIL;
out:
	if (c != NULL)
		(void)bulk_bs_client_close(c);
	bs_dpdk_close(dpdk);
	if ((rc = bulk_domain_destroy(dom)) < 0)
		app_err("domain: %s", bulk_strerror(rc));
	return status;
}

int
main(int argc, char **argv)
{
	struct bsu_opts o;
	int rc;

	app_prog = "bs-user";
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = bsu_opts_parse(&o, argc, argv);
	if (rc != APP_PARSE_OK) {
		app_args_free(&o.args);
		return rc == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
	}
	app_signals_init();
	rc = run(&o);
	app_args_free(&o.args);
	return rc;
}
