/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bind negotiation over shm, two domains of one process talking through a
 * real socket: every refusal reaches the binder's continuation with its
 * own code and leaves the creator bindable; a filesystem endpoint is 0600
 * and gone once bound; nobody listening and a second binder are told so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_shm.h>

#include "check.h"
#include "harness.h"

static struct bulk_domain *D[2];

static int
bind_wait(struct bulk_endpoint *ep, const struct bulk_bind_params *bp, struct bulk_channel **out)
{
	struct t_cont c;
	int rc = bulk_channel_bind(D[1], ep, NULL, bp, t_cont(&c), out);

	if (rc < 0)
		return rc;
	for (int i = 0; i < 1000000 && c.fired == 0; i++) {
		CHECK(bulk_domain_poll(D[0], 0) >= 0);
		CHECK(bulk_domain_poll(D[1], 0) >= 0);
	}
	CHECK_EQ_INT(c.fired, 1);
	if (c.err < 0) {
		CHECK_EQ_INT(bulk_channel_state(*out), BULK_STATE_CLOSED);
		CHECK_RC(bulk_channel_free(*out), 0);
		*out = NULL;
	}
	return c.err;
}

static void
test_refusals(const char *name)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX, .role = BULK_ROLE_MASTER,
					  .meta_size = 8, .queue_size = 256 };
	struct bulk_endpoint *ep, *rep;
	struct bulk_channel *cch, *bch = NULL, *x = NULL;
	struct bulk_bind_params bp;
	struct t_cont self;
	struct stat st;

	CHECK_RC(bulk_shm_endpoint_create(D[0], name, NULL, &ep), 0);
	CHECK_RC(bulk_shm_endpoint_create(D[1], name, NULL, &rep), 0);
	/* Nobody listens yet. */
	CHECK_RC(bulk_channel_bind(D[1], rep, NULL, NULL, BULK_CONT_NONE, &x),
		 -BULK_E_EP_NO_CHANNEL);
	CHECK_RC(bulk_channel_create(ep, NULL, &cp, &cch), 0);
	if (name[0] != '@') {
		CHECK_RC(stat(name, &st), 0);
		CHECK_EQ_INT(st.st_mode & 0777, 0600);
	}
	/* A domain binding to its own channel. */
	CHECK_RC(bulk_channel_bind(D[0], ep, NULL, NULL, t_cont(&self), &x), 0);
	for (int i = 0; i < 100000 && self.fired == 0; i++)
		CHECK(bulk_domain_poll(D[0], 0) >= 0);
	CHECK_EQ_INT(self.fired, 1);
	CHECK_RC(self.err, -BULK_E_WRONG_DOMAIN);
	CHECK_EQ_INT(bulk_channel_state(x), BULK_STATE_CLOSED);
	CHECK_RC(bulk_channel_free(x), 0);

	memset(&bp, 0, sizeof(bp));
	bp.queue_size = 512;
	CHECK_RC(bind_wait(rep, &bp, &x), -BULK_E_BIND_MISMATCH);
	bp.queue_size = 0;
	bp.meta_size = 16;
	CHECK_RC(bind_wait(rep, &bp, &x), -BULK_E_BIND_MISMATCH);
	bp.meta_size = 0;
	bp.trust = BULK_TRUST_NONE;
	CHECK_RC(bind_wait(rep, &bp, &x), -BULK_E_BIND_MISMATCH);
	bp.trust = 0;
	bp.role = BULK_ROLE_MASTER;
	CHECK_RC(bind_wait(rep, &bp, &x), -BULK_E_BIND_MISMATCH);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_INITIALIZED);

	/* Still bindable, and what the binder learns is the creator's. */
	bp.role = 0;
	bp.queue_size = 256;
	CHECK_RC(bind_wait(rep, &bp, &bch), 0);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(bch), BULK_DIRECTION_RX);
	CHECK_EQ_INT(bulk_channel_role(bch), BULK_ROLE_SLAVE);
	CHECK_EQ_INT(bulk_channel_meta_size(bch), 8);
	CHECK_EQ_INT(bulk_channel_trust(bch), BULK_TRUST_FULL);
	/* One binder per channel: the name is gone. */
	if (name[0] != '@')
		CHECK(stat(name, &st) < 0 && errno == ENOENT);
	CHECK_RC(bulk_channel_bind(D[1], rep, NULL, NULL, BULK_CONT_NONE, &x),
		 -BULK_E_EP_NO_CHANNEL);

	CHECK_RC(bulk_channel_destroy(cch, BULK_CONT_NONE), 0);
	t_drain(D, 2);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(bulk_channel_state(bch), BULK_STATE_CLOSED);
	CHECK_RC(bulk_channel_free(cch), 0);
	CHECK_RC(bulk_channel_free(bch), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	CHECK_RC(bulk_endpoint_free(rep), 0);
	printf("  %s: no listener, same domain, queue/meta/trust/role mismatch, then bound; "
	       "one binder only\n", name[0] == '@' ? "abstract" : "path");
}

int
main(void)
{
	char name[128];

	CHECK_RC(bulk_domain_create("creator", &D[0]), 0);
	CHECK_RC(bulk_domain_create("binder", &D[1]), 0);
	snprintf(name, sizeof(name), "@bulk-test-%d-bind", (int)getpid());
	test_refusals(name);
	snprintf(name, sizeof(name), "/tmp/bulk-test-%d-bind.sock", (int)getpid());
	test_refusals(name);
	CHECK_RC(bulk_domain_destroy(D[0]), 0);
	CHECK_RC(bulk_domain_destroy(D[1]), 0);
	return CHECK_DONE("test_shm_bind");
}
