/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy's options: one table (lib/app) for the command line, --config
 * files (config/nbs-proxy.ini) and --help.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cache.h"
#include "proxy.h"

#define PX_USAGE                                                                               \
	"nbs-proxy [EAL args --] [--config FILE] --upstream tcp:HOST:PORT|unix:PATH\n"           \
	"                 [--via shm|dpdk:port=N,ip=A.B.C.D] [--listen unix:PATH]\n"                \
	"                 [--nbd unix:PATH|tcp:HOST:PORT ...] [--cache SIZE] [--poll busy|adaptive]"

static const char *const px_polls[] = { "adaptive", "busy", NULL };

#define OPT(n, t, f, lo, hi, a, h, fl) { n, t, offsetof(struct px_opts, f), lo, hi, NULL, a, h, fl }
#define SECS(n, f, h, fl)                                                                    \
	{ n, APP_OPT_SECS, offsetof(struct px_opts, f), 0, 0, NULL, "SECONDS", h, fl }
#define HEADING(h) { NULL, APP_OPT_HEADING, 0, 0, 0, NULL, NULL, h, 0 }

static const struct app_opt px_table[] = {
	HEADING("The middle of a multi-hop block service (the spec's \"NBS client\"): serves\n"
		"local users (bs-user, libbulk-bs) over shm, and forwards their requests to\n"
		"an upstream nbs, or another nbs-proxy, over dpdk (or shm on one host), in\n"
		"the users' own buffers: nothing copied on shm, one receive copy on dpdk.\n"
		"Prints one line beginning \"ready:\" once it accepts users; on SIGTERM or\n"
		"SIGINT its users finish and go, and it prints its statistics and exits 0.\n"
		"Every option is also a --config key (config/nbs-proxy.ini)."),
	OPT("upstream", APP_OPT_STR, upstream, 0, 0, "ADDR",
	    "the upstream server's control address: tcp:HOST:PORT, unix:PATH or\n"
	    "unix:@NAME (a unix path reaches across network namespaces)", 0),
	OPT("via", APP_OPT_STR, via, 0, 0, "HOW",
	    "the upstream data channels: shm (default) or\n"
	    "dpdk:port=N,ip=A.B.C.D[,peer=A.B.C.D][,mac=MAC][,ep=N] (EAL arguments\n"
	    "before \"--\"): this side's port and address; each user's session creates\n"
	    "its channel at a data endpoint of its own, ep, ep+1, ... (default 1)", 0),
	OPT("listen", APP_OPT_STR, listen, 0, 0, "ADDR",
	    "where local users connect: unix:PATH or unix:@NAME", 0),
	OPT("nbd", APP_OPT_STR, nbd_cfg, 0, 0, "ADDR",
	    "also serve the upstream's export to unmodified NBD clients (qemu,\n"
	    "nbdinfo, nbdcopy, fio): unix:PATH or tcp:HOST:PORT; up to 8 times\n"
	    "(config: separated by blanks); systemd socket activation (LISTEN_FDS)\n"
	    "adds NBD listeners; URIs in \"ready:\". Each NBD connection gets an\n"
	    "upstream session of its own; --listen is then optional", 0),
	OPT("nbd-buffers", APP_OPT_U32, nbd_buffers, 1, 4096, "N",
	    "buffers of each NBD connection's upstream pool: its requests in flight\n"
	    "(default 64)", 0),
	OPT("nbd-buffer-size", APP_OPT_U32, nbd_buffer_size, 512, 64u << 20, "BYTES",
	    "bytes per buffer of that pool (default: the upstream's largest request,\n"
	    "at most 1 MiB); a longer NBD READ or WRITE goes upstream in pieces", 0),
	OPT("export", APP_OPT_STR, export_name, 0, 0, "NAME",
	    "the export asked of the upstream, and served (default: its default)", 0),
	OPT("max-clients", APP_OPT_U32, max_clients, 1, 1024, "N",
	    "users at once (default 64); each has an upstream session", 0),
	{ "poll", APP_OPT_CHOICE, offsetof(struct px_opts, poll), 0, 0, px_polls, "MODE",
	  "adaptive (default): sleep on the channels' and sockets' fds when idle\n"
	  "(1 ms naps while dpdk channels are open: they have no fd); busy: never sleep", 0 },
	SECS("connect-timeout", connect_timeout,
	     "how long one connection attempt upstream may take (default 5)", APP_OPT_NONZERO),
	SECS("reconnect-timeout", reconnect_timeout,
	     "how long to retry, with backoff from 50 ms to 2 s, once the upstream\n"
	     "is lost (or at start) before its users are turned away (default 60)",
	     APP_OPT_NONZERO),
	OPT("cache", APP_OPT_STR, cache, 0, 0, "SIZE",
	    "a read cache of SIZE bytes (K, M, G suffixes) shared by every user: hits\n"
	    "go to users that offer a copy channel (bs-user --copies) as read-only\n"
	    "copies of the cache's blocks, to the others by one memcpy; writes through\n"
	    "the proxy invalidate (default: no cache)", 0),
	OPT("cache-block", APP_OPT_U32, cache_block, 4096, 1u << 20, "BYTES",
	    "the cache's block: READs of exactly one aligned block are cached\n"
	    "(default 4096)", APP_OPT_POW2),
	SECS("stats-period", stats_period, "periodic statistics (default 0: off)", 0),
	SECS("shutdown-timeout", shutdown_timeout,
	     "how long users get to say goodbye at shutdown (default 10)", APP_OPT_NONZERO),
	HEADING("At exit: nbs-proxy: stats: hop=down ... and hop=up ... lines (requests,\n"
		"moved_bytes, copied_bytes: payload copies on the hop on this side, 0 over\n"
		"shm; dpdk: the receive copy; tx_copied_frames: dpdk frames a port that\n"
		"cannot chain mbufs copied on transmit), one line per client and per\n"
		"upstream session as they end, then nbs-proxy: stats: total ..."),
};

#define PX_NOPTS (sizeof(px_table) / sizeof(px_table[0]))
#define PX_MAX_NBD (sizeof(((struct px_opts *)0)->nbd) / sizeof(((struct px_opts *)0)->nbd[0]))

int
px_opts_parse(struct px_opts *o, int argc, char **argv)
{
	int rc, n;

	memset(o, 0, sizeof(*o));
	o->via = "shm";
	o->max_clients = 64;
	o->connect_timeout = 5;
	o->reconnect_timeout = 60;
	o->shutdown_timeout = 10;
	o->cache_block = 4096;
	rc = app_opts_parse(px_table, PX_NOPTS, o, argc, argv, PX_USAGE, &o->args);
	if (rc != APP_PARSE_OK)
		return rc;
	/* The table keeps one value; every --nbd counts. */
	n = app_opt_list(&o->args, argc, argv, "nbd", o->nbd_cfg, o->nbd, PX_MAX_NBD);
	if (n < 0)
		return APP_PARSE_USAGE;
	o->nnbd = (unsigned)n;
	if (o->upstream == NULL ||
	    (o->listen == NULL && o->nnbd == 0 && getenv("LISTEN_FDS") == NULL)) {
		app_err("--upstream ADDR and --listen unix:PATH (or --nbd ADDR) are required");
		fprintf(stderr, "Try 'nbs-proxy --help'.\n");
		return APP_PARSE_USAGE;
	}
	if (strncmp(o->upstream, "tcp:", 4) != 0 && strncmp(o->upstream, "unix:", 5) != 0) {
		app_err("--upstream '%s': expected tcp:HOST:PORT, unix:PATH or unix:@NAME",
			o->upstream);
		return APP_PARSE_USAGE;
	}
	if (o->listen != NULL && strncmp(o->listen, "unix:", 5) != 0) {
		app_err("--listen '%s': local users connect over unix:PATH or unix:@NAME", o->listen);
		return APP_PARSE_USAGE;
	}
	if (strcmp(o->via, "shm") != 0 && strncmp(o->via, "dpdk:", 5) != 0) {
		app_err("--via '%s': expected shm or dpdk:port=N,ip=A.B.C.D", o->via);
		return APP_PARSE_USAGE;
	}
	if (o->cache != NULL) {
		uint64_t bytes;

		if (app_parse_size(o->cache, &bytes) < 0 || bytes / o->cache_block < 2) {
			app_err("--cache '%s': expected a size (K, M, G suffixes) of at least two "
				"blocks of %u bytes",
				o->cache, o->cache_block);
			return APP_PARSE_USAGE;
		}
	}
	return APP_PARSE_OK;
}
