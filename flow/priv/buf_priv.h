/* buf_priv.h - received buffers (struct weir_buf) as TCP and UDP hand them out. */
#ifndef WEIR_FLOW_BUF_PRIV_H
#define WEIR_FLOW_BUF_PRIV_H

#include <stdint.h>

#include <weir/flow.h>

struct pbuf;

/* Buffers handed out and not yet released, in all flows and sockets (weir_tcp_get_stats). */
extern WEIR_PER_SHARD uint32_t weir__bufs_out;

/* Fills buf with the single pbuf p (p->len bytes at p->payload); buf owns p from then on, until
 * weir_buf_release(). */
void weir__buf_hand_out(struct weir_buf *buf, struct pbuf *p);

#endif /* WEIR_FLOW_BUF_PRIV_H */
