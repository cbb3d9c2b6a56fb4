/* weir_lwip_hooks.h - lwIP hooks implemented by weir (LWIP_HOOK_FILENAME). */
#ifndef WEIR_LWIP_HOOKS_H
#define WEIR_LWIP_HOOKS_H

#include "lwip/err.h"
#include "lwip/ip_addr.h"

#include <weir/compiler.h>

/* RFC 6528 initial sequence number: a 4 µs clock plus a keyed hash of the connection 4-tuple. */
u32_t weir__lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
			 u16_t remote_port);

/* SYN cookies (stack/patches/0010): a keyed hash of the 4-tuple, the peer's ISN and the cookie's
 * time slot and MSS index (platform/lwip/syncookie.c). */
u32_t weir__lwip_syncookie_hash(const ip_addr_t *local_ip, u16_t local_port,
				const ip_addr_t *remote_ip, u16_t remote_port, u32_t peer_isn,
				u32_t slot_mss);

/* Per-segment TCP hooks, set by the flow layer (flow/ is above platform/, so it registers
 * itself here instead of lwIP calling into it by name). Used for per-flow segment counters and
 * retransmission detection. */
struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
struct weir__lwip_tcp_hooks {
	void (*segment_in)(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p);
	void (*segment_out)(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p);
};
extern WEIR_PER_SHARD const struct weir__lwip_tcp_hooks *weir__lwip_tcp_hooks;

static inline err_t weir__lwip_hook_tcp_in(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p)
{
	if (weir__lwip_tcp_hooks != NULL)
		weir__lwip_tcp_hooks->segment_in(pcb, hdr, p);
	return ERR_OK;
}

static inline u32_t *weir__lwip_hook_tcp_out(struct pbuf *p, struct tcp_hdr *hdr,
					     const struct tcp_pcb *pcb, u32_t *opts)
{
	if (weir__lwip_tcp_hooks != NULL && pcb != NULL)
		weir__lwip_tcp_hooks->segment_out((struct tcp_pcb *)(uintptr_t)pcb, hdr, p);
	return opts;
}

/* Shards (stack/patches/0025): which ephemeral ports tcp_connect() may take for pcb. The stack
 * sets it, per thread, when its device steers flows to receive queues (a port is good when the
 * replies come to this stack's queue); NULL: any port. */
typedef int (*weir__lwip_port_ok_fn)(const struct tcp_pcb *pcb, u16_t port);
extern WEIR_PER_SHARD weir__lwip_port_ok_fn weir__lwip_connect_port_ok;

static inline int weir__lwip_hook_connect_port_ok(const struct tcp_pcb *pcb, u16_t port)
{
	return weir__lwip_connect_port_ok == NULL || weir__lwip_connect_port_ok(pcb, port);
}

#endif /* WEIR_LWIP_HOOKS_H */
