/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What only the core calls: the pieces of lib/bulk that its files share
 * and that no backend may use (backends see bulk_backend.h alone; users
 * see include/bulk/). Never installed.
 */
#ifndef BULK_CORE_H
#define BULK_CORE_H

#include "bulk_backend.h"

/* Continuations (cont.c). */
void bulk_cont_fire(struct bulk_cont *c, int err, struct bulk_channel *ch);
void bulk_core_fire_conts_all(struct bulk_channel *ch, int err);
int bulk_core_cont_reserve(struct bulk_channel *ch);
void bulk_core_cont_push(struct bulk_channel *ch, struct bulk_cont cont);

/** Queue a control message through the backend, counted in tx_msgs. */
int bulk_core_send_ctrl(struct bulk_channel *ch, enum bulk_msg_type type, uint16_t slot,
			int32_t status, struct bulk_pool *pool);

/* Received control messages, after bulk_core_rx_ctrl() checked the common
 * fields (ctrl.c): pool assignment (pool_assign.c), teardown (channel.c). */
void bulk_core_rx_pool_assign(struct bulk_channel *ch, uint16_t slot,
			      const struct bulk_pool_desc *d, const struct bulk_pool_mapper *m);
void bulk_core_rx_pool_assign_reply(struct bulk_channel *ch, uint16_t slot, int status);
void bulk_core_rx_pool_remove(struct bulk_channel *ch, uint16_t slot);
void bulk_core_rx_teardown(struct bulk_channel *ch);
void bulk_core_rx_teardown_ack(struct bulk_channel *ch);

/* Channel slots: which pool sits in which wire slot (pool_assign.c). */
void bulk_chan_slot_fail(struct bulk_channel *ch, uint16_t slot, int err);
void bulk_chan_slot_void_copies(struct bulk_chan_pool *cp);
uint64_t bulk_chan_slot_reclaim(struct bulk_chan_pool *cp);
void bulk_chan_slot_clear(struct bulk_channel *ch, uint16_t slot);
int bulk_chan_slot_fill(struct bulk_channel *ch, uint16_t slot, struct bulk_pool *p, bool mine);

/* Pool views and the domain pool list (pool.c, domain.c, xfer.c). */
void bulk_pool_id_new(struct bulk_pool_id *id);
uint32_t bulk_domain_mark_next(struct bulk_domain *d);
void bulk_domain_sweep(struct bulk_domain *d);
void bulk_pool_link_add(struct bulk_pool *p, struct bulk_channel *ch, uint16_t slot);
void bulk_pool_link_del(struct bulk_pool *p, struct bulk_channel *ch);
int bulk_pool_view_create(struct bulk_domain *d, const struct bulk_pool_desc *desc,
			  const struct bulk_pool_mapper *m, struct bulk_pool **out);
void bulk_pool_view_destroy(struct bulk_pool *p);
bool bulk_pool_view_holds_nothing(const struct bulk_pool *p);
void bulk_pool_view_maybe_drop(struct bulk_pool *p);
void bulk_domain_pool_insert(struct bulk_domain *d, struct bulk_pool *p);
void bulk_domain_pool_remove(struct bulk_domain *d, struct bulk_pool *p);

#endif /* BULK_CORE_H */
