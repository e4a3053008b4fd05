/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's options: one table (lib/app) for the command line, --config files
 * and --help. --listen may be given several times; lib/app's table keeps
 * one value per option, so the command line's --listen values are
 * gathered here first (a config file's "listen" holds one or more
 * addresses separated by blanks).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "nbs.h"

#define NBS_USAGE                                                                          \
	"nbs [EAL args --] [--config FILE] --store memory:SIZE|file:PATH --listen ADDR\n"   \
	"           [--listen ADDR...] [--dpdk port=N,ip=A.B.C.D] [--block-size N]\n"       \
	"           [--nbd unix:PATH|tcp:HOST:PORT ...] [--poll busy|adaptive]"

static const char *const nbs_polls[] = { "adaptive", "busy", NULL };

#define OPT(n, t, f, lo, hi, a, h, fl) { n, t, offsetof(struct nbs_opts, f), lo, hi, NULL, a, h, fl }
#define HEADING(h) { NULL, APP_OPT_HEADING, 0, 0, 0, NULL, NULL, h, 0 }

static const struct app_opt nbs_table[] = {
	HEADING("Serves a block store to block service clients (bs-user, libbulk-bs): a\n"
		"control connection per client, requests and data on bulk channels the\n"
		"client creates. Prints one line beginning \"ready:\" once it accepts\n"
		"clients; on SIGTERM or SIGINT it finishes what is in flight, flushes,\n"
		"prints its statistics and exits 0. Every option is also a --config key\n"
		"(config/nbs.ini)."),
	OPT("store", APP_OPT_STR, store, 0, 0, "SPEC",
	    "memory:SIZE (K, M, G, T suffixes; the blocks live in a bulk pool;\n"
	    "default memory:256M) or file:PATH (a file or block device, io_uring)", 0),
	OPT("listen", APP_OPT_STR, listen_cfg, 0, 0, "ADDR",
	    "control address: unix:PATH, unix:@NAME or tcp:HOST:PORT; give it\n"
	    "up to 8 times (config: several addresses separated by blanks)", 0),
	OPT("nbd", APP_OPT_STR, nbd_cfg, 0, 0, "ADDR",
	    "also serve the store over NBD (qemu, nbdinfo, nbdcopy, fio): unix:PATH\n"
	    "or tcp:HOST:PORT; up to 8 times (config: separated by blanks); systemd\n"
	    "socket activation (LISTEN_FDS) adds NBD listeners; URIs in \"ready:\"", 0),
	OPT("export", APP_OPT_STR, export_name, 0, 0, "NAME",
	    "the export's name (default: none; any name is answered)", 0),
	OPT("block-size", APP_OPT_U32, block_size, NBS_STORE_MIN_BLOCK_SIZE,
	    NBS_STORE_MAX_BLOCK_SIZE, "N",
	    "preferred request size and the memory store's block (default 4096)", APP_OPT_POW2),
	OPT("max-request", APP_OPT_U32, max_request, NBS_STORE_MIN_BLOCK_SIZE, 64u << 20, "BYTES",
	    "longest READ or WRITE (default 1 MiB)", 0),
	OPT("max-buffers", APP_OPT_U32, max_buffers, 1, 65536, "N",
	    "most buffers (requests in flight) one client may assign (default 4096)", 0),
	OPT("max-clients", APP_OPT_U32, max_clients, 1, 4096, "N",
	    "clients at once (default 64)", 0),
	OPT("read-only", APP_OPT_FLAG, read_only, 0, 0, NULL, "refuse writes, trims, zeroes", 0),
	{ "poll", APP_OPT_CHOICE, offsetof(struct nbs_opts, poll), 0, 0, nbs_polls, "MODE",
	  "adaptive (default): sleep on the channels' and sockets' fds when idle;\n"
	  "busy: never sleep (one core)", 0 },
	OPT("dpdk", APP_OPT_STR, dpdk, 0, 0, "SPEC",
	    "port=N,ip=A.B.C.D: open DPDK port N (EAL arguments before \"--\") for\n"
	    "every client's dpdk: data channels (one port, many peers)", 0),
	{ "stats-period", APP_OPT_SECS, offsetof(struct nbs_opts, stats_period), 0, 0, NULL,
	  "SECONDS", "periodic statistics (default 0: off)", 0 },
	{ "shutdown-timeout", APP_OPT_SECS, offsetof(struct nbs_opts, shutdown_timeout), 0, 0,
	  NULL, "SECONDS", "how long clients get to say goodbye at shutdown (default 10)",
	  APP_OPT_NONZERO },
	HEADING("At exit, per client: nbs: stats: client=N peer=ADDR hop=BACKEND requests=N\n"
		"reads=N writes=N ... moved_bytes=N copied_bytes=N store_copied_bytes=N end=WHY\n"
		"(copied_bytes: payload copies on the hop, 0 over shm; store_copied_bytes:\n"
		"the store's own copy between its blocks and the request's buffer); then\n"
		"nbs: stats: total ..."),
};

#define NBS_NOPTS (sizeof(nbs_table) / sizeof(nbs_table[0]))

int
nbs_opts_parse(struct nbs_opts *o, int argc, char **argv)
{
	int rc, n;

	memset(o, 0, sizeof(*o));
	o->store = "memory:256M";
	o->block_size = NBS_STORE_DEFAULT_BLOCK_SIZE;
	o->max_request = 1u << 20;
	o->max_buffers = 4096;
	o->max_clients = 64;
	o->shutdown_timeout = 10;
	rc = app_opts_parse(nbs_table, NBS_NOPTS, o, argc, argv, NBS_USAGE, &o->args);
	if (rc != APP_PARSE_OK)
		return rc;
	/* The table keeps one value; every --listen and --nbd counts. */
	n = app_opt_list(&o->args, argc, argv, "listen", o->listen_cfg, o->listen, NBS_MAX_LISTEN);
	if (n < 0)
		return APP_PARSE_USAGE;
	o->nlisten = (unsigned)n;
	n = app_opt_list(&o->args, argc, argv, "nbd", o->nbd_cfg, o->nbd, NBS_MAX_LISTEN);
	if (n < 0)
		return APP_PARSE_USAGE;
	o->nnbd = (unsigned)n;
	/* NBD alone (--nbd, or systemd's LISTEN_FDS) needs no --listen. */
	if (o->nlisten == 0 && o->nnbd == 0 && getenv("LISTEN_FDS") == NULL) {
		app_err("--listen ADDR or --nbd ADDR is required (unix:PATH, tcp:HOST:PORT)");
		fprintf(stderr, "Try 'nbs --help'.\n");
		return APP_PARSE_USAGE;
	}
	if (strncmp(o->store, "memory:", 7) != 0 && strncmp(o->store, "file:", 5) != 0) {
		app_err("--store '%s': expected memory:SIZE or file:PATH", o->store);
		return APP_PARSE_USAGE;
	}
	if (o->max_request < o->block_size) {
		app_err("--max-request %u is smaller than --block-size %u", o->max_request,
			o->block_size);
		return APP_PARSE_USAGE;
	}
	return APP_PARSE_OK;
}
