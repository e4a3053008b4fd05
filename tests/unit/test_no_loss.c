/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Nothing is lost: copies over their whole life, and pools outliving the
 * channels they travelled on, in the cases the random model stays away from
 * (see model_body.c). One case per meson test (argv[1]).
 *
 * 1. A cycle of copies between two non-owners. C owns b; C copies it to A,
 *    A copies it to B, B copies it back to A. If A may now release its copy
 *    from C (Algorithm 10's local rule allows it: A still holds B's copy),
 *    the copies A<->B are cut off from the owner. Whatever the library does
 *    about it (refuse that release, or refuse the copy back into A), the
 *    invariants of Algorithm 2 must hold after every step (the owner is
 *    READ_WRITE only when nobody holds a copy), and it must stay possible
 *    to release every copy so that C gets b back READ_WRITE.
 *
 * 2. An orderly teardown while a copy is out. A copy over a closed channel
 *    could never be released, so bulk_channel_destroy() refuses on either
 *    side with -BULK_E_BUFFER_COPIED and changes nothing; once the copy is
 *    released the teardown goes through, the owner has its buffer
 *    READ_WRITE again and its pool can be freed.
 *
 * 3. viewfree: a received view that owns buffers is not freed under them
 *    (bulk_pool_free() of it returns -BULK_E_POOL_IN_USE), or they would be
 *    lost to the allocator for good.
 *
 * 4. destroy: bulk_domain_destroy() of an allocator whose pool has every
 *    buffer away is refused (-BULK_E_POOL_IN_USE), or the holder's memory
 *    would be unmapped under it.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct bulk_domain *D[3]; /* A, B, C */

static void
drain(void)
{
	t_drain(D, 3);
}

static struct bulk_buffer *
vb(int d, struct bulk_pool *p)
{
	struct bulk_pool *v = bulk_domain_pool_lookup(D[d], bulk_pool_get_id(p));

	return v ? bulk_pool_buffer(v, 0) : NULL;
}

static void
show(const char *what, struct bulk_pool *p)
{
	printf("    %-26s", what);
	for (int d = 0; d < 3; d++) {
		struct bulk_buffer *b = vb(d, p);

		printf(" %c:%s in %d out %d", 'A' + d,
		       bulk_buffer_state_name(b ? b->state : BULK_BUFFER_INVALID),
		       b ? b->copies_in : 0, b ? (int)b->copies_out : 0);
	}
	printf("\n");
}

/* Algorithm 2 on the library's views of buffer 0 of @p p. */
static void
check_invariants(struct bulk_pool *p)
{
	int owners = 0, owner_rw = 0, sum_in = 0, sum_out = 0;

	for (int d = 0; d < 3; d++) {
		struct bulk_buffer *b = vb(d, p);

		if (b == NULL)
			continue;
		if (bulk_buffer_is_owner(b)) {
			owners++;
			owner_rw = b->state == BULK_BUFFER_READ_WRITE;
		}
		if (b->copies_out > 0)
			CHECK(bulk_buffer_is_readable(b));
		sum_in += b->copies_in;
		sum_out += (int)b->copies_out;
	}
	CHECK_EQ_INT(owners, 1);
	CHECK_EQ_INT(sum_in, sum_out);
	/* Invariant 2: the owner is READ_WRITE iff nobody holds a copy. */
	CHECK_EQ_INT(owner_rw, sum_in == 0);
}

static void
connect(int src, int sink, struct bulk_endpoint **ep, struct bulk_channel **tx,
	struct bulk_channel **rx)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX };

	t_connect(D[src], D[sink], &cp, NULL, NULL, ep, tx, rx);
}

static void
test_cycle(void)
{
	struct bulk_pool_params pp = { .count = 1, .buffer_size = 4096 };
	struct bulk_endpoint *ep[3];
	struct bulk_channel *ca_c, *ca_a, *ab_a, *ab_b, *ba_b, *ba_a;
	struct bulk_channel *rx[3];
	struct bulk_pool *P;
	struct bulk_buffer *b;
	int rc, progress;

	connect(2, 0, &ep[0], &ca_c, &ca_a);
	connect(0, 1, &ep[1], &ab_a, &ab_b);
	connect(1, 0, &ep[2], &ba_b, &ba_a);
	CHECK_RC(bulk_pool_alloc(D[2], &pp, &P), 0);
	b = bulk_pool_get(P);
	CHECK(b != NULL);
	CHECK_RC(bulk_channel_assign_pool(ca_c, P, BULK_CONT_NONE), 0);
	drain();
	CHECK(vb(0, P) != NULL);
	CHECK_RC(bulk_channel_assign_pool(ab_a, vb(0, P)->pool, BULK_CONT_NONE), 0);
	CHECK_RC(bulk_channel_assign_pool(ba_a, vb(0, P)->pool, BULK_CONT_NONE), 0);
	drain();

	CHECK_RC(bulk_channel_copy(ca_c, b, 0, NULL, BULK_CONT_NONE), 0);
	drain();
	CHECK_RC(bulk_channel_copy(ab_a, vb(0, P), 0, NULL, BULK_CONT_NONE), 0);
	drain();
	check_invariants(P);
	/* Back into A, which holds a copy already: allowed or refused, both fine. */
	rc = bulk_channel_copy(ba_b, vb(1, P), 0, NULL, BULK_CONT_NONE);
	CHECK(rc == 0 || rc <= -BULK_EBASE);
	drain();
	check_invariants(P);
	show("after the copies:", P);
	/* A releases its copy from the owner: allowed only if nothing is cut off. */
	rc = bulk_channel_release(ca_a, vb(0, P), BULK_CONT_NONE);
	printf("    A releases C's copy: %s\n", rc == 0 ? "done" : bulk_strerror(rc));
	CHECK(rc == 0 || rc == -BULK_E_COPY_REACHABILITY);
	drain();
	show("after that release:", P);
	check_invariants(P);

	/* Every copy can still be released, in some order. */
	rx[0] = ca_a;
	rx[1] = ab_b;
	rx[2] = ba_a;
	do {
		progress = 0;
		for (int i = 0; i < 3; i++) {
			int d = i == 1 ? 1 : 0;
			struct bulk_buffer *x = vb(d, P);

			if (x == NULL || x->copies_in == 0)
				continue;
			if (bulk_channel_release(rx[i], x, BULK_CONT_NONE) == 0) {
				progress = 1;
				drain();
				check_invariants(P);
			}
		}
	} while (progress);
	show("after releasing all:", P);
	CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(b->copies_out, 0);
	CHECK(vb(0, P) == NULL || vb(0, P)->state == BULK_BUFFER_INVALID);
	CHECK(vb(1, P) == NULL || vb(1, P)->state == BULK_BUFFER_INVALID);

	/* And the owner's move is delivered, not dropped. */
	CHECK_RC(bulk_channel_move(ca_c, b, 0, NULL, BULK_CONT_NONE), 0);
	drain();
	CHECK_EQ_INT(vb(0, P)->state, BULK_BUFFER_READ_WRITE);
	CHECK_RC(bulk_channel_pass(ca_a, vb(0, P), 0, NULL, BULK_CONT_NONE), 0);
	drain();
	CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);

	t_disconnect(D[2], D[0], ep[0], ca_c, ca_a);
	t_disconnect(D[0], D[1], ep[1], ab_a, ab_b);
	t_disconnect(D[1], D[0], ep[2], ba_b, ba_a);
	for (int d = 0; d < 2; d++)
		if (vb(d, P) != NULL)
			CHECK_RC(bulk_pool_free(vb(d, P)->pool), 0);
	CHECK_RC(bulk_pool_put(b), 0);
	CHECK_RC(bulk_pool_free(P), 0);
	printf("  copy cycle between non-owners: invariants held, every copy released\n");
}

static void
test_teardown_with_copy(void)
{
	struct bulk_pool_params pp = { .count = 2, .buffer_size = 4096 };
	struct bulk_endpoint *ep;
	struct bulk_channel *ab_a, *ab_b;
	struct bulk_pool *P;
	struct bulk_buffer *b;

	connect(0, 1, &ep, &ab_a, &ab_b);
	CHECK_RC(bulk_pool_alloc(D[0], &pp, &P), 0);
	CHECK_RC(bulk_channel_assign_pool(ab_a, P, BULK_CONT_NONE), 0);
	drain();
	b = bulk_pool_get(P);
	CHECK_RC(bulk_channel_copy(ab_a, b, 0, NULL, BULK_CONT_NONE), 0);
	drain();
	CHECK_EQ_INT(b->state, BULK_BUFFER_RO_OWNED);
	/* Neither side may tear down while the copy is out: it could never
	 * be released over a closed channel. Nothing changes. */
	CHECK_RC(bulk_channel_destroy(ab_a, BULK_CONT_NONE), -BULK_E_BUFFER_COPIED);
	CHECK_RC(bulk_channel_destroy(ab_b, BULK_CONT_NONE), -BULK_E_BUFFER_COPIED);
	CHECK_EQ_INT(bulk_channel_state(ab_a), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(ab_b), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(b->state, BULK_BUFFER_RO_OWNED);
	CHECK(vb(1, P) != NULL && vb(1, P)->state == BULK_BUFFER_READ_ONLY);
	CHECK_RC(bulk_channel_release(ab_b, vb(1, P), BULK_CONT_NONE), 0);
	drain();
	t_disconnect(D[0], D[1], ep, ab_a, ab_b);
	show("after the teardown:", P);
	check_invariants(P);
	CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(b->copies_out, 0);
	CHECK(vb(1, P) == NULL || vb(1, P)->state == BULK_BUFFER_INVALID);
	if (vb(1, P) != NULL)
		CHECK_RC(bulk_pool_free(vb(1, P)->pool), 0);
	CHECK_RC(bulk_pool_put(b), 0);
	CHECK_RC(bulk_pool_free(P), 0);
	printf("  teardown refused while a copy is out; after the release it closes, pool freed\n");
}

/* B owns a buffer of A's pool after the channel is gone. */
static struct bulk_pool *
strand_all(struct bulk_pool **view)
{
	struct bulk_pool_params pp = { .count = 2, .buffer_size = 4096 };
	struct bulk_endpoint *ep;
	struct bulk_channel *ab_a, *ab_b;
	struct bulk_buffer *bufs[2];
	struct bulk_pool *P;

	connect(0, 1, &ep, &ab_a, &ab_b);
	CHECK_RC(bulk_pool_alloc(D[0], &pp, &P), 0);
	CHECK_RC(bulk_channel_assign_pool(ab_a, P, BULK_CONT_NONE), 0);
	drain();
	CHECK_RC(bulk_pool_get_burst(P, bufs, 2), 2);
	CHECK_RC(bulk_channel_move_burst(ab_a, bufs, NULL, NULL, 2, BULK_CONT_NONE), 2);
	drain();
	t_disconnect(D[0], D[1], ep, ab_a, ab_b);
	*view = bulk_domain_pool_lookup(D[1], bulk_pool_get_id(P));
	CHECK(*view != NULL);
	CHECK_EQ_INT(bulk_pool_buffer(*view, 0)->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(bulk_pool_buffer(P, 0)->state, BULK_BUFFER_INVALID);
	return P;
}

/* A new channel brings B's buffers home; then everything can go. */
static void
bring_home(struct bulk_pool *P, struct bulk_pool *view)
{
	struct bulk_endpoint *ep;
	struct bulk_channel *ab_a, *ab_b;
	struct bulk_buffer *bufs[2] = { bulk_pool_buffer(view, 0), bulk_pool_buffer(view, 1) };

	connect(0, 1, &ep, &ab_a, &ab_b);
	CHECK_RC(bulk_channel_assign_pool(ab_a, P, BULK_CONT_NONE), 0);
	drain();
	CHECK_RC(bulk_channel_pass_burst(ab_b, bufs, NULL, NULL, 2, BULK_CONT_NONE), 2);
	drain();
	t_disconnect(D[0], D[1], ep, ab_a, ab_b);
	view = bulk_domain_pool_lookup(D[1], bulk_pool_get_id(P));
	if (view != NULL)
		CHECK_RC(bulk_pool_free(view), 0);
	CHECK_RC(bulk_pool_free(P), 0);
}

static void
test_viewfree(void)
{
	struct bulk_pool *view, *P = strand_all(&view);

	CHECK_RC(bulk_pool_free(view), -BULK_E_POOL_IN_USE);
	bring_home(P, view);
	printf("  a received view that owns buffers is not freed under them\n");
}

/*
 * B gives up a view of A's pool that it still owns buffers of: refused while
 * the view is on a channel and for the allocator's own pool, done once it is
 * on none. A's buffers then have no way home: A's pool stays in use, so the
 * check runs in a child that leaves without cleaning up.
 */
static void
test_drop(void)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (pid == 0) {
		struct bulk_pool *view, *P = strand_all(&view);
		struct bulk_pool_id id = *bulk_pool_get_id(P);

		CHECK_RC(bulk_pool_drop(P), -BULK_E_POOL_IN_USE);
		CHECK_RC(bulk_pool_drop(NULL), -EINVAL);
		CHECK_RC(bulk_pool_free(view), -BULK_E_POOL_IN_USE);
		CHECK_RC(bulk_pool_drop(view), 0);
		CHECK(bulk_domain_pool_lookup(D[1], &id) == NULL);
		CHECK_RC(bulk_domain_destroy(D[1]), 0);
		CHECK_RC(bulk_pool_free(P), -BULK_E_POOL_IN_USE);
		fflush(stdout);
		_exit(0); /* a failed check exits 1 */
	}
	CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("  a received view on no channel can be given up with what it owns\n");
}

static void
test_destroy(void)
{
	struct bulk_pool *view, *P = strand_all(&view);

	CHECK_RC(bulk_pool_free(P), -BULK_E_POOL_IN_USE);
	CHECK_RC(bulk_domain_destroy(D[0]), -BULK_E_POOL_IN_USE);
	memset(bulk_pool_buffer(view, 1)->addr, 0x77, 4096); /* still mapped for B */
	bring_home(P, view);
	printf("  the allocator's domain is not destroyed while its buffers are away\n");
}

int
main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "all";

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_no_loss %s: nothing is lost\n", which);
	for (int d = 0; d < 3; d++) {
		char name[2] = { (char)('A' + d), 0 };

		CHECK_RC(bulk_domain_create(name, &D[d]), 0);
	}
	if (strcmp(which, "all") == 0 || strcmp(which, "teardown") == 0)
		test_teardown_with_copy();
	if (strcmp(which, "all") == 0 || strcmp(which, "cycle") == 0)
		test_cycle();
	if (strcmp(which, "all") == 0 || strcmp(which, "viewfree") == 0)
		test_viewfree();
	if (strcmp(which, "all") == 0 || strcmp(which, "destroy") == 0)
		test_destroy();
	if (strcmp(which, "all") == 0 || strcmp(which, "drop") == 0)
		test_drop();
	for (int d = 0; d < 3; d++)
		CHECK_RC(bulk_domain_destroy(D[d]), 0);
	return CHECK_DONE("test_no_loss");
}
