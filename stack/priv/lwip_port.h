/* lwip_port.h - what the lwIP NO_SYS port (stack/port/port.c) offers the stack: init and the
 * core owner. */
#ifndef WEIR_LWIP_PORT_H
#define WEIR_LWIP_PORT_H

#include <stdint.h>

/* Seeds LWIP_RAND and the ISN secret from platform entropy and makes the calling thread the one
 * allowed to enter lwIP (weir_stack_open, each time). Returns 0 or WEIR_EIO. */
int weir__lwip_port_init(void);
/* Forgets the core owner (weir_stack_close): the next stack may run on another thread. */
void weir__lwip_port_fini(void);
/* Panics unless called from the owner thread (LWIP_ASSERT_CORE_LOCKED). */
void weir__lwip_assert_core_locked(void);

#endif /* WEIR_LWIP_PORT_H */
