/* weir_lwip_port.h - what the lwIP NO_SYS port offers the stack: init and the core owner. */
#ifndef WEIR_LWIP_PORT_H
#define WEIR_LWIP_PORT_H

#include <stdint.h>

/* Seeds LWIP_RAND and the ISN secret from platform entropy and makes the calling thread the one
 * allowed to enter lwIP. Returns 0 or WEIR_EIO. */
int weir__lwip_port_init(void);
/* Forgets the core owner (after the stack is closed). */
void weir__lwip_port_fini(void);
/* Panics unless called from the owner thread (LWIP_ASSERT_CORE_LOCKED). */
void weir__lwip_assert_core_locked(void);

#endif /* WEIR_LWIP_PORT_H */
