/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bs-user's options: one table (lib/app) for the command line, --config
 * files and --help; then the defaults that depend on the workload.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "bs_user.h"

#define BSU_USAGE                                                                          \
	"bs-user [EAL args --] --connect ADDR [--via shm|dpdk:...] --workload basic|rand|seq\n" \
	"               [--rw read|write|mix] [--bs N] [--qd N] [--count N|--duration S]\n"      \
	"               [--verify] [--verify-written] [--flush] [--range BYTES] [--rate IOPS]"

static const char *const bsu_workloads[] = { "basic", "rand", "seq", NULL };
static const char *const bsu_rws[] = { "read", "write", "mix", NULL };
static const char *const bsu_polls[] = { "adaptive", "busy", NULL };
static const char *const bsu_trusts[] = { "full", "half", NULL };

#define OPT(n, t, f, lo, hi, a, h, fl) { n, t, offsetof(struct bsu_opts, f), lo, hi, NULL, a, h, fl }
#define CHOICE(n, f, c, a, h) { n, APP_OPT_CHOICE, offsetof(struct bsu_opts, f), 0, 0, c, a, h, 0 }
#define HEADING(h) { NULL, APP_OPT_HEADING, 0, 0, 0, NULL, NULL, h, 0 }

static const struct app_opt bsu_table[] = {
	HEADING("The block service user: connects to nbs (libbulk-bs), creates its data\n"
		"channel, assigns its pool and runs a workload. Every option is also a\n"
		"--config key (config/bs-user.ini)."),
	OPT("connect", APP_OPT_STR, connect, 0, 0, "ADDR",
	    "the server's control address: unix:PATH, unix:@NAME or tcp:HOST:PORT", 0),
	OPT("via", APP_OPT_STR, via, 0, 0, "HOW",
	    "the data channel: shm (default; shm:@NAME to name it) or\n"
	    "dpdk:port=N,ip=A.B.C.D[,peer=A.B.C.D][,mac=MAC][,ep=N] (EAL arguments\n"
	    "before \"--\"): this side's port and address",
	    0),
	OPT("export", APP_OPT_STR, export_name, 0, 0, "NAME", "export name (default: none)", 0),
	CHOICE("workload", workload, bsu_workloads, "W",
	       "basic: the spec's: write a block, wait for the status, read it back,\n"
	       "verify, next block (one request at a time; --rw is ignored);\n"
	       "rand: random blocks; seq: blocks in order, wrapping (default basic)"),
	CHOICE("rw", rw, bsu_rws, "RW", "read, write or mix (default mix)"),
	OPT("read-pct", APP_OPT_U32, read_pct, 0, 100, "P", "mix: percent reads (default 50)", 0),
	OPT("bs", APP_OPT_U32, bs, 512, 64u << 20, "BYTES", "request size (default 4096)", 0),
	OPT("qd", APP_OPT_U32, qd, 1, 65536, "N",
	    "requests in flight (default 32; basic: 1); also the pool's buffers", 0),
	OPT("count", APP_OPT_U64, count, 1, UINT64_MAX / 2, "N",
	    "requests to complete (default: basic 64, seq one pass, rand 10000)", 0),
	{ "duration", APP_OPT_SECS, offsetof(struct bsu_opts, duration), 0, 0, NULL, "SECONDS",
	  "run this long instead of a count", APP_OPT_NONZERO },
	OPT("verify", APP_OPT_FLAG, verify, 0, 0, NULL,
	    "write patterns and check every read against what was last acknowledged\n"
	    "as written to its block (--rw read: the range is written first); basic\n"
	    "always verifies",
	    0),
	OPT("verify-written", APP_OPT_FLAG, verify_written, 0, 0, NULL,
	    "verify against an earlier run: every block of the range holds what a\n"
	    "--workload seq --rw write --verify pass with the same --seed, --bs,\n"
	    "--offset and --range wrote (generation 1); implies --verify, and\n"
	    "--rw read does not write the range first",
	    0),
	OPT("flush", APP_OPT_FLAG, flush, 0, 0, NULL,
	    "once every request completed, send a FLUSH and wait for it (what was\n"
	    "acknowledged is then on stable storage); a failed FLUSH is an error",
	    0),
	OPT("rate", APP_OPT_U32, rate, 0, 100000000, "IOPS",
	    "issue at most this many requests a second (default 0: no limit)", 0),
	OPT("continue-on-error", APP_OPT_FLAG, continue_on_error, 0, 0, NULL,
	    "go on after a request failed because a proxy's upstream is not\n"
	    "connected (ENOTCONN), counting it; without it the run stops there",
	    0),
	OPT("range", APP_OPT_U64, range, 1, UINT64_MAX / 2, "BYTES",
	    "bytes of the export used, from --offset (default: all of it, at most 64 MiB)", 0),
	OPT("offset", APP_OPT_U64, offset, 0, UINT64_MAX / 2, "BYTES",
	    "where the range starts (several users: disjoint ranges)", 0),
	OPT("seed", APP_OPT_U64, seed, 0, UINT64_MAX, "N", "random seed (default: the pid)", 0),
	CHOICE("poll", poll, bsu_polls, "MODE",
	       "adaptive (default): sleep on the fds when idle; busy: never sleep"),
	CHOICE("trust", trust, bsu_trusts, "LEVEL", "the data channel's trust (default full)"),
	OPT("copies", APP_OPT_FLAG, copies, 0, 0, NULL,
	    "offer the server a copy channel: a server that caches (nbs-proxy\n"
	    "--cache) may then answer READs with read-only copies of its own\n"
	    "buffers (verified, then released); shm only",
	    0),
	{ "stats-period", APP_OPT_SECS, offsetof(struct bsu_opts, stats_period), 0, 0, NULL,
	  "SECONDS", "periodic statistics (default 1, 0: off)", 0 },
	HEADING("The last line printed is\n"
		"result: app=bs-user workload=W rw=R bs=N qd=N ios=N bytes=N iops=X mb_s=X\n"
		"        lat_p50_ns=X lat_p99_ns=X verify_failures=N errors=N\n"
		"Exit status 0 when there was no error and no verify failure."),
};

#define BSU_NOPTS (sizeof(bsu_table) / sizeof(bsu_table[0]))

const char *
bsu_workload_name(int w)
{
	return app_opt_choice(bsu_table, BSU_NOPTS, "workload", w);
}

const char *
bsu_rw_name(int rw)
{
	return app_opt_choice(bsu_table, BSU_NOPTS, "rw", rw);
}

int
bsu_opts_parse(struct bsu_opts *o, int argc, char **argv)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->via = "shm";
	o->workload = BSU_BASIC;
	o->rw = BSU_MIX;
	o->bs = 4096;
	o->read_pct = 50;
	o->stats_period = 1;
	rc = app_opts_parse(bsu_table, BSU_NOPTS, o, argc, argv, BSU_USAGE, &o->args);
	if (rc != APP_PARSE_OK)
		return rc;
	if (o->connect == NULL) {
		app_err("--connect ADDR is required (the server's unix:PATH or tcp:HOST:PORT)");
		fprintf(stderr, "Try 'bs-user --help'.\n");
		return APP_PARSE_USAGE;
	}
	if (strcmp(o->via, "shm") != 0 && strncmp(o->via, "shm:", 4) != 0 &&
	    strncmp(o->via, "dpdk:", 5) != 0) {
		app_err("--via '%s': expected shm, shm:@NAME or dpdk:port=N,ip=A.B.C.D", o->via);
		return APP_PARSE_USAGE;
	}
	if (app_opt_given(&o->args, "count") && app_opt_given(&o->args, "duration")) {
		app_err("--count and --duration: give one of them");
		return APP_PARSE_USAGE;
	}
	if (o->verify_written)
		o->verify = true;
	if (o->workload == BSU_BASIC) {
		o->verify = true;
		o->rw = BSU_MIX;
		if (app_opt_given(&o->args, "qd") && o->qd != 1)
			app_say("--workload basic: one request at a time (--qd %u ignored)", o->qd);
		o->qd = 1;
	} else if (!app_opt_given(&o->args, "qd")) {
		o->qd = 32;
	}
	if (o->bs % 512 != 0) {
		app_err("--bs %u: a multiple of 512", o->bs);
		return APP_PARSE_USAGE;
	}
	if (!app_opt_given(&o->args, "seed"))
		o->seed = (uint64_t)getpid();
	return APP_PARSE_OK;
}
