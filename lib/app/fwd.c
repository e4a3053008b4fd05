/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hop forwarder (app_fwd.h): the same buffers move on down and pass
 * back up; pools are passed on down once assigned up.
 */
#include <string.h>

#include "app_fwd.h"

void
app_fwd_init(struct app_fwd *f, struct app_chan *up, struct app_chan *down)
{
	*f = (struct app_fwd){ .up = up, .down = down };
	up->fwd = f;
	down->fwd = f;
	/* Nothing can move on before the pool is assigned downstream. */
	down->hold = true;
}

/*
 * What arrived on @p from goes on through @p to, the same buffers: a
 * moved buffer is ours READ_WRITE, and so is one passed back. Each keeps
 * its meta, or gets @p fixed.
 */
static void
app_fwd_relay(struct app_chan *from, struct app_chan *to, const void *fixed,
	      struct bulk_buffer *const *bufs, const uint32_t *lens, const uint8_t *meta,
	      unsigned n)
{
	app_chan_count_rx(from, lens, n);
	for (unsigned i = 0; i < n; i++)
		app_chan_push(to, bufs[i], lens[i],
			      fixed != NULL ? fixed : meta + (size_t)i * from->q.meta_size);
}

void
app_fwd_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		const void *meta, unsigned n)
{
	struct app_chan *up = bulk_channel_user(ch);
	struct app_fwd *f = up->fwd;

	/* Once given up, straight back. */
	app_fwd_relay(up, f->bounce ? up : f->down, f->bounce ? f->bounce_meta : NULL, bufs, lens,
		      meta, n);
}

void
app_fwd_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		  const void *meta, unsigned n)
{
	struct app_chan *down = bulk_channel_user(ch);

	app_fwd_relay(down, down->fwd->up, NULL, bufs, lens, meta, n);
}

void
app_fwd_step(struct app_fwd *f)
{
	struct app_chan *d = f->down;
	int rc;

	if (f->bounce)
		return;
	if (d->started) {
		if (!d->fired)
			return;
		d->started = false;
		if (d->err != 0) {
			app_chan_error(d, "pool assignment downstream", d->err);
			return;
		}
		d->hold = false;
	}
	if (f->npending == 0)
		return;
	/* Buffers of the new pool cannot go on before the peer accepted it. */
	d->hold = true;
	rc = bulk_channel_assign_pool(d->ch, f->pending[0], app_chan_cont(d));
	f->npending--;
	memmove(&f->pending[0], &f->pending[1], f->npending * sizeof(f->pending[0]));
	if (rc < 0) {
		d->started = false;
		app_chan_error(d, "assign the pool downstream", rc);
	}
}

void
app_fwd_give_up(struct app_fwd *f, const void *meta, uint64_t timeout_ns)
{
	f->bounce = true;
	f->bounce_meta = meta;
	f->down->hold = true;
	/* What the queues hold is owned here, and goes home with the rest. */
	f->up->q.head = f->up->q.tail;
	f->down->q.head = f->down->q.tail;
	(void)app_chan_pass_home(f->up, meta, timeout_ns);
}
