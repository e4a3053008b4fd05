/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bulk_core.h"

int
bulk_domain_create(const char *name, struct bulk_domain **out)
{
	struct bulk_domain *d;

	if (out == NULL)
		return -EINVAL;
	d = bulk_zalloc(sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	if (name != NULL)
		snprintf(d->name, sizeof(d->name), "%s", name);
	*out = d;
	return 0;
}

int
bulk_domain_destroy(struct bulk_domain *d)
{
	struct bulk_channel *ch;
	struct bulk_pool *p;

	if (d == NULL)
		return -EINVAL;
	for (ch = d->chans; ch != NULL; ch = ch->next)
		if (ch->state != BULK_STATE_CLOSED && ch->state != BULK_STATE_INITIALIZED)
			return -EBUSY;
	if (d->nendpoints > 0)
		return -EBUSY;
	/* Pools this domain allocated must be whole before their memory goes,
	 * and buffers it owns of pools it received must not vanish with it. */
	for (p = d->pools; p != NULL; p = p->next)
		for (uint32_t i = 0; i < p->count; i++) {
			uint8_t st = p->bufs[i].state;

			if (p->owns_memory ? st != BULK_BUFFER_READ_WRITE
					   : !p->orphan && (st == BULK_BUFFER_READ_WRITE ||
					      st == BULK_BUFFER_RO_OWNED || p->bufs[i].copies_out))
				return -BULK_E_POOL_IN_USE;
		}
	while (d->chans != NULL) {
		int rc = bulk_channel_free(d->chans);
		if (rc < 0)
			return rc;
	}
	while (d->pools != NULL)
		bulk_pool_view_destroy(d->pools);
	bulk_free(d);
	return 0;
}

int
bulk_domain_poll(struct bulk_domain *d, unsigned budget)
{
	struct bulk_channel *ch, *next;
	int total = 0;

	if (d == NULL)
		return -EINVAL;
	if (d->in_poll)
		return -EBUSY;
	/* Frees asked for by callbacks wait until the walk is over. */
	d->in_poll++;
	for (ch = d->chans; ch != NULL; ch = next) {
		int rc;

		next = ch->next;
		rc = bulk_channel_poll(ch, budget);
		if (rc > 0)
			total += rc;
	}
	d->in_poll--;
	bulk_domain_sweep(d);
	return total;
}

const char *
bulk_domain_name(const struct bulk_domain *d)
{
	return d ? d->name : "";
}

void
bulk_domain_pool_insert(struct bulk_domain *d, struct bulk_pool *p)
{
	p->next = d->pools;
	d->pools = p;
}

void
bulk_domain_pool_remove(struct bulk_domain *d, struct bulk_pool *p)
{
	struct bulk_pool **pp;

	for (pp = &d->pools; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
}

struct bulk_pool *
bulk_domain_pool_lookup(struct bulk_domain *d, const struct bulk_pool_id *id)
{
	struct bulk_pool *p;

	if (d == NULL || id == NULL)
		return NULL;
	for (p = d->pools; p != NULL; p = p->next)
		if (bulk_pool_id_equal(&p->id, id))
			return p;
	return NULL;
}

int
bulk_endpoint_free(struct bulk_endpoint *ep)
{
	if (ep == NULL)
		return -EINVAL;
	if (ep->chan != NULL)
		return -EBUSY;
	if (ep->dom != NULL && ep->dom->nendpoints > 0)
		ep->dom->nendpoints--;
	if (ep->ops != NULL && ep->ops->ep_free != NULL)
		ep->ops->ep_free(ep);
	else
		bulk_free(ep);
	return 0;
}
