/* weir_lwip_hooks.h - lwIP hooks implemented by weir (LWIP_HOOK_FILENAME). */
#ifndef WEIR_LWIP_HOOKS_H
#define WEIR_LWIP_HOOKS_H

#include "lwip/ip_addr.h"

/* RFC 6528 initial sequence number: a 4 µs clock plus a keyed hash of the connection 4-tuple. */
u32_t weir__lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
			 u16_t remote_port);

#endif /* WEIR_LWIP_HOOKS_H */
